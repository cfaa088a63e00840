// See run.sh. From the moment a fault starts to the first DingTalk message, split by the
// timestamps the parts themselves record:
//
//   t0        the fault starts: POST /fault?failEvery=5 to the echo fixture (20 % of the
//             requests to / answered 500 from the next request on), under a steady loopback
//             load through the gateway
//   scraped   the first Prometheus sample of http_requests_total{status_code="500"} that
//             counts a failure (its timestamp is the scrape's)
//   active    the alert's activeAt (the first ALERTS{alertstate="pending"} sample): the rule
//             evaluation that first found the error ratio above the threshold
//   firing    the first sample of ALERTS{alertstate="firing"} (the evaluation that turned it
//             firing, `for` after active, on the evaluation grid)
//   received  Alertmanager's updatedAt for the alert when it first shows in its API v2
//             (polled every 50 ms): Prometheus' notifier delivered it
//   relayed   the relay's relay_alerts_received_total{status="firing"} goes up (its /metrics
//             on its node port, polled every 10 ms once Alertmanager has the alert):
//             Alertmanager flushed the new group after group_wait and posted the webhook
//   message   the DingTalk stand-in's receipt of the signed robot message
//
// and printed as: scrape (t0 → scraped), rule evaluation (scraped → active), for (active →
// firing), send (firing → received), grouping (received → relayed), delivery (relayed →
// message). The floor the configured intervals impose: the pods' scrape interval + the
// evaluation interval + the window fill + `for` + group_wait, where `for`, group_wait and the
// fill are deterministic and the scrape and evaluation phases are uniform between 0 and their
// interval (expectation: half of each). The window fill is the rule's own: a ratio over a
// window W crosses `above` after about above ÷ 0.2 × W of a 20 % fault.
//
// Two specs: the bench's (BENCH_RUNS runs, default 10) has `for: 5s`, a 20 s rate window and
// group_wait 1 s, so that a run takes seconds; the default path (BENCH_DEFAULT_RUNS, default
// 1) is the spec's defaults (window 5m, for 2m, group_wait 30s), measured the same way. Runs
// start at a random phase (0-5 s after the previous run's resolved message and clean window).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse } from 'yaml';
import {
  freeNodePort,
  pushEchoImage,
  requireCluster,
} from '../../hack/cluster/test/cluster-env.js';
import type { ClusterEnv } from '../../hack/cluster/test/cluster-env.js';
import { Load } from '../../hack/cluster/test/load.js';
import { StandIns } from '../../services/alert-relay/test/helpers/standins.js';

const root = new URL('../../', import.meta.url).pathname;
const gantryBin = join(root, 'packages/gantry/bin/gantry.js');
const runs = Number(process.env.BENCH_RUNS ?? 10);
const defaultRuns = Number(process.env.BENCH_DEFAULT_RUNS ?? 1);
const rps = Number(process.env.BENCH_RPS ?? 20);
const FAULT_SHARE = 0.2; // failEvery=5
const ALERT = 'GantryErrorRateHigh';
const GATEWAY = 'http://127.0.0.1:8000';

const cluster = requireCluster();
if (typeof cluster === 'string') throw new Error(cluster);
const env = cluster as ClusterEnv & { GANTRY_NODE_IP?: string };
if (!env.GANTRY_NODE_IP) throw new Error('cluster env has no GANTRY_NODE_IP');
const id = Date.now().toString(36);
const ns = `bench-alerts-${id}`;
const relaySecret = `relay-channels-${id}`;
const work = mkdtempSync(join(tmpdir(), 'bench-alerts-'));
const standIns = new StandIns();

interface Path {
  key: 'bench' | 'default';
  service: string;
  token: string;
  secret: string;
  /** Spec fields (seconds): rate window, for, group_wait, group_interval, threshold. */
  window: number;
  forS: number;
  groupWait: number;
  groupInterval: number;
  above: number;
}

const paths: Path[] = [
  {
    key: 'bench',
    service: 'fast',
    token: `bench-fast-${id}`,
    secret: `SECfast${id}`,
    window: 20,
    forS: 5,
    groupWait: 1,
    groupInterval: 5,
    above: 0.01,
  },
  {
    key: 'default',
    service: 'slow',
    token: `bench-slow-${id}`,
    secret: `SECslow${id}`,
    window: 300,
    forS: 120,
    groupWait: 30,
    groupInterval: 300,
    above: 0.01,
  },
];

