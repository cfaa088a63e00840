// RFC 9457 problem details: every error response is application/problem+json.
// Validation errors carry an `errors` array naming each failing field as a JSON pointer.
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

/** Response schema entries for route definitions: documents problem+json error responses. */
export function problemResponses(...statuses: number[]): Record<number, unknown> {
  const out: Record<number, unknown> = {};
  for (const status of statuses) {
    out[status] = {
      description: STATUS_CODES[status] ?? 'Error',
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
}

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
    }
    return { location, pointer: `#${pointer}`, detail };
  });
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
        ? '[^/]+'
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
        detail: err.message,
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

  app.setNotFoundHandler((request, reply) => {
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
  });
}
