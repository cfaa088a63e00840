// RFC 9457 problem details: every error response is application/problem+json.
// Validation errors carry an `errors` array naming each failing field as a JSON pointer.
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { Type } from '@sinclair/typebox';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export type FieldLocation = 'body' | 'query' | 'path' | 'header';

export interface FieldError {
  /** Where the field is: request body, query string, path parameters or headers. */
  readonly location: FieldLocation;
  /** JSON pointer (as a URI fragment, RFC 9457 §3) to the field, e.g. "#/email"; "#" is the whole. */
  readonly pointer: string;
  readonly detail: string;
}

export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail?: string;
  readonly instance?: string;
  readonly requestId?: string;
  readonly errors?: readonly FieldError[];
}

export interface ProblemInit {
  readonly type?: string;
  readonly title?: string;
  readonly detail?: string;
  readonly errors?: readonly FieldError[];
}

/** A domain error translated to HTTP. Returned by an ErrorMapper. */
export interface MappedProblem extends ProblemInit {
  readonly status: number;
}

export type ErrorMapper = (err: unknown) => MappedProblem | undefined;

export const FieldErrorSchema = Type.Object({
  location: Type.Union([
    Type.Literal('body'),
    Type.Literal('query'),
    Type.Literal('path'),
    Type.Literal('header'),
  ]),
  pointer: Type.String({ description: 'JSON pointer (URI fragment form) to the failing field' }),
  detail: Type.String(),
});

export const ProblemSchema = Type.Object(
  {
    type: Type.String({ description: 'problem type URI; about:blank for plain HTTP errors' }),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.Optional(Type.String()),
    instance: Type.Optional(Type.String({ description: 'the request target' })),
    requestId: Type.Optional(Type.String()),
    errors: Type.Optional(Type.Array(FieldErrorSchema)),
  },
  { $id: 'Problem', title: 'Problem', description: 'RFC 9457 problem details' },
);

/**
 * A status an operation can answer with a problem: a number, or '5xx' for "any server error"
 * (fault injection answers with the configured FAULT_ERROR_STATUS, any 5xx).
 */
export type ProblemStatus = number | '5xx';

/**
 * Errors every operation can answer although no handler sends them: 431 (request headers over
 * Node's 16 KiB, refused before routing), 500 (an unexpected error) and 503 (a request that
 * arrives on a kept-alive connection while the server is closing).
 */
export const ALWAYS_POSSIBLE: readonly ProblemStatus[] = [431, 500, 503];

/** What API routes (route kind 'api') add: injected faults, any 5xx. */
export const API_ROUTE_ERRORS: readonly ProblemStatus[] = [...ALWAYS_POSSIBLE, '5xx'];

/** Response schema entries for route definitions: documents problem+json error responses. */
export function problemResponses(
  ...statuses: (ProblemStatus | readonly ProblemStatus[])[]
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const status of statuses.flat()) {
    out[status] = {
      description:
        status === '5xx'
          ? 'Server error: an injected fault (FAULT_ERROR_STATUS) or another 5xx'
          : (STATUS_CODES[status] ?? 'Error'),
      content: { [PROBLEM_CONTENT_TYPE]: { schema: Type.Ref(ProblemSchema) } },
    };
  }
  return out;
}

export function makeProblem(request: FastifyRequest, status: number, init: ProblemInit): Problem {
  return {
    type: init.type ?? 'about:blank',
    title: init.title ?? STATUS_CODES[status] ?? 'Error',
    status,
    ...(init.detail !== undefined && { detail: init.detail }),
    instance: request.url.length > 2048 ? request.url.slice(0, 2048) : request.url,
    requestId: request.id,
    ...(init.errors !== undefined && { errors: init.errors }),
  };
}

/** Sends a problem response. The body is serialized here, so route response schemas don't apply. */
export function sendProblem(
  request: FastifyRequest,
  reply: FastifyReply,
  status: number,
  init: ProblemInit = {},
): FastifyReply {
  return reply
    .code(status)
    .type(PROBLEM_CONTENT_TYPE)
    .send(JSON.stringify(makeProblem(request, status, init)));
}

function escapePointerToken(token: string): string {
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}

interface AjvLikeError {
  readonly instancePath?: string;
  readonly keyword?: string;
  readonly message?: string;
  readonly params?: Record<string, unknown>;
  readonly parentSchema?: Record<string, unknown>;
}

/**
 * Schema annotation: what to say when a string does not match the schema's pattern, instead of
 * echoing the pattern (which can be long and full of invisible characters).
 */
export const PATTERN_DETAIL = 'x-pattern-detail';

const LOCATIONS: Record<string, FieldLocation> = {
  body: 'body',
  querystring: 'query',
  params: 'path',
  headers: 'header',
};

/** Turns ajv errors into RFC 9457 field errors. */
export function fieldErrors(
  validation: readonly AjvLikeError[],
  context: string | undefined,
): FieldError[] {
  const location = LOCATIONS[context ?? 'body'] ?? 'body';
  return validation.map((e) => {
    let pointer = e.instancePath ?? '';
    let detail = e.message ?? 'is invalid';
    const p = e.params ?? {};
    if (e.keyword === 'required' && typeof p.missingProperty === 'string') {
      pointer += `/${escapePointerToken(p.missingProperty)}`;
      detail = 'is required';
    } else if (e.keyword === 'additionalProperties' && typeof p.additionalProperty === 'string') {
      pointer += `/${escapePointerToken(p.additionalProperty)}`;
      detail = 'is not an allowed field';
    } else if (e.keyword === 'pattern' && typeof e.parentSchema?.[PATTERN_DETAIL] === 'string') {
      detail = e.parentSchema[PATTERN_DETAIL];
    }
    return { location, pointer: `#${pointer}`, detail };
  });
}

