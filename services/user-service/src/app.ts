// Builds the Fastify application from injected dependencies. main.ts wires real ones; tests
// wire their own (in-memory SQLite, a PostgreSQL schema, fixed random, silent logger).
import Fastify, { LogController } from 'fastify';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import pino from 'pino';
import type { Registry } from 'prom-client';
import { registerBodyParsing } from './http/body.js';
import {
  ALWAYS_POSSIBLE,
  ProblemSchema,
  clientErrorResponse,
  problemResponses,
  registerProblemHandlers,
  sendProblem,
} from './http/problem.js';
import { requestIdFrom } from './http/request-id.js';
import type { RouteKind } from './http/route-kind.js';
import { createValidatorCompiler } from './http/validation.js';
import { registerFaultInjection } from './ops/faults.js';
import { registerHealthRoutes } from './ops/health.js';
import { registerMetrics } from './ops/metrics.js';
import type { MetricsOptions } from './ops/metrics.js';
import { RuntimeState } from './ops/runtime.js';
import { registerVersionRoute } from './ops/version.js';
import type { BuildInfo } from './ops/version.js';
import { mapUserErrors } from './users/errors.js';
import type { UserRepository } from './users/repository.js';
import { userRoutes } from './users/routes.js';
import { UserService } from './users/service.js';

export const DEFAULT_BODY_LIMIT = 64 * 1024;

export interface AppDeps {
  readonly repository: UserRepository;
  /** A pino logger; silent when omitted. */
  readonly logger?: FastifyBaseLogger;
  readonly state?: RuntimeState;
  readonly buildInfo?: BuildInfo;
  readonly bodyLimit?: number;
  readonly metrics?: MetricsOptions;
  /** Random source for fault injection (tests make it deterministic). */
  readonly random?: () => number;
}

export interface App {
  readonly server: FastifyInstance;
  readonly state: RuntimeState;
  readonly registry: Registry;
  /** Changes the log level of the app's logger and of every request logger made after. */
  setLogLevel(level: string): void;
}

/** Paths of routes left out of the OpenAPI document: the Swagger UI's own assets. */
function isDocsAsset(url: string): boolean {
  return url === '/docs' || url.startsWith('/docs/');
}

export async function buildApp(deps: AppDeps): Promise<App> {
  const state = deps.state ?? new RuntimeState();
  const buildInfo = deps.buildInfo ?? { version: '0.0.0', gitSha: 'unknown', buildTime: 'unknown' };
  const server = Fastify({
    loggerInstance: deps.logger ?? pino({ level: 'silent' }),
    // One access line per request, written in onResponse below, instead of fastify's two.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'reqId' }),
    genReqId: requestIdFrom,
    bodyLimit: deps.bodyLimit ?? DEFAULT_BODY_LIMIT,
    // Requests arriving on a kept-alive connection while closing get a 503 problem from the
    // onRequest hook below, instead of Fastify's own non-problem JSON.
    return503OnClosing: false,
    // Requests the HTTP parser refuses (headers over 16 KiB, malformed) get problem+json too.
    clientErrorHandler: (err: NodeJS.ErrnoException, socket) => {
      if (err.code === 'ECONNRESET' || socket.destroyed) return;
      if (socket.writable) socket.write(clientErrorResponse(err));
      socket.destroy(err);
    },
    routerOptions: { maxParamLength: 200 },
    // Unparseable URLs (bad percent-encoding, over-long parameters) get problem+json too.
    frameworkErrors: (error, request, reply) => {
      void reply.header('x-request-id', request.id);
      const status =
        error.statusCode !== undefined && error.statusCode < 500 ? error.statusCode : 400;
      void sendProblem(request, reply, status, { detail: error.message });
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  // The OpenAPI collector sees only routes added after it: register it first.
  await server.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'user-service',
        version: buildInfo.version,
        description:
          'Reference microservice shipped by Gantry: a users REST API. ' +
          'Errors are RFC 9457 problem details (application/problem+json).',
      },
      tags: [
        { name: 'users', description: 'the users resource' },
        { name: 'ops', description: 'probes, metrics, build metadata, API description' },
      ],
    },
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) =>
        typeof json.$id === 'string' ? json.$id : `def-${i}`,
    },
    transform: ({ schema, url, route }) =>
      isDocsAsset(url) ? { schema: { ...schema, hide: true }, url } : { schema, url, route },
  });

  // x-app-version tells a client (and a canary drill) which version answered. Registered before
  // every other onRequest hook, so the 404/405 answers of registerProblemHandlers carry both.
  let closing = false;
  server.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  server.addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id);
    void reply.header('x-app-version', buildInfo.version);
    if (closing) {
      void reply.header('connection', 'close');
      void sendProblem(request, reply, 503, { detail: 'shutting down; retry the request' });
      return;
    }
    done();
  });

  // Before the Swagger UI's routes, so /docs gets problem answers and 405s like every route.
  server.setValidatorCompiler(createValidatorCompiler());
  server.addSchema(ProblemSchema);
  registerProblemHandlers(server, { mappers: [mapUserErrors] });
  registerBodyParsing(server);
  await server.register(swaggerUi, { routePrefix: '/docs' });
  server.addHook('onResponse', (request, reply, done) => {
    const kind: RouteKind | undefined = request.routeOptions.config.kind;
    const line = {
      method: request.method,
      url: request.url,
      route: request.routeOptions.url,
      statusCode: reply.statusCode,
      durationMs: Math.round(reply.elapsedTime * 100) / 100,
    };
    if (kind === 'ops') request.log.debug(line, 'request completed');
    else request.log.info(line, 'request completed');
    done();
  });

  const registry = registerMetrics(server, deps.metrics);
  registerFaultInjection(server, {
    faults: () => state.faults,
    ...(deps.random && { random: deps.random }),
  });

  const ops = { kind: 'ops' } as const;
  server.get(
    '/openapi.json',
    {
      config: ops,
      schema: {
        tags: ['ops'],
        operationId: 'openapi',
        summary: 'This OpenAPI 3 document',
        response: {
          200: Type.Object({}, { additionalProperties: true }),
          ...problemResponses(ALWAYS_POSSIBLE),
        },
      },
    },
    () => server.swagger(),
  );
  registerHealthRoutes(server, { state, ping: () => deps.repository.ping() });
  registerVersionRoute(server, buildInfo);

  await server.register(userRoutes, {
    prefix: '/api/users',
    service: new UserService(deps.repository),
  });

  await server.ready();
  // Fastify logs through a child of the given logger, so set the level on both.
  const setLogLevel = (level: string): void => {
    if (deps.logger) deps.logger.level = level;
    server.log.level = level;
  };
  return { server, state, registry, setLogLevel };
}
