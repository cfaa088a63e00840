// See run.sh. The steps:
//
//  1. kwok with enough fake nodes (cluster kwok up, only if fewer are running), then N Gantry
//     services deployed by Gantry's deploy() onto those nodes (fleet.ts).
//  2. Floors: a bare LIST of the five collections the console watches (same selectors, one
//     process, all at once), `kubectl get deploy -A -l ... -o json`, an empty page in
//     Chromium, and the RSS of a Node process holding those five lists.
//  3. Console A, connected as a user's would be: started, and its URL opened in Chromium the
//     moment it is printed (cold: the console is still listing); then BENCH_PAGE_RUNS new
//     tabs in fresh profiles against the synced console (warm). Time to the complete page
//     (page.ts), and the server's RSS.
//  4. Console B, the same command behind counting proxies on loopback (proxy.ts) for the API
//     server, Prometheus and Alertmanager: one tab for BENCH_MINUTES, then BENCH_TABS tabs
//     for BENCH_MINUTES. Requests per minute in each window, the server's RSS every 5 s.
//  5. Everything the bench made is deleted (namespaces, kwok as it was), also on Ctrl-C or
//     a failure, each step bounded in time.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Browser, Page } from 'playwright-core';
import { MANAGED_SELECTOR } from '../../packages/gantry/src/console/cache.js';
import { Kube } from '../../packages/gantry/src/kube/client.js';
import { kubeconfigPath, loadClusterAccess } from '../../packages/gantry/src/kube/kubeconfig.js';
import { LABEL_ROLLOUT_OF } from '../../packages/gantry/src/progressive/state.js';
import { LABEL_RELEASE_OF } from '../../packages/gantry/src/release/record.js';
import { createFleet, deleteBenchNamespaces, kwokRestore, kwokUp, nsName } from './fleet.js';
import type { FleetPlan, KwokBefore } from './fleet.js';
import {
  CHROMIUM,
  emptyPageMs,
  fleetContext,
  launch,
  liveness,
  loadFleet,
  openFleet,
} from './page.js';
import type { PageTiming } from './page.js';
import { CountingProxy, kubeClass, pathClass } from './proxy.js';

const num = (name: string, dflt: number, min: number, max: number, int = true): number => {
  const v = Number(process.env[name] ?? dflt);
  if (!Number.isFinite(v) || (int && !Number.isInteger(v)) || v < min || v > max)
    throw new Error(`${name}: ${min}..${max}, got ${process.env[name]}`);
  return v;
};
const services = num('BENCH_SERVICES', 500, 1, 1000);
const namespaces = num('BENCH_NAMESPACES', 5, 1, 50);
const minutes = num('BENCH_MINUTES', 5, 0.25, 30, false);
// A browser holds at most 6 HTTP/1.1 connections per host; each tab's event stream keeps one.
const tabs = num('BENCH_TABS', 5, 2, 5);
const pageRuns = num('BENCH_PAGE_RUNS', 5, 1, 20);
const kwokNodeCount = num('BENCH_KWOK_NODES', Math.max(2, Math.ceil(services / 50)), 1, 100);
const concurrency = num('BENCH_CONCURRENCY', 25, 1, 100);
const refreshS = num('BENCH_REFRESH_SECONDS', 5, 1, 60);

const root = new URL('../../', import.meta.url).pathname;
const gantryBin = join(root, 'packages/gantry/bin/gantry.js');
const work = mkdtempSync(join(tmpdir(), 'bench-console-'));
const plan: FleetPlan = { id: Date.now().toString(36), services, namespaces, concurrency };
/** "namespace/name" of every service of this run starts with it. */
const prefix = `bench-console-${plan.id}-`;
/** No wait of the bench (a page, a console's start) lasts longer than this. */
const PAGE_TIMEOUT_MS = 120_000;

