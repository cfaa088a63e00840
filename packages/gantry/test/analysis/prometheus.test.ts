// The Prometheus client and measure()/recordTicks() against the local cluster's real
// Prometheus. The cluster's Prometheus only scrapes pods and itself, so the test makes
// real traffic against Prometheus' own HTTP API and measures that: two rarely used
// handlers stand in for the tracks (stable: /api/v1/parse_query; canary:
// /api/v1/format_query, with some bad queries answered 400), read from
// prometheus_http_requests_total{code} and prometheus_http_request_duration_seconds.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  Prometheus,
  PrometheusError,
  judge,
  measure,
  recordTicks,
} from '../../src/analysis/index.js';
import type { Target } from '../../src/analysis/index.js';
import { eventually, requireCluster } from '../../../../hack/cluster/test/cluster-env.js';
import { analysisSpec } from './sim.js';

const cluster = requireCluster();
const skip = typeof cluster === 'string' ? cluster : false;
let prom: Prometheus;

before(() => {
  if (typeof cluster !== 'string') prom = new Prometheus(cluster.PROMETHEUS_URL);
});

test('an unreachable Prometheus is a clear PrometheusError', async () => {
  const dead = new Prometheus('http://127.0.0.1:9', { timeoutMs: 3000 });
  await assert.rejects(dead.query('up'), (err: unknown) => {
    assert.ok(err instanceof PrometheusError);
    assert.equal(err.kind, 'unreachable');
    assert.match(err.message, /^Prometheus at http:\/\/127\.0\.0\.1:9 is unreachable \(/);
    assert.match(err.message, /GANTRY_PROMETHEUS_URL/);
    return true;
  });
});

test('query: up of Prometheus itself is 1', { skip }, async () => {
  const up = await prom.query('up{job="prometheus"}');
  assert.equal(up.length, 1);
  assert.equal(up[0]?.labels.job, 'prometheus');
  assert.equal(up[0]?.value, 1);
  const scalar = await prom.query('scalar(vector(2))');
  assert.deepEqual(scalar, [{ labels: {}, value: 2 }]);
});

test('a bad query is a PrometheusError with Prometheus own message', { skip }, async () => {
  await assert.rejects(prom.query('sum(rate(up[1m])'), (err: unknown) => {
    assert.ok(err instanceof PrometheusError);
    assert.equal(err.kind, 'query');
    assert.equal(err.query, 'sum(rate(up[1m])');
    assert.match(
      err.message,
      /^Prometheus rejected the query "sum\(rate\(up\[1m\]\)" \(HTTP 400\): bad_data: .*parse error/,
    );
    return true;
  });
  await assert.rejects(prom.query('up[1m]'), /returned a range vector/);
});

test('measure() and recordTicks() count real traffic from real series', { skip }, async () => {
  assert.ok(typeof cluster !== 'string');
  const base = cluster.PROMETHEUS_URL.replace(/\/+$/, '');
  const spec = analysisSpec({
    requests: {
      metric: 'prometheus_http_requests_total',
      statusLabel: 'code',
      errorStatus: '4..|5..',
      selector: 'job="prometheus"',
    },
    latency: { metric: 'prometheus_http_request_duration_seconds' },
    guardRails: { maxErrorRate: 0.2, minRequests: 10 },
    queries: [
      {
        name: 'track-substituted',
        query: 'vector(1) + 0 * count(up{job="prometheus", instance!="$track"})',
        max: 0.5,
      },
    ],
  });
  const target: Target = {
    namespace: 'unused',
    service: 'unused',
    selectors: {
      stable: 'handler="/api/v1/parse_query"',
      canary: 'handler="/api/v1/format_query"',
    },
  };

  const get = async (path: string, q: string) => {
    const res = await fetch(`${base}${path}?query=${encodeURIComponent(q)}`);
    await res.text();
    return res.status;
  };
  const scrapedAfter = (label: string, t: number) =>
    eventually(label, 20_000, async () => {
      const ts = await prom.query('timestamp(up{job="prometheus"})');
      return (ts[0]?.value ?? 0) > t ? true : undefined;
    });
  // Prometheus counting itself: when it restarted a moment ago (CI starts the cluster),
  // its store still holds the last incarnation's values, and a first scrape whose new
  // counts happen to be no lower than the old ones cannot be told from growth (the same
  // limit rate() has). Give every series the test reads a sample of this incarnation
  // before the range starts: one good and one bad query to each handler, then a scrape.
  for (const path of ['/api/v1/parse_query', '/api/v1/format_query']) {
    await get(path, 'sum(up)');
    await get(path, 'sum(up');
  }
  await scrapedAfter('a scrape before the range', Date.now() / 1000);

  const since = new Date();
  const statuses: number[] = [];
  for (let i = 0; i < 15; i++) statuses.push(await get('/api/v1/parse_query', 'sum(up)'));
  for (let i = 0; i < 12; i++) statuses.push(await get('/api/v1/format_query', 'sum(up)'));
  for (let i = 0; i < 8; i++) statuses.push(await get('/api/v1/format_query', 'sum(up'));
  assert.deepEqual(
    statuses.filter((s) => s === 400).length,
    8,
    'the bad queries are answered 400 and the others 200',
  );
  const trafficEnd = Date.now() / 1000;
  await scrapedAfter('a scrape after the traffic', trafficEnd);
  // A whole number of seconds after since, so recordTicks' 1 s grid ends on it.
  const now = new Date(since.getTime() + Math.ceil((Date.now() - since.getTime()) / 1000) * 1000);
  await sleep(Math.max(0, now.getTime() - Date.now()));

  const m = await measure(prom, target, spec, { since, now });
  // Exact counts (another client hitting these handlers at the same moment could add a few).
  assert.ok(m.canary.requests >= 20 && m.canary.requests <= 24, `canary ${m.canary.requests}`);
  assert.ok(m.canary.errors >= 8 && m.canary.errors <= 10, `errors ${m.canary.errors}`);
  assert.ok(m.stable.requests >= 15 && m.stable.requests <= 19, `stable ${m.stable.requests}`);
  assert.equal(m.stable.errors, 0);
  assert.equal(m.canary.observed, m.canary.requests);
  assert.ok(
    m.canary.p50 !== undefined && m.canary.p50 > 0 && m.canary.p50 < 1,
    `p50 ${m.canary.p50}`,
  );
  assert.ok(Number.isFinite(m.slowThresholdSeconds), 'a slow threshold from the stable P99');
  assert.deepEqual(m.queries, [{ name: 'track-substituted', stable: 1, canary: 1 }]);

  const ticks = await recordTicks(prom, target, spec, since, now, 1);
  assert.ok(ticks.length >= 2, `${ticks.length} ticks`);
  assert.equal(ticks[0]?.canary.requests, 0);
  for (let i = 1; i < ticks.length; i++) {
    assert.ok((ticks[i]?.canary.requests ?? 0) >= (ticks[i - 1]?.canary.requests ?? 0));
  }
  const last = ticks.at(-1);
  assert.equal(last?.canary.requests, m.canary.requests);
  assert.equal(last?.canary.errors, m.canary.errors);
  assert.equal(last?.stable.requests, m.stable.requests);
  assert.equal(last?.canary.buckets['+Inf'], m.canary.observed);

  // A stable window from before (blue-green style) is measured over that window alone.
  const bs = new Date(since.getTime() - 60_000);
  const bu = new Date(since.getTime() - 30_000);
  const before = await measure(prom, target, spec, {
    since,
    now,
    baselineSince: bs,
    baselineUntil: bu,
  });
  const then = await measure(prom, target, spec, { since: bs, now: bu });
  assert.deepEqual(before.stable, then.stable);
  assert.equal(before.canary.requests, m.canary.requests);

  const d = judge(m, spec, { elapsedSeconds: m.windowSeconds, minSeconds: 1, maxSeconds: 300 });
  assert.equal(d.verdict, 'abort');
  assert.equal(d.checks.find((c) => c.name === 'max-error-rate')?.verdict, 'abort');
  assert.equal(d.checks.find((c) => c.name === 'query track-substituted')?.verdict, 'abort');
  assert.match(d.summary, /^abort: /);
});