/**
 * The problem's detail for ajv errors: Fastify's "body/email must match format ..." text, except
 * that a pattern with a PATTERN_DETAIL is described rather than echoed.
 */
export function validationDetail(
  validation: readonly AjvLikeError[],
  context: string | undefined,
  fallback: string,
): string {
  if (!validation.some((e) => e.keyword === 'pattern' && e.parentSchema?.[PATTERN_DETAIL])) {
    return fallback;
  }
  const fields = fieldErrors(validation, context);
  return validation
    .map((e, i) =>
      e.keyword === 'pattern'
        ? `${context ?? 'body'}${e.instancePath ?? ''} ${fields[i]!.detail}`
        : `${context ?? 'body'}${e.instancePath ?? ''} ${e.message ?? 'is invalid'}`,
    )
    .join(', ');
}

function isFastifyError(err: unknown): err is FastifyError {
  return err instanceof Error;
}

interface RouteEntry {
  readonly pattern: RegExp;
  readonly methods: Set<string>;
}

function templateToRegExp(url: string): RegExp {
  const body = url
    .split('/')
    .map((seg) =>
      seg.startsWith(':')
        ? '[^/]*'
        : seg === '*'
          ? '.*'
          : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
    )
    .join('/');
  return new RegExp(`^${body}$`);
}

export interface ProblemHandlerOptions {
  readonly mappers: readonly ErrorMapper[];
}

/**
 * Installs the error handler (validation → 400, body limit → 413, media type → 415, mapped domain
 * errors, anything unexpected → 500 without internals) and the not-found handler (404, or 405 with
 * an Allow header when the path exists for other methods). Register before any route.
 */
export function registerProblemHandlers(app: FastifyInstance, opts: ProblemHandlerOptions): void {
  const routes = new Map<string, RouteEntry>();
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    let entry = routes.get(route.url);
    if (entry === undefined) {
      entry = { pattern: templateToRegExp(route.url), methods: new Set() };
      routes.set(route.url, entry);
    }
    for (const m of methods) entry.methods.add(m);
  });

  app.setErrorHandler((err: unknown, request, reply) => {
    for (const mapper of opts.mappers) {
      const mapped = mapper(err);
      if (mapped !== undefined) return sendProblem(request, reply, mapped.status, mapped);
    }
    if (isFastifyError(err) && err.validation !== undefined) {
      return sendProblem(request, reply, 400, {
        type: 'urn:gantry:problem:validation',
        title: 'Request validation failed',
        detail: validationDetail(err.validation, err.validationContext, err.message),
        errors: fieldErrors(err.validation, err.validationContext),
      });
    }
    const status = isFastifyError(err) ? err.statusCode : undefined;
    if (status !== undefined && status >= 400 && status < 500) {
      const message = err instanceof Error ? err.message : '';
      const detail =
        err instanceof SyntaxError ||
        (isFastifyError(err) && err.code === 'FST_ERR_CTP_INVALID_JSON_BODY')
          ? `malformed JSON body: ${message}`
          : message;
      return sendProblem(request, reply, status, { detail });
    }
    request.log.error({ err }, 'unhandled error');
    return sendProblem(request, reply, 500, { detail: 'internal error; see the server log' });
  });

  const unmatched = (request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const path = request.url.split('?', 1)[0] ?? '';
    const allowed = new Set<string>();
    for (const entry of routes.values()) {
      if (entry.pattern.test(path)) for (const m of entry.methods) allowed.add(m);
    }
    if (allowed.size > 0 && !allowed.has(request.method)) {
      const allow = [...allowed].sort().join(', ');
      void reply.header('allow', allow);
      return sendProblem(request, reply, 405, {
        detail: `${request.method} is not allowed on ${path}; allowed: ${allow}`,
      });
    }
    return sendProblem(request, reply, 404, { detail: `no route for ${request.method} ${path}` });
  };
  // Answer unmatched requests before their body is read: otherwise a method Fastify reads bodies
  // for gets a body error instead (QUERY without Content-Type was a 400, a text/plain one a 415).
  app.addHook('onRequest', (request, reply, done) => {
    if (request.is404) {
      void unmatched(request, reply);
      return;
    }
    done();
  });
  app.setNotFoundHandler(unmatched);
}

/** Problem JSON of a request refused by the HTTP parser, before Fastify saw it. */
export function clientErrorResponse(err: { code?: string }): string {
  const [status, detail] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'the request headers exceed 16 KiB']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'the request did not arrive in time']
        : [400, 'malformed HTTP request'];
  const title = STATUS_CODES[status] ?? 'Error';
  const requestId = randomUUID();
  const body = JSON.stringify({ type: 'about:blank', title, status, detail, requestId });
  return (
    `HTTP/1.1 ${status} ${title}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nX-Request-Id: ${requestId}\r\n` +
    `Connection: close\r\n\r\n${body}`
  );
}