const log = (line: string) => process.stderr.write(`bench/console: ${line}\n`);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length === 0 ? Number.NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const ms = (x: number) => `${Math.round(x)} ms`;
const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MB`;

// --- clean-up, also on Ctrl-C -------------------------------------------------------

const children = new Set<ChildProcess>();
let browser: Browser | undefined;
let kwokBefore: KwokBefore | undefined;
const proxies: CountingProxy[] = [];
let cleaned = false;

/** Synchronous and bounded (about 6 minutes at worst): usable from a signal handler. */
function cleanup(): void {
  if (cleaned) return;
  cleaned = true;
  for (const c of children) if (c.exitCode === null && c.pid) process.kill(c.pid, 'SIGKILL');
  log('cleaning up: namespaces (up to 5 min), then kwok');
  deleteBenchNamespaces(300);
  if (kwokBefore) kwokRestore(kwokBefore, kwokNodeCount, log);
  rmSync(work, { recursive: true, force: true });
}

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(sig, () => {
    log(`${sig}: stopping`);
    const bp = browserPid();
    if (bp) process.kill(bp, 'SIGKILL');
    cleanup();
    process.exit(130);
  });
}

function browserPid(): number | undefined {
  // playwright-core's launched Browser has no public pid; its process is a child of ours.
  const r = spawnSync('pgrep', ['-P', String(process.pid), '-f', CHROMIUM], { encoding: 'utf8' });
  const first = r.stdout.split('\n').find(Boolean);
  return first ? Number(first) : undefined;
}

// --- measuring ---------------------------------------------------------------------

function rssOf(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]);
  return { rss: kb('VmRSS') * 1024, hwm: kb('VmHWM') * 1024 };
}

function machineLoad(): string {
  const sh = (cmd: string) =>
    spawnSync('sh', ['-c', cmd], { encoding: 'utf8', timeout: 30_000 }).stdout.trim();
  const pods = sh(
    'kubectl get pods -A --no-headers --field-selector spec.nodeName=gantry-node | wc -l',
  );
  return `load average ${loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')}, ${pods} pods on the real node`;
}

/**
 * bin/gantry.js runs the bundle only while it is newer than the last `tsc -b` (else the
 * slower-starting dist/): which one the consoles ran is printed with the figures.
 */
function cliBuild(): string {
  const mtime = (rel: string) => statSync(join(root, 'packages/gantry', rel)).mtimeMs;
  return mtime('bundle/main.cjs') >= mtime('tsconfig.tsbuildinfo')
    ? 'the CLI bundle'
    : 'dist/ (the bundle was older than the last tsc -b)';
}

interface RunningConsole {
  child: ChildProcess;
  pid: number;
  url: string;
  /** Epoch milliseconds of the spawn. */
  spawnedAt: number;
  stop: () => Promise<void>;
}

/** Starts `gantry [globalArgs] console --address 127.0.0.1:0 [args]`; resolves with its URL. */
async function startConsole(globalArgs: string[], args: string[]): Promise<RunningConsole> {
  const spawnedAt = Date.now();
  const child = spawn(
    process.execPath,
    [gantryBin, ...globalArgs, 'console', '--address', '127.0.0.1:0', ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.add(child);
  let out = '';
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`gantry console: no URL in 30 s: ${out}`)),
      30_000,
    );
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /(http:\/\/\S+)/.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    void exited.then(() => reject(new Error(`gantry console exited ${child.exitCode}: ${err}`)));
  });
  return {
    child,
    pid: child.pid!,
    url,
    spawnedAt,
    stop: async () => {
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(10_000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
      children.delete(child);
    },
  };
}

interface ConsoleStats {
  prometheusQueries: number;
  alertReads: number;
  detailReads: number;
  kubeWatchRequests: number;
  clients: number;
}

async function consoleStats(url: string): Promise<ConsoleStats> {
  const res = await fetch(new URL('api/stats', url), { signal: AbortSignal.timeout(10_000) });
  return (await res.json()) as ConsoleStats;
}

// --- floors ------------------------------------------------------------------------

