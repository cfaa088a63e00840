// Request bodies: JSON only (application/json and application/merge-patch+json), UTF-8 only,
// uncompressed only. The body is decoded strictly, so nothing is silently changed on the way in:
//   - bytes that are not UTF-8 are a 400, not U+FFFD replacement characters;
//   - a string holding a lone surrogate ("\ud800" escaped in the JSON text) is a 400 naming the
//     field, not a U+FFFD in the database;
//   - a "__proto__" or "constructor" key is an ordinary key, refused by the schemas like every
//     other unknown field (JSON.parse makes it an own property and never touches prototypes);
//   - a Content-Encoding other than identity (gzip, br, ...) is a 415 before the body is read.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

export const JSON_MEDIA_TYPES = ['application/json', 'application/merge-patch+json'] as const;

/** An error the problem handler turns into a 4xx problem; `validation` makes it a field error. */
export class BodyError extends Error {
  readonly statusCode: number;
  readonly validation?: { instancePath: string; message: string }[];
  readonly validationContext?: 'body';
  constructor(
    statusCode: number,
    message: string,
    validation?: { instancePath: string; message: string }[],
  ) {
    super(message);
    this.name = 'BodyError';
    this.statusCode = statusCode;
    if (validation !== undefined) {
      this.validation = validation;
      this.validationContext = 'body';
    }
  }
}

/** A UTF-16 code unit sequence that is not well-formed Unicode (Node 20 has no isWellFormed). */
export const LONE_SURROGATE =
  /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
/** An escaped surrogate in JSON text: the only way a decoded UTF-8 body can yield a lone one. */
const ESCAPED_SURROGATE = /\\u[dD][89abcdefABCDEF][0-9a-fA-F]{2}/;
const MAX_REPORTED = 10;

function pointerToken(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

/**
 * JSON pointers (without '#') of every string value or key holding a lone surrogate, at most
 * MAX_REPORTED. Iterative: a body of 30 000 nested arrays must not overflow the stack.
 */
export function loneSurrogatePointers(value: unknown): string[] {
  const found: string[] = [];
  const stack: [unknown, string][] = [[value, '']];
  while (stack.length > 0 && found.length < MAX_REPORTED) {
    const [v, path] = stack.pop()!;
    if (typeof v === 'string') {
      if (LONE_SURROGATE.test(v)) found.push(path);
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], `${path}/${i}`]);
    } else if (typeof v === 'object' && v !== null) {
      const entries = Object.entries(v as Record<string, unknown>);
      for (let i = entries.length - 1; i >= 0; i--) {
        const [key, child] = entries[i]!;
        const p = `${path}/${pointerToken(key)}`;
        if (LONE_SURROGATE.test(key)) found.push(p);
        else stack.push([child, p]);
      }
    }
  }
  return found;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** Parses a JSON request body strictly; throws BodyError. An empty body is no body. */
export function parseJsonBody(raw: Buffer): unknown {
  if (raw.length === 0) return undefined;
  let text: string;
  try {
    text = utf8.decode(raw); // also drops one leading byte order mark
  } catch {
    throw new BodyError(400, 'malformed JSON body: the body is not valid UTF-8');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new BodyError(400, `malformed JSON body: ${(err as Error).message}`);
  }
  if (ESCAPED_SURROGATE.test(text)) {
    const pointers = loneSurrogatePointers(value);
    if (pointers.length > 0) {
      const message =
        'contains a lone surrogate (an unpaired \\ud800-\\udfff escape): not a Unicode string';
      throw new BodyError(
        400,
        `body${pointers[0] || ''} ${message}`,
        pointers.map((instancePath) => ({ instancePath, message })),
      );
    }
  }
  return value;
}

/** Methods whose body Fastify never reads: a Content-Encoding on them is ignored, like the body. */
const BODYLESS = new Set(['GET', 'HEAD', 'TRACE']);

/** The content codings named by a Content-Encoding header other than identity, lower-cased. */
export function unsupportedCodings(header: string | string[] | undefined): string[] {
  if (header === undefined) return [];
  const list = Array.isArray(header) ? header.join(',') : header;
  return list
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '' && c !== 'identity');
}

function hasBody(request: FastifyRequest): boolean {
  const length = request.headers['content-length'];
  return (
    request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0')
  );
}

/** Replaces Fastify's JSON parser with the strict one and refuses compressed bodies with 415. */
export function registerBodyParsing(app: FastifyInstance): void {
  // JSON only: text/plain bodies get 415 instead of a confusing "body must be object".
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser(
    [...JSON_MEDIA_TYPES],
    { parseAs: 'buffer' },
    (_request: FastifyRequest, body: Buffer, done: (err: Error | null, body?: unknown) => void) => {
      let value: unknown;
      try {
        value = parseJsonBody(body);
      } catch (err) {
        done(err as Error);
        return;
      }
      done(null, value);
    },
  );

  app.addHook(
    'preParsing',
    (request: FastifyRequest, reply: FastifyReply, payload, done: (err: Error | null) => void) => {
      const codings = unsupportedCodings(request.headers['content-encoding']);
      if (codings.length === 0 || BODYLESS.has(request.method) || !hasBody(request)) {
        done(null);
        return;
      }
      // RFC 9110 §15.5.16: name the codings that would have been accepted.
      void reply.header('accept-encoding', 'identity');
      done(
        new BodyError(
          415,
          `Content-Encoding ${codings.join(', ')} is not supported: send the body uncompressed ` +
            '(identity)',
        ),
      );
    },
  );
}
