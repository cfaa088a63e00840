// Probes and scrapes are not user traffic: with a spec that says nothing about analysis,
// the judge's counts and the alerts leave the spec's probe and metrics routes out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  analysisFor,
  excludedRoutes,
  judge,
  measureFromTicks,
  trackQueries,
} from '../../src/analysis/index.js';
import type { Measurement, Tick, TrackSample } from '../../src/analysis/index.js';
import { requestSelectors } from '../../src/monitor/index.js';
import { parseSpec } from '../../src/spec/index.js';

const spec = (extra = '') =>
  parseSpec(
    `apiVersion: gantry.dev/v1alpha1
name: shop
namespace: web
image: example/shop:1
probes:
  liveness: { path: /healthz }
  readiness: { path: /ready.z }
metrics: {}
${extra}`,
    'gantry.yaml',
  );

test('the default exclusion: the probe paths and the metrics path, as regex literals', () => {
  assert.deepEqual(excludedRoutes(spec()), ['/healthz', '/ready.z', '/metrics']);
  const q = trackQueries(analysisFor(spec()), { namespace: 'web', service: 'shop' }, 'canary');
  assert.match(q.requests, /,route!~"\/healthz\|\/ready\\\\.z\|\/metrics"\}\)$/);
  assert.match(q.errors, /route!~"\/healthz\|\/ready\\\\.z\|\/metrics",status_code=~"5\.\."/);
  assert.match(q.buckets, /route!~"\/healthz/);
  assert.ok(q.excluded);
  assert.match(q.excluded(60), /route=~"\/healthz\|\/ready\\\\.z\|\/metrics"\}\[60s\]\)\)$/);
  // The alerts select the same requests.
  const { sel, errSel } = requestSelectors(spec());
  assert.match(sel, /route!~"\/healthz\|\/ready\\\\.z\|\/metrics"/);
  assert.match(errSel, /route!~"\/healthz.*status_code=~"5\.\."/);
});

test('exclude and routeLabel in the spec replace the default; an empty list excludes nothing', () => {
  const own = spec(`release:
  analysis:
    requests: { exclude: [/internal/status], routeLabel: handler }
`);
  assert.match(requestSelectors(own).sel, /handler!~"\/internal\/status"/);
  const none = spec(`release:
  analysis:
    requests: { exclude: [] }
`);
  assert.doesNotMatch(requestSelectors(none).sel, /!~/);
  const q = trackQueries(analysisFor(none), { namespace: 'web', service: 'shop' }, 'canary');
  assert.equal(q.excluded, undefined);
});

/** The found case: at a 1% step a canary failing 2.2% of its real requests. */
function counts(requests: number, errors: number): TrackSample {
  return { requests, errors, buckets: {} };
}

test('probe traffic does not change a verdict: the judge sees the real requests, and says what it left out', () => {
  const a = analysisFor(spec());
  // 10 minutes at 1 real canary request a second and 3 probes/scrapes a second, 2.2% of the
  // real ones failing; stable clean.
  const ticks: Tick[] = [];
  for (let s = 0; s <= 600; s++) {
    ticks.push({
      t: 1_700_000_000 + s,
      stable: counts(s * 100, 0),
      canary: counts(s, Math.floor(s * 0.022)),
    });
  }
  const step = { elapsedSeconds: 0, minSeconds: 15, maxSeconds: 300 };
  let real: ReturnType<typeof judge> | undefined;
  for (let s = 1; s <= 600; s++) {
    const m: Measurement = measureFromTicks(ticks, ticks[0]!.t, ticks[0]!.t + s, a);
    m.canary.excluded = 3 * s;
    m.stable.excluded = 3 * s;
    real = judge(m, a, { ...step, elapsedSeconds: s });
    if (real.verdict !== 'continue') break;
  }
  assert.equal(real?.verdict, 'abort', real?.summary);
  assert.match(
    real.summary,
    /left out \d+ canary and \d+ stable requests to \/healthz, \/ready\.z, \/metrics \(not user traffic\)$/,
  );
});