const COLLECTIONS: [string, string, string][] = [
  ['apps/v1', 'Deployment', MANAGED_SELECTOR],
  ['apps/v1', 'ReplicaSet', MANAGED_SELECTOR],
  ['v1', 'Pod', MANAGED_SELECTOR],
  ['v1', 'Secret', LABEL_RELEASE_OF],
  ['v1', 'Secret', LABEL_ROLLOUT_OF],
];

/** The five lists at once from this process (warm connection), median of `runs`. */
async function bareList(runs: number): Promise<{ ms: number; items: number; bytes: number }> {
  const kube = Kube.load();
  const list = () =>
    Promise.all(
      COLLECTIONS.map(([v, k, sel]) => kube.list(v, k, undefined, { labelSelector: sel })),
    );
  await list(); // the connection and discovery, not timed
  const xs: number[] = [];
  let last: unknown[][] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    last = await list();
    xs.push(performance.now() - t);
  }
  return {
    ms: median(xs),
    items: last.reduce((n, l) => n + l.length, 0),
    bytes: last.reduce((n, l) => n + JSON.stringify(l).length, 0),
  };
}

/** RSS of a Node process that holds the five lists (Gantry's compiled client), and of an idle one. */
function memoryFloor(): { holding: number; idle: number } {
  const client = join(root, 'packages/gantry/dist/kube/client.js');
  const script = `
    const { Kube } = await import(${JSON.stringify(client)});
    const kube = Kube.load();
    const c = ${JSON.stringify(COLLECTIONS)};
    globalThis.keep = await Promise.all(c.map(([v, k, s]) => kube.list(v, k, undefined, { labelSelector: s })));
    console.log(process.memoryUsage().rss);
    process.exit(0);`;
  const run = (code: string) =>
    Number(
      spawnSync(process.execPath, ['--input-type=module', '-e', code], {
        encoding: 'utf8',
        timeout: 60_000,
      }).stdout.trim(),
    );
  return { holding: run(script), idle: run('console.log(process.memoryUsage().rss)') };
}

function kubectlGetMs(): number {
  const t = performance.now();
  const r = spawnSync('kubectl', ['get', 'deploy', '-A', '-l', MANAGED_SELECTOR, '-o', 'json'], {
    stdio: 'ignore',
    timeout: 60_000,
  });
  if (r.status !== 0) throw new Error('kubectl get deploy failed');
  return performance.now() - t;
}

// --- the run -----------------------------------------------------------------------

interface WindowResult {
  tabs: number;
  minutes: number;
  kube: Map<string, number>;
  prom: Map<string, number>;
  am: Map<string, number>;
  kubeTotal: number;
  /** Of kubeTotal: watches of a collection watched before (at the console's watch timeout). */
  kubeRenewals: number;
  promTotal: number;
  amTotal: number;
  openWatches: number;
  rssMax: number;
  rssEnd: number;
  stats: { before: ConsoleStats; after: ConsoleStats };
  /** View events a tab received during the window (median over tabs). */
  viewsPerTab: number;
  rowsOk: boolean;
  /** Rows on the fleet page at the end, the bench's and any other Gantry service's. */
  allRows: number;
}

async function measureWindow(
  n: number,
  c: RunningConsole,
  pages: Page[],
  kube: CountingProxy,
  prom: CountingProxy,
  am: CountingProxy,
): Promise<WindowResult> {
  const before = await consoleStats(c.url);
  const views0 = await Promise.all(pages.map((p) => liveness(p, prefix)));
  const from = performance.now();
  const end = from + minutes * 60_000;
  const rss: number[] = [];
  // Bounded: one sample every 5 s until the window ends.
  while (performance.now() < end) {
    rss.push(rssOf(c.pid).rss);
    await sleep(Math.max(0, Math.min(5_000, end - performance.now())));
  }
  const to = performance.now();
  rss.push(rssOf(c.pid).rss);
  const after = await consoleStats(c.url);
  const views1 = await Promise.all(pages.map((p) => liveness(p, prefix)));
  return {
    tabs: pages.length,
    minutes: (to - from) / 60_000,
    kube: kube.counts(from, to),
    prom: prom.counts(from, to),
    am: am.counts(from, to),
    kubeTotal: kube.total(from, to),
    kubeRenewals: kube.renewals(from, to),
    promTotal: prom.total(from, to),
    amTotal: am.total(from, to),
    openWatches: kube.open,
    rssMax: Math.max(...rss),
    rssEnd: rss.at(-1)!,
    stats: { before, after },
    viewsPerTab: median(views1.map((v, i) => v.views - views0[i]!.views)),
    rowsOk: views1.every((v) => v.rows === n),
    allRows: views1[0]?.all ?? 0,
  };
}

