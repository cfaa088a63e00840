// Liveness (/healthz: the process answers) and readiness (/readyz: the database answers, we are
// not draining, and readiness has not been flipped off by FAULT_READY=false).
import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { ALWAYS_POSSIBLE, problemResponses, sendProblem } from '../http/problem.js';
import type { RuntimeState } from './runtime.js';

export interface HealthOptions {
  readonly state: RuntimeState;
  readonly ping: () => Promise<void>;
  readonly pingTimeoutMs?: number;
}

const StatusSchema = Type.Object(
  { status: Type.String(), checks: Type.Optional(Type.Record(Type.String(), Type.String())) },
  { additionalProperties: false },
);

async function pingWithin(ping: () => Promise<void>, ms: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`no answer within ${ms} ms`), ms);
  });
  try {
    return await Promise.race([
      ping().then(
        () => 'ok',
        (err: unknown) => (err instanceof Error ? err.message : String(err)),
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export function registerHealthRoutes(app: FastifyInstance, opts: HealthOptions): void {
  const config = { kind: 'ops' } as const;
  app.get(
    '/healthz',
    {
      config,
      schema: {
        tags: ['ops'],
        operationId: 'liveness',
        summary: 'Liveness: the process is up and serving HTTP',
        response: { 200: StatusSchema, ...problemResponses(ALWAYS_POSSIBLE) },
      },
    },
    () => ({ status: 'ok' }),
  );

  app.get(
    '/readyz',
    {
      config,
      schema: {
        tags: ['ops'],
        operationId: 'readiness',
        summary: 'Readiness: database reachable, not draining, not flipped by FAULT_READY',
        response: { 200: StatusSchema, ...problemResponses(503, ALWAYS_POSSIBLE) },
      },
    },
    async (request, reply) => {
      const reasons: string[] = [];
      if (opts.state.draining) reasons.push('draining for shutdown');
      if (!opts.state.faults.ready) reasons.push('readiness turned off by FAULT_READY=false');
      // While draining, skip the database round trip: the answer is no either way.
      const database = opts.state.draining
        ? 'skipped'
        : await pingWithin(opts.ping, opts.pingTimeoutMs ?? 1000);
      if (database !== 'ok' && database !== 'skipped') reasons.push(`database: ${database}`);
      if (reasons.length > 0) {
        return sendProblem(request, reply, 503, {
          type: 'urn:gantry:problem:not-ready',
          title: 'Not ready',
          detail: reasons.join('; '),
        });
      }
      return { status: 'ok', checks: { database } };
    },
  );
}