function gantry(args: string[], timeoutMs = 180_000): string {
  const extra: Record<string, string> = {};
  for (const p of paths) {
    const v = p.service.toUpperCase();
    extra[`BENCH_${v}_URL`] = `${standIns.url}/robot/send?access_token=${p.token}`;
    extra[`BENCH_${v}_SECRET`] = p.secret;
  }
  const r = spawnSync(process.execPath, [gantryBin, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env, GANTRY_PROMETHEUS_URL: env.PROMETHEUS_URL, ...extra },
    timeout: timeoutMs,
  });
  if (r.status !== 0)
    throw new Error(`gantry ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

function kubectl(args: string[]): string {
  const r = spawnSync('kubectl', args, { encoding: 'utf8', env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

function specText(p: Path, image: string, nodePort: number): string {
  const d = (s: number) => `${s}s`;
  // The default path writes no alert or Alertmanager timing at all: the defaults apply.
  const timing =
    p.key === 'bench'
      ? `  groupWait: ${d(p.groupWait)}\n  groupInterval: ${d(p.groupInterval)}\n` +
        `  alerts:\n    errorRate: { above: ${p.above}, window: ${d(p.window)}, for: ${d(p.forS)} }\n` +
        `    latencyP99: false\n    cpu: false\n    memory: false\n    down: false\n    errorLogs: false\n`
      : `  alerts: { latencyP99: false, cpu: false, memory: false, down: false, errorLogs: false }\n`;
  return `apiVersion: gantry.dev/v1alpha1
name: ${p.service}
namespace: ${ns}
image: ${image}
replicas: 1
ports: [{ containerPort: 8080, servicePort: 80 }]
metrics: { path: /metrics }
resources: { requests: { cpu: 10m, memory: 16Mi }, limits: { memory: 64Mi } }
probes: { readiness: { path: /healthz, periodSeconds: 1 } }
terminationGracePeriodSeconds: 2
routes: [{ hostnames: [${p.service}.${ns}.test], gateway: gantry-system/gantry }]
monitoring:
  language: en
${timing}  relay: { url: 'http://127.0.0.1:${nodePort}' }
  receivers:
    oncall:
      kind: dingtalk
      url: { fromEnv: BENCH_${p.service.toUpperCase()}_URL }
      secret: { fromEnv: BENCH_${p.service.toUpperCase()}_SECRET }
  routes:
    - alerts: [ErrorRateHigh]
      receivers: [oncall]
`;
}

/** deploy/alert-relay/gantry.yaml in the bench's namespace, on its node port and Secret. */
function relaySpecText(nodePort: number): string {
  return readFileSync(join(root, 'deploy/alert-relay/gantry.yaml'), 'utf8')
    .replace(/^namespace: gantry-system$/m, `namespace: ${ns}`)
    .replace(/^(\s+nodePort:) 30093$/m, `$1 ${nodePort}`)
    .replace(/^(\s+- secret:) alert-relay-channels$/m, `$1 ${relaySecret}`)
    .replace(
      'context: ../../services/alert-relay',
      `context: ${join(root, 'services/alert-relay')}`,
    );
}

function post(host: string, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: 8000, method: 'POST', path, headers: { host }, timeout: 10_000 },
      (res) => {
        res.resume();
        res.on('end', () =>
          res.statusCode === 200 ? resolve() : reject(new Error(`POST ${path}: ${res.statusCode}`)),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error(`POST ${path}: timeout`)));
    req.on('error', reject);
    req.end();
  });
}

async function promQuery(
  q: string,
): Promise<
  { metric: Record<string, string>; values?: [number, string][]; value?: [number, string] }[]
> {
  const res = await fetch(`${env.PROMETHEUS_URL}/api/v1/query?query=${encodeURIComponent(q)}`);
  const body = (await res.json()) as { status: string; data: { result: [] }; error?: string };
  if (body.status !== 'success') throw new Error(`${q}: ${body.error}`);
  return body.data.result;
}

/** Raw samples of a selector over the last `seconds`, time-ordered, as [ms, value]. */
async function samples(selector: string, seconds: number): Promise<[number, number][]> {
  const out: [number, number][] = [];
  for (const s of await promQuery(`${selector}[${Math.ceil(seconds)}s]`))
    for (const [t, v] of s.values ?? []) out.push([t * 1000, Number(v)]);
  return out.sort((a, b) => a[0] - b[0]);
}

async function relayReceived(nodePort: number): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${nodePort}/metrics`, {
    signal: AbortSignal.timeout(2000),
  });
  const m = /^relay_alerts_received_total\{status="firing"\} (\d+)/m.exec(await res.text());
  return m ? Number(m[1]) : 0;
}

