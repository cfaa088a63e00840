// RED metrics with prom-client: http_request_duration_seconds (histogram) and
// http_requests_total (counter), labelled method, route (the route template, never the raw URL,
// so cardinality stays bounded) and status_code; log_lines_total{level}, the lines the process's
// logger wrote (countLogLines, a pino hook); plus the default process and event-loop metrics.
import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { ALWAYS_POSSIBLE, problemResponses } from '../http/problem.js';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { LogFn, Logger } from 'pino';

/** Route label for requests that matched no route (404s, 405s). */
export const UNMATCHED_ROUTE = '__unmatched__';

export const DURATION_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

export interface MetricsOptions {
  readonly registry?: Registry;
  /** Process, GC, heap and event-loop-lag metrics. */
  readonly collectDefaults?: boolean;
}

type Labels = 'method' | 'route' | 'status_code';

/** pino's levels, each with a series from the start, so the first error is a rise from 0. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;

/**
 * Log lines the process wrote, by level. One counter for the process (its loggers write to one
 * stdout), exposed by every registry registerMetrics makes. The node's log agent counts the same
 * lines from the outside (gantry_log_lines_total); this one also works where no agent runs.
 */
export const logLines = new Counter<'level'>({
  name: 'log_lines_total',
  help: 'Log lines written, by level',
  labelNames: ['level'],
  registers: [],
});
for (const level of LOG_LEVELS) logLines.labels(level).inc(0);

/**
 * A pino `hooks.logMethod` that counts each line in `counter` by its level name. pino calls it
 * only for enabled levels, so it counts the lines written; child loggers (Fastify's request
 * loggers) inherit it.
 */
export function countLogLines(counter: Counter<'level'> = logLines) {
  const byLevel = new Map<number, { inc(): void }>();
  return function logMethod(
    this: Logger,
    args: Parameters<LogFn>,
    method: LogFn,
    level: number,
  ): void {
    let child = byLevel.get(level);
    if (child === undefined) {
      child = counter.labels(this.levels.labels[level] ?? String(level));
      byLevel.set(level, child);
    }
    child.inc();
    method.apply(this, args);
  };
}

export function registerMetrics(app: FastifyInstance, opts: MetricsOptions = {}): Registry {
  const registry = opts.registry ?? new Registry();
  if (opts.collectDefaults ?? true) collectDefaultMetrics({ register: registry });
  if (registry.getSingleMetric('log_lines_total') === undefined) registry.registerMetric(logLines);
  const duration = new Histogram<Labels>({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration in seconds, by method, route template and status code',
    labelNames: ['method', 'route', 'status_code'],
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const total = new Counter<Labels>({
    name: 'http_requests_total',
    help: 'HTTP requests answered, by method, route template and status code',
    labelNames: ['method', 'route', 'status_code'],
    registers: [registry],
  });

  // Bound children per label set: looking labels up once keeps the hot path to two increments.
  const children = new Map<string, { h: { observe(v: number): void }; c: { inc(): void } }>();
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? UNMATCHED_ROUTE;
    const key = `${request.method} ${reply.statusCode} ${route}`;
    let child = children.get(key);
    if (child === undefined) {
      const labels = { method: request.method, route, status_code: String(reply.statusCode) };
      child = { h: duration.labels(labels), c: total.labels(labels) };
      children.set(key, child);
    }
    child.h.observe(reply.elapsedTime / 1000);
    child.c.inc();
    done();
  });

  app.get(
    '/metrics',
    {
      config: { kind: 'ops' },
      schema: {
        tags: ['ops'],
        operationId: 'metrics',
        summary: 'Prometheus metrics (text exposition format)',
        produces: ['text/plain'],
        response: {
          200: {
            description: 'Prometheus text format',
            content: { 'text/plain': { schema: Type.String() } },
          },
          ...problemResponses(ALWAYS_POSSIBLE),
        },
      },
    },
    async (_request, reply) => {
      const body = await registry.metrics();
      return reply.type(registry.contentType).send(body);
    },
  );
  return registry;
}
