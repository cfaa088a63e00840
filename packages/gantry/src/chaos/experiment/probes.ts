// Steady-state probes: one evaluation each, bounded by a timeout, never throwing
// (a probe that cannot be evaluated has failed, with the reason).
//   ready   the Deployment has at least as many ready replicas as it had when the
//           experiment began (so scaling it to zero does not pass for "all ready")
//   promql  the query's first value within [min, max] (no sample: failed)
//   http    GET a loopback URL: the expected status within maxLatency
import http from 'node:http';
import type { V1Deployment } from '@kubernetes/client-node';
import { Prometheus } from '../../analysis/prometheus.js';
import type { Kube } from '../../kube/client.js';
import type { ServiceSpec } from '../../spec/index.js';
import type { HttpProbe, Probe, PromqlProbe } from './types.js';

export interface ProbeResult {
  ok: boolean;
  /** The measured value: ready replicas, the query's value, the latency in ms. */
  value?: number;
  /** What was seen, one line. */
  message: string;
  /** When it was evaluated (ms since the epoch) and how long it took. */
  at: number;
  ms: number;
}

export interface ProbeEnv {
  kube: Kube;
  spec: ServiceSpec;
  /** Replicas of the Deployment when the experiment began (ready probes). */
  baselineReplicas: number;
  prometheusUrl: string;
}

export async function readDeployment(
  kube: Kube,
  spec: ServiceSpec,
): Promise<V1Deployment | undefined> {
  return kube.get<V1Deployment>({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: spec.name, namespace: spec.namespace },
  });
}

export async function evaluateProbe(probe: Probe, env: ProbeEnv): Promise<ProbeResult> {
  const at = Date.now();
  const done = (ok: boolean, message: string, value?: number): ProbeResult => ({
    ok,
    message,
    at,
    ms: Date.now() - at,
    ...(value !== undefined && Number.isFinite(value) ? { value } : {}),
  });
  try {
    switch (probe.kind) {
      case 'ready': {
        const d = await readDeployment(env.kube, env.spec);
        if (!d) return done(false, `${env.spec.namespace}/${env.spec.name} has no Deployment`, 0);
        const ready = d.status?.readyReplicas ?? 0;
        const want = Math.max(env.baselineReplicas, 1);
        return done(ready >= want, `${ready}/${want} replicas ready`, ready);
      }
      case 'promql':
        return await promql(probe, env, done);
      case 'http':
        return await get(probe, done);
    }
  } catch (err) {
    return done(false, err instanceof Error ? err.message : String(err));
  }
}

async function promql(
  probe: PromqlProbe,
  env: ProbeEnv,
  done: (ok: boolean, message: string, value?: number) => ProbeResult,
): Promise<ProbeResult> {
  const prom = new Prometheus(probe.prometheus ?? env.prometheusUrl, {
    timeoutMs: Math.min(probe.intervalMs, 5000),
  });
  const [first] = await prom.query(probe.query);
  if (!first)
    return done(false, 'the query returned no sample (add "or vector(0)" if none means 0)');
  const v = first.value;
  const low = probe.min !== undefined && !(v >= probe.min);
  const high = probe.max !== undefined && !(v <= probe.max);
  const range = `[${probe.min ?? '-inf'}, ${probe.max ?? '+inf'}]`;
  return done(!low && !high, `${fmt(v)} ${low || high ? 'outside' : 'within'} ${range}`, v);
}

function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toPrecision(4);
}

function get(
  probe: HttpProbe,
  done: (ok: boolean, message: string, value?: number) => ProbeResult,
): Promise<ProbeResult> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const req = http.get(
      probe.url,
      { headers: probe.host ? { host: probe.host } : {}, timeout: probe.timeoutMs, agent: false },
      (res) => {
        res.resume();
        res.on('end', () => {
          const ms = Math.round(performance.now() - t0);
          const status = res.statusCode ?? 0;
          if (status !== probe.status) {
            resolve(done(false, `HTTP ${status} (expected ${probe.status}) in ${ms} ms`, ms));
          } else if (probe.maxLatencyMs !== undefined && ms > probe.maxLatencyMs) {
            resolve(
              done(false, `HTTP ${status} in ${ms} ms, slower than ${probe.maxLatencyMs} ms`, ms),
            );
          } else resolve(done(true, `HTTP ${status} in ${ms} ms`, ms));
        });
        res.on('error', (err) => resolve(done(false, `response: ${err.message}`)));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${probe.timeoutMs} ms`)));
    req.on('error', (err) => resolve(done(false, err.message)));
  });
}