interface AmAlert {
  startsAt: string;
  updatedAt: string;
  labels: Record<string, string>;
  status: { state: string };
}

async function amAlert(p: Path): Promise<AmAlert | undefined> {
  const f = [`alertname="${ALERT}"`, `namespace="${ns}"`, `service="${p.service}"`]
    .map((x) => `filter=${encodeURIComponent(x)}`)
    .join('&');
  const res = await fetch(`${env.ALERTMANAGER_URL}/api/v2/alerts?${f}`, {
    signal: AbortSignal.timeout(2000),
  });
  const list = (await res.json()) as AmAlert[];
  return list.find((a) => a.status.state === 'active');
}

const messageAt = (p: Path, status: 'FIRING' | 'RESOLVED', after: number) =>
  standIns.messages.find(
    (m) => m.robot === p.token && m.at >= after && m.text.includes(`[${status}] ${ALERT}`),
  )?.at;

interface Run {
  t0: number;
  scraped: number;
  active: number;
  firing: number;
  received: number;
  relayed: number;
  message: number;
}

async function oneRun(p: Path, nodePort: number, host: string, last: boolean): Promise<Run> {
  const limitMs = (p.window * 0.1 + p.forS + p.groupWait + 60) * 1000;
  const before = await relayReceived(nodePort);
  const t0 = Date.now();
  await post(host, '/fault?failEvery=5');
  let received: number | undefined;
  let relayed: number | undefined;
  let message: number | undefined;
  // Alertmanager every 50 ms until it has the alert; then the relay's counter every 10 ms
  // (its delivery takes milliseconds, so the relay's receipt is bracketed between the last
  // poll that did not see it and the first that did, and never put after the message).
  let lastMiss = t0;
  for (let i = 0; message === undefined; i++) {
    if (Date.now() - t0 > limitMs)
      throw new Error(`${p.key}: no DingTalk message within ${limitMs / 1000} s of the fault`);
    if (received === undefined) {
      const a = await amAlert(p).catch(() => undefined);
      if (a && Date.parse(a.startsAt) >= t0) received = Date.parse(a.updatedAt);
    }
    if (relayed === undefined) {
      const asked = Date.now();
      const n = await relayReceived(nodePort).catch(() => before);
      if (n > before) relayed = (lastMiss + Date.now()) / 2;
      else lastMiss = asked;
    }
    message = messageAt(p, 'FIRING', t0);
    if (message !== undefined && relayed !== undefined) relayed = Math.min(relayed, message);
    if (i > 1e6) throw new Error('poll loop bound');
    await sleep(received === undefined ? 50 : 10);
  }
  const tOff = Date.now();
  await post(host, '/fault?failEvery=0');
  // Prometheus' own record of the run.
  const since = (Date.now() - t0) / 1000 + 30;
  const sel = `namespace="${ns}",app_kubernetes_io_name="${p.service}"`;
  const errs = await samples(`http_requests_total{${sel},status_code="500"}`, since);
  const base = errs.filter(([t]) => t <= t0).at(-1)?.[1] ?? 0;
  const scraped = errs.find(([t, v]) => t > t0 && v > base)?.[0];
  const alertSel = `alertname="${ALERT}",namespace="${ns}",service="${p.service}"`;
  // activeAt: the first ALERTS{alertstate="pending"} sample (the evaluation's own timestamp);
  // ALERTS_FOR_STATE holds activeAt too, but in whole seconds, so it is only the fallback
  // (a rule with no `for` has no pending sample).
  const pending = (await samples(`ALERTS{${alertSel},alertstate="pending"}`, since)).find(
    ([t]) => t >= t0,
  )?.[0];
  const forState = (await samples(`ALERTS_FOR_STATE{${alertSel}}`, since)).find(
    ([, v]) => v * 1000 >= t0 - 1000,
  );
  const active = pending ?? (forState ? forState[1] * 1000 : undefined);
  const firing = (await samples(`ALERTS{${alertSel},alertstate="firing"}`, since)).find(
    ([t]) => active !== undefined && t >= active,
  )?.[0];
  if (!scraped || !active || !firing || !received || !relayed)
    throw new Error(
      `${p.key}: a timestamp is missing: ${JSON.stringify({ scraped, active, firing, received, relayed })}`,
    );
  if (last) return { t0, scraped, active, firing, received, relayed, message };
  // Wait for the resolved message and a clean window, so that the next run starts from no
  // alert, no Alertmanager group and no errors in the window.
  const deadline = Date.now() + (p.window + p.groupInterval + 120) * 1000;
  while (messageAt(p, 'RESOLVED', tOff) === undefined) {
    if (Date.now() > deadline) throw new Error(`${p.key}: no RESOLVED message`);
    await sleep(250);
  }
  const clean = tOff + (p.window + 5) * 1000;
  if (Date.now() < clean) await sleep(clean - Date.now());
  return { t0, scraped, active, firing, received, relayed, message };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const sec = (ms: number) => (ms / 1000).toFixed(2).padStart(7);

async function intervals(): Promise<{ scrape: number; evaluation: number }> {
  const res = await fetch(`${env.PROMETHEUS_URL}/api/v1/status/config`);
  const cfg = parse(((await res.json()) as { data: { yaml: string } }).data.yaml) as {
    global: { scrape_interval: string; evaluation_interval: string };
    scrape_configs: { job_name: string; scrape_interval?: string }[];
  };
  const s = (d: string) => {
    const m = /^(\d+)(ms|s|m)$/.exec(d);
    if (!m) throw new Error(`interval ${d}`);
    return Number(m[1]) * (m[2] === 'ms' ? 0.001 : m[2] === 'm' ? 60 : 1);
  };
  const pods = cfg.scrape_configs.find((c) => c.job_name === 'kubernetes-pods');
  return {
    scrape: s(pods?.scrape_interval ?? cfg.global.scrape_interval),
    evaluation: s(cfg.global.evaluation_interval),
  };
}

function report(p: Path, rs: Run[], iv: { scrape: number; evaluation: number }): void {
  const parts = [
    ['scrape', (r: Run) => r.scraped - r.t0],
    ['rule evaluation', (r: Run) => r.active - r.scraped],
    ['for', (r: Run) => r.firing - r.active],
    ['send to Alertmanager', (r: Run) => r.received - r.firing],
    ['grouping (group_wait)', (r: Run) => r.relayed - r.received],
    ['delivery (relay)', (r: Run) => r.message - r.relayed],
  ] as const;
  const total = (r: Run) => r.message - r.t0;
  console.log(
    `\n== ${p.key === 'bench' ? "the bench's spec" : 'the default path'} (${p.service}): ` +
      `errorRate above ${p.above}, window ${p.window}s, for ${p.forS}s; group_wait ${p.groupWait}s; ` +
      `${rs.length} run(s) ==`,
  );
  console.log(
    `run   ${'total'.padStart(7)} ${parts.map(([n]) => n.split(' ')[0]!.padStart(9)).join(' ')}`,
  );
  rs.forEach((r, i) =>
    console.log(
      `${String(i + 1).padStart(3)}   ${sec(total(r))} ${parts.map(([, f]) => sec(f(r)).padStart(9)).join(' ')}`,
    ),
  );
  console.log(
    `med   ${sec(median(rs.map(total)))} ${parts.map(([, f]) => sec(median(rs.map(f))).padStart(9)).join(' ')}`,
  );
  const fill = (p.above / FAULT_SHARE) * p.window;
  const deterministic = fill + p.forS + p.groupWait;
  const floor = iv.scrape + iv.evaluation + deterministic;
  const expected = iv.scrape / 2 + iv.evaluation / 2 + deterministic;
  const med = median(rs.map(total)) / 1000;
  console.log(
    `floor: scrape ${iv.scrape}s + evaluation ${iv.evaluation}s + window fill ${fill.toFixed(2)}s ` +
      `(${p.above} / ${FAULT_SHARE} x ${p.window}s) + for ${p.forS}s + group_wait ${p.groupWait}s = ${floor.toFixed(2)} s`,
  );
  console.log(
    `  deterministic: window fill + for + group_wait = ${deterministic.toFixed(2)} s; ` +
      `phase-dependent: scrape U(0, ${iv.scrape}) + evaluation U(0, ${iv.evaluation}), expected ${((iv.scrape + iv.evaluation) / 2).toFixed(2)} s ` +
      `-> expected total ${expected.toFixed(2)} s`,
  );
  console.log(
    `median ${med.toFixed(2)} s: floor ${med - floor >= 0 ? '+' : ''}${(med - floor).toFixed(2)} s ` +
      `(ratio ${(med / floor).toFixed(2)}), expectation ${med - expected >= 0 ? '+' : ''}${(med - expected).toFixed(2)} s ` +
      `(ratio ${(med / expected).toFixed(2)}); target <= floor + 2 s: ${med <= floor + 2 ? 'met' : 'NOT met'}`,
  );
}

async function main(): Promise<void> {
  await standIns.start(env.GANTRY_NODE_IP);
  for (const p of paths) standIns.dingtalk.set(p.token, p.secret);
  const nodePort = freeNodePort(env);
  const image = pushEchoImage(env, 'bench-alerts/echo', id);
  const active = paths.filter((p) => (p.key === 'bench' ? runs : defaultRuns) > 0);
  for (const p of active)
    writeFileSync(join(work, `${p.service}.yaml`), specText(p, image, nodePort));
  writeFileSync(join(work, 'relay.yaml'), relaySpecText(nodePort));
  const loads: Load[] = [];
  try {
    kubectl(['create', 'namespace', ns]);
    for (const p of active)
      gantry([
        'alerts',
        'apply',
        '-f',
        join(work, `${p.service}.yaml`),
        '--relay-secret',
        `${ns}/${relaySecret}`,
      ]);
    gantry(['ship', '-f', join(work, 'relay.yaml'), '--skip-tests']);
    for (const p of active) gantry(['deploy', '-f', join(work, `${p.service}.yaml`)]);
    for (let i = 0; ; i++) {
      const ok = await fetch(`http://127.0.0.1:${nodePort}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (i > 120) throw new Error('the relay is not ready');
      await sleep(250);
    }
    const iv = await intervals();
    console.log(
      `Prometheus: pods scraped every ${iv.scrape}s, rules evaluated every ${iv.evaluation}s; ` +
        `load ${rps} rps per service through the gateway; fault: every 5th request answered 500`,
    );
    const bound = (runs * 120 + defaultRuns * 900 + 300) * 1000;
    for (const p of active) {
      const load = new Load({
        url: `${GATEWAY}/`,
        host: `${p.service}.${ns}.test`,
        rps,
        maxDurationMs: bound,
      });
      loads.push(load.start());
    }
    await sleep(10_000); // a window of good traffic first
    for (const p of active) {
      const n = p.key === 'bench' ? runs : defaultRuns;
      const rs: Run[] = [];
      for (let i = 0; i < n; i++) {
        await sleep(Math.random() * 5000); // a random phase against the scrape and evaluation grids
        const r = await oneRun(p, nodePort, `${p.service}.${ns}.test`, i === n - 1);
        console.log(
          `${p.key} run ${i + 1}/${n}: ${((r.message - r.t0) / 1000).toFixed(2)} s to the DingTalk message`,
        );
        rs.push(r);
      }
      report(p, rs, iv);
    }
    const refused = standIns.rejections.length;
    if (refused) console.log(`the stand-in refused ${refused} request(s) (signature, rate)`);
  } finally {
    await Promise.all(loads.map((l) => l.stop()));
    for (const p of active)
      try {
        gantry([
          'alerts',
          'delete',
          '-f',
          join(work, `${p.service}.yaml`),
          '--relay-secret',
          `${ns}/${relaySecret}`,
        ]);
      } catch (err) {
        console.error(String(err));
      }
    try {
      gantry(['alerts', 'delete', '-f', join(work, 'relay.yaml')]);
    } catch (err) {
      console.error(String(err));
    }
    spawnSync('kubectl', ['delete', 'namespace', ns, '--wait=false'], {
      env: { ...process.env, ...env },
    });
    await standIns.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
