// Fault injection for chaos and canary drills. Off by default; every knob is reloadable.
// Faults apply only to API routes (route config kind 'api'); ops routes (/healthz, /readyz,
// /metrics, /version, /openapi.json, /docs) are never faulted so probes and scrapes stay honest.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sendProblem } from '../http/problem.js';
import type { RouteKind } from '../http/route-kind.js';

const FAULTABLE: RouteKind = 'api';

export interface LatencyFault {
  readonly minMs: number;
  readonly maxMs: number;
}

export interface FaultConfig {
  /** Added latency (fixed when minMs === maxMs, else uniform random in [minMs, maxMs]). */
  readonly latency: LatencyFault | null;
  /** Share of requests (0..1) answered with errorStatus. */
  readonly errorRate: number;
  readonly errorStatus: number;
  /** Route templates faults are limited to; null means every API route. */
  readonly routes: ReadonlySet<string> | null;
  /** false flips /readyz to failing. */
  readonly ready: boolean;
}

export const NO_FAULTS: FaultConfig = Object.freeze({
  latency: null,
  errorRate: 0,
  errorStatus: 500,
  routes: null,
  ready: true,
});

export const MAX_FAULT_LATENCY_MS = 60_000;

function parseMs(text: string, what: string): number {
  if (!/^\d{1,6}$/.test(text)) {
    throw new Error(`${what} must be a whole number of milliseconds, got "${text}"`);
  }
  const n = Number(text);
  if (n > MAX_FAULT_LATENCY_MS) {
    throw new Error(`${what} must be at most ${MAX_FAULT_LATENCY_MS} ms, got ${n}`);
  }
  return n;
}

/** "" or "0" → none; "250" → fixed 250 ms; "100-300" → uniform random between 100 and 300 ms. */
export function parseFaultLatency(raw: string): LatencyFault | null {
  const text = raw.trim();
  if (text === '') return null;
  const range = /^(\d+)\s*-\s*(\d+)$/.exec(text);
  if (range) {
    const minMs = parseMs(range[1]!, 'latency range start');
    const maxMs = parseMs(range[2]!, 'latency range end');
    if (minMs > maxMs) {
      throw new Error(`latency range "${text}" is reversed: start must not exceed end`);
    }
    return maxMs === 0 ? null : { minMs, maxMs };
  }
  const ms = parseMs(text, 'latency');
  return ms === 0 ? null : { minMs: ms, maxMs: ms };
}

export function parseFaultErrorRate(raw: string): number {
  const text = raw.trim();
  if (text === '') return 0;
  const n = /^(\d+(\.\d*)?|\.\d+)$/.test(text) ? Number(text) : NaN;
  if (!(n >= 0 && n <= 1)) {
    throw new Error(`must be a number between 0 and 1 (share of requests), got "${text}"`);
  }
  return n;
}

export function parseFaultErrorStatus(raw: string): number {
  const text = raw.trim();
  if (text === '') return 500;
  if (!/^5\d\d$/.test(text)) {
    throw new Error(`must be an HTTP 5xx status such as 500 or 503, got "${text}"`);
  }
  return Number(text);
}

export function parseFaultRoutes(raw: string): ReadonlySet<string> | null {
  const parts = raw
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  if (parts.length === 0) return null;
  for (const p of parts) {
    if (!p.startsWith('/') || /\s/.test(p)) {
      throw new Error(
        `each entry must be a route template starting with "/" such as /api/users/:id, got "${p}"`,
      );
    }
  }
  return new Set(parts);
}

export function parseBoolean(raw: string, fallback: boolean): boolean {
  const text = raw.trim().toLowerCase();
  if (text === '') return fallback;
  if (['true', '1', 'yes', 'on'].includes(text)) return true;
  if (['false', '0', 'no', 'off'].includes(text)) return false;
  throw new Error(`must be true or false, got "${raw.trim()}"`);
}

export function faultsEnabled(f: FaultConfig): boolean {
  return f.latency !== null || f.errorRate > 0;
}

export function describeFaults(f: FaultConfig): Record<string, unknown> {
  return {
    latencyMs: f.latency === null ? 0 : `${f.latency.minMs}-${f.latency.maxMs}`,
    errorRate: f.errorRate,
    errorStatus: f.errorStatus,
    routes: f.routes === null ? 'all API routes' : [...f.routes],
    ready: f.ready,
  };
}

export interface FaultHookOptions {
  /** Read on every request so reloads apply without restart. */
  readonly faults: () => FaultConfig;
  readonly random?: () => number;
}

/**
 * Adds an onRequest hook that injects latency and errors on API routes. Callback-style, so a
 * request pays one function call and no promise when faults are off (the common case).
 */
export function registerFaultInjection(app: FastifyInstance, opts: FaultHookOptions): void {
  const random = opts.random ?? Math.random;
  app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    const f = opts.faults();
    if (
      !faultsEnabled(f) ||
      request.routeOptions.config.kind !== FAULTABLE ||
      (f.routes !== null && !f.routes.has(request.routeOptions.url ?? ''))
    ) {
      done();
      return;
    }
    const fail = f.errorRate > 0 && random() < f.errorRate;
    const proceed = (): void => {
      if (!fail) {
        done();
        return;
      }
      request.log.debug({ faultStatus: f.errorStatus }, 'injected fault');
      // Responding from a callback hook: send, and do not call done().
      void sendProblem(request, reply, f.errorStatus, {
        type: 'urn:gantry:problem:injected-fault',
        detail: 'fault injected by FAULT_ERROR_RATE',
      });
    };
    if (f.latency === null) proceed();
    else {
      const { minMs, maxMs } = f.latency;
      setTimeout(proceed, minMs + Math.floor(random() * (maxMs - minMs + 1)));
    }
  });
}