async function main(): Promise<void> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing (hack/deps.sh installs it)`);
  deleteBenchNamespaces(300); // leftovers of an interrupted run
  kwokBefore = kwokUp(kwokNodeCount, log);
  const loadBefore = machineLoad();
  log(
    `${services} services in ${namespaces} namespaces on ${kwokNodeCount} kwok nodes; ` +
      `${minutes} min per window; ${loadBefore}`,
  );
  const setup = await createFleet(plan, log);
  log(`fleet deployed in ${(setup.elapsedMs / 1000).toFixed(0)} s`);

  // Floors.
  browser = await launch();
  const list = await bareList(3);
  const kubectlMs = kubectlGetMs();
  const emptyMs = await emptyPageMs(browser, 3);
  const memFloor = memoryFloor();
  log(
    `floors: LIST ${ms(list.ms)} (${list.items} objects, ${mb(list.bytes)} JSON), ` +
      `kubectl ${ms(kubectlMs)}, empty page ${ms(emptyMs)}, Node holding the lists ${mb(memFloor.holding)}`,
  );

  // Console A: direct, as a user runs it. Cold page first, then warm ones.
  const buildA = cliBuild();
  // The tab is open before the console starts: its URL is loaded the moment it is printed.
  const coldCtx = await fleetContext(browser, services, prefix);
  const coldTab = await coldCtx.newPage();
  const a = await startConsole([], ['--refresh', `${refreshS}s`]);
  const cold = { timing: await loadFleet(coldTab, a.url, PAGE_TIMEOUT_MS) };
  const coldFromSpawn = cold.timing.origin + cold.timing.complete - a.spawnedAt;
  log(`cold page: ${ms(cold.timing.complete)} from navigation, ${ms(coldFromSpawn)} from spawn`);
  await coldCtx.close();
  const warm: PageTiming[] = [];
  for (let i = 0; i < pageRuns; i++) {
    const ctx = await fleetContext(browser, services, prefix);
    warm.push((await openFleet(ctx, a.url, PAGE_TIMEOUT_MS)).timing);
    await ctx.close();
    await sleep(500 + Math.random() * 500);
  }
  log(`warm pages: ${warm.map((w) => ms(w.complete)).join(', ')}`);
  const rssA = rssOf(a.pid);
  await a.stop();

  // Console B: behind the counting proxies.
  const access = loadClusterAccess(kubeconfigPath());
  const kube = new CountingProxy(access.server, kubeClass, access);
  const prom = new CountingProxy(process.env.PROMETHEUS_URL ?? 'http://127.0.0.1:9090', pathClass);
  const am = new CountingProxy(process.env.ALERTMANAGER_URL ?? 'http://127.0.0.1:9093', pathClass);
  proxies.push(kube, prom, am);
  const [kubeUrl, promUrl, amUrl] = await Promise.all(proxies.map((p) => p.start()));
  const kubeconfig = join(work, 'proxied.kubeconfig');
  writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'bench-proxy', cluster: { server: kubeUrl } }],
      users: [{ name: 'bench-proxy', user: {} }],
      contexts: [{ name: 'bench-proxy', context: { cluster: 'bench-proxy', user: 'bench-proxy' } }],
      'current-context': 'bench-proxy',
    }),
  );
  const buildB = cliBuild();
  const t0 = performance.now();
  const b = await startConsole(
    ['--kubeconfig', kubeconfig],
    ['--prometheus', promUrl!, '--alertmanager', amUrl!, '--refresh', `${refreshS}s`],
  );
  const ctx = await fleetContext(browser, services, prefix);
  const pages = [(await openFleet(ctx, b.url, PAGE_TIMEOUT_MS)).page];
  await sleep(5_000);
  const startup = {
    kube: kube.counts(t0, performance.now()),
    kubeTotal: kube.total(t0, performance.now()),
  };
  log(`console B synced with ${startup.kubeTotal} API requests; 1 tab for ${minutes} min`);
  const one = await measureWindow(services, b, pages, kube, prom, am);
  const t1 = performance.now();
  for (let i = 1; i < tabs; i++) pages.push((await openFleet(ctx, b.url, PAGE_TIMEOUT_MS)).page);
  const opening = {
    kubeTotal: kube.total(t1, performance.now()),
    promTotal: prom.total(t1, performance.now()),
  };
  log(`${tabs} tabs for ${minutes} min`);
  const many = await measureWindow(services, b, pages, kube, prom, am);
  const rssB = rssOf(b.pid);
  await b.stop();
  await ctx.close();
  const loadAfter = machineLoad();

  report({
    setupMs: setup.elapsedMs,
    loadBefore,
    loadAfter,
    list,
    kubectlMs,
    emptyMs,
    memFloor,
    cold: cold.timing,
    coldFromSpawn,
    warm,
    rssA,
    startup,
    opening,
    one,
    many,
    rssB,
    build: buildA === buildB ? buildA : `${buildA} (console A), ${buildB} (console B)`,
  });
}

interface Results {
  setupMs: number;
  loadBefore: string;
  loadAfter: string;
  list: { ms: number; items: number; bytes: number };
  kubectlMs: number;
  emptyMs: number;
  memFloor: { holding: number; idle: number };
  cold: PageTiming;
  coldFromSpawn: number;
  warm: PageTiming[];
  rssA: { rss: number; hwm: number };
  startup: { kube: Map<string, number>; kubeTotal: number };
  opening: { kubeTotal: number; promTotal: number };
  one: WindowResult;
  many: WindowResult;
  rssB: { rss: number; hwm: number };
  build: string;
}

function report(r: Results): void {
  const cpu = cpus()[0]?.model.trim() ?? '?';
  const out: string[] = [];
  const say = (s = '') => out.push(s);
  say(
    `\nbench/console — ${new Date().toISOString()} — ${services} services in ${namespaces} namespaces ` +
      `(${nsName(plan, 0)}..), ${kwokNodeCount} kwok nodes, ${cpu}, ${cpus().length} cores, Node ${process.version}`,
  );
  say(`before: ${r.loadBefore}\nafter:  ${r.loadAfter}\nconsoles ran ${r.build}`);
  say(
    `fleet set up by Gantry's deploy() in ${(r.setupMs / 1000).toFixed(0)} s (not measured further)`,
  );
  say();

  const floorCold = r.list.ms + r.emptyMs;
  const w = (f: (t: PageTiming) => number) => median(r.warm.map(f));
  const row = (what: string, v: number, floor: number | undefined, target: string) =>
    say(
      `${what.padEnd(52)}${ms(v).padStart(9)}${floor === undefined ? ''.padStart(10) : ms(floor).padStart(10)}` +
        `${floor === undefined ? ''.padStart(8) : (v / floor).toFixed(1).padStart(8)}  ${target}`,
    );
  say(
    `first complete fleet page (${services} rows, each r1, 1/1 ready, healthy)`.padEnd(52) +
      '     time     floor   ratio  target',
  );
  row('cold: URL printed, navigation -> complete', r.cold.complete, floorCold, '<= 1500 ms');
  row('cold: `gantry console` spawned -> complete', r.coldFromSpawn, undefined, '');
  row(
    `warm: new tab -> complete (median of ${r.warm.length})`,
    w((t) => t.complete),
    r.emptyMs,
    '<= 1500 ms',
  );
  say(
    `  cold: DOMContentLoaded ${ms(r.cold.dcl)}, first view ${ms(r.cold.firstView ?? NaN)}, synced view ` +
      `${ms(r.cold.syncedView ?? NaN)}, table in the DOM ${ms(r.cold.domComplete ?? NaN)}, painted ${ms(r.cold.complete)}`,
  );
  say(
    `  warm: DOMContentLoaded ${ms(w((t) => t.dcl))}, first view ${ms(w((t) => t.firstView ?? NaN))}, table in the DOM ` +
      `${ms(w((t) => t.domComplete ?? NaN))}, painted ${ms(w((t) => t.complete))}; view event ${(r.warm[0]!.viewBytes / 1024).toFixed(0)} kB`,
  );
  say(
    `  floors: bare LIST of the 5 collections, all at once ${ms(r.list.ms)} (${r.list.items} objects, ` +
      `${mb(r.list.bytes)} JSON; kubectl get deploy -A -o json ${ms(r.kubectlMs)} with its start); ` +
      `empty page in Chromium ${ms(r.emptyMs)}; cold floor = LIST + empty page, warm floor = empty page`,
  );
  say();

  say('console server RSS (/proc/PID/status)'.padEnd(52) + '      RSS      peak   floor  target');
  const mem = (what: string, rss: number, hwm: number) =>
    say(
      `${what.padEnd(52)}${mb(rss).padStart(9)}${mb(hwm).padStart(10)}${mb(r.memFloor.holding).padStart(8)}  <= 200 MB ` +
        `(peak/floor ${(hwm / r.memFloor.holding).toFixed(1)})`,
    );
  mem(`after the page runs (console A, ${r.warm.length + 1} pages opened)`, r.rssA.rss, r.rssA.hwm);
  mem(
    `${r.one.tabs} tab, ${r.one.minutes.toFixed(1)} min (console B): max sampled / peak`,
    r.one.rssMax,
    r.rssB.hwm,
  );
  mem(
    `${r.many.tabs} tabs, ${r.many.minutes.toFixed(1)} min (console B): max sampled / peak`,
    r.many.rssMax,
    r.rssB.hwm,
  );
  say(
    `  floor: a Node process holding the same 5 lists (Gantry's client) ${mb(r.memFloor.holding)}; ` +
      `an idle Node ${mb(r.memFloor.idle)}`,
  );
  say();

  const perMin = (n: number, win: WindowResult) => n / win.minutes;
  const f1 = (x: number) => x.toFixed(1);
  // The floor of a live view: the five watches, renewed at the console's watch timeout
  // (600 s): 5 / 10 min. Alerts on the fleet page: Alertmanager's firing alerts, once per
  // refresh; the fleet page shows nothing from Prometheus.
  const kubeFloor = (COLLECTIONS.length * 60) / 600;
  const amFloor = 60 / refreshS;
  say(
    'requests per minute (counted at loopback proxies)'.padEnd(52) +
      '    1 tab  ' +
      `${r.many.tabs} tabs`.padStart(7) +
      `  ${r.many.tabs}/1    floor`,
  );
  const req = (what: string, a: number, b: number, floor: string) =>
    say(
      `${what.padEnd(52)}${f1(perMin(a, r.one)).padStart(9)}${f1(perMin(b, r.many)).padStart(9)}` +
        `${(a === 0 ? (b === 0 ? '1.00' : 'inf') : (perMin(b, r.many) / perMin(a, r.one)).toFixed(2)).padStart(7)}  ${floor}`,
    );
  req(
    'Kubernetes API',
    r.one.kubeTotal,
    r.many.kubeTotal,
    `${kubeFloor.toFixed(1)} (5 watches renewed every 10 min)`,
  );
  const classes = new Set([...r.one.kube.keys(), ...r.many.kube.keys()]);
  for (const k of [...classes].sort())
    req(`  ${k}`, r.one.kube.get(k) ?? 0, r.many.kube.get(k) ?? 0, '');
  req(
    '  of all: watches renewed (same collection again)',
    r.one.kubeRenewals,
    r.many.kubeRenewals,
    'at the 600 s watch timeout, whatever the tabs',
  );
  req(
    '  of all: anything else',
    r.one.kubeTotal - r.one.kubeRenewals,
    r.many.kubeTotal - r.many.kubeRenewals,
    '0',
  );
  req('Prometheus', r.one.promTotal, r.many.promTotal, '0 (no Prometheus data on the fleet page)');
  for (const k of [...new Set([...r.one.prom.keys(), ...r.many.prom.keys()])].sort())
    req(`  ${k}`, r.one.prom.get(k) ?? 0, r.many.prom.get(k) ?? 0, '');
  req(
    'Alertmanager',
    r.one.amTotal,
    r.many.amTotal,
    `${amFloor.toFixed(0)} (firing alerts once per ${refreshS} s refresh)`,
  );
  for (const k of [...new Set([...r.one.am.keys(), ...r.many.am.keys()])].sort())
    req(`  ${k}`, r.one.am.get(k) ?? 0, r.many.am.get(k) ?? 0, '');
  say(
    `  open watches at the end of each window: ${r.one.openWatches}, ${r.many.openWatches}; view events per tab ` +
      `in the window: ${r.one.viewsPerTab}, ${r.many.viewsPerTab}; every tab still showing ${services} rows: ` +
      `${r.one.rowsOk && r.many.rowsOk ? 'yes' : 'NO'} (${r.many.allRows} rows with other Gantry services in the cluster)`,
  );
  say(
    `  start of console B to its first complete page + 5 s: ${r.startup.kubeTotal} API requests ` +
      `(${[...r.startup.kube].map(([k, v]) => `${v} ${k}`).join(', ')}); opening ${r.many.tabs - 1} more tabs: ` +
      `${r.opening.kubeTotal} API, ${r.opening.promTotal} Prometheus`,
  );
  const d = (k: keyof ConsoleStats, win: WindowResult) => win.stats.after[k] - win.stats.before[k];
  say(
    `  the console's own counters per window (1 tab / ${r.many.tabs} tabs): API lists+watches ` +
      `${d('kubeWatchRequests', r.one)} / ${d('kubeWatchRequests', r.many)}, Prometheus range queries ` +
      `${d('prometheusQueries', r.one)} / ${d('prometheusQueries', r.many)}, alert reads ` +
      `${d('alertReads', r.one)} / ${d('alertReads', r.many)}`,
  );
  // Renewals come at the console's watch timeout, whenever that falls in a window.
  const flat =
    perMin(r.many.kubeTotal - r.many.kubeRenewals, r.many) <=
    perMin(r.one.kubeTotal - r.one.kubeRenewals, r.one) + 0.5;
  say(
    `\ntargets: first complete page <= 1.5 s: ${r.cold.complete <= 1500 ? 'met' : 'NOT met'} cold, ` +
      `${w((t) => t.complete) <= 1500 ? 'met' : 'NOT met'} warm; server RSS <= 200 MB: ` +
      `${Math.max(r.rssA.hwm, r.rssB.hwm) <= 200 * 2 ** 20 ? 'met' : 'NOT met'} (peak ${mb(Math.max(r.rssA.hwm, r.rssB.hwm))}); ` +
      `API requests flat in tabs: ${flat ? 'met' : 'NOT met'} (besides watch renewals, ` +
      `${f1(perMin(r.one.kubeTotal - r.one.kubeRenewals, r.one))}/min with 1 tab, ` +
      `${f1(perMin(r.many.kubeTotal - r.many.kubeRenewals, r.many))}/min with ${r.many.tabs})`,
  );
  console.log(out.join('\n'));
}

try {
  await main();
} finally {
  for (const p of proxies) await p.close().catch(() => undefined);
  await Promise.race([browser?.close(), sleep(15_000)]).catch(() => undefined);
  cleanup();
}
