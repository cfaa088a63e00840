// See run.sh. For each fault family, BENCH_RUNS runs (default 10, the family's faults in
// turn) of: a clean baseline, the fault injected through Gantry's own path (the fault
// definition's inject(): undo record, helper or watchdog pod, agent, ops), the first
// affected observation, revert(), the first clean observation and the target's state
// identical to before. Every time is the bench's own clock (the node's: the helper's log
// lines carry the same wall clock):
//
//   t0         the command: inject() called
//   created    the helper (or watchdog) pod seen by a watch in this process
//   running    its container seen running (the kubelet started it)
//   agent      the agent's first log line ("started"): its program runs
//   applied    the agent's last "applied" line: the rule / process / cgroup change is in
//   injected   the undo record's state 'injected' seen by a watch (the agent reported it)
//   returned   inject() resolved (the CLI's "in effect")
//   affected   the first affected observation: the send time of the first request that
//              the fault changed (an error, a status, a timeout past 250 ms), or for
//              faults no request shows (CPU, memory, a qdisc, a cordon) the first poll
//              (every 20-50 ms) of the cgroup, the pod's qdiscs or the Node that shows it
//
// and from revert() (tR): the first clean observation followed by two more clean ones,
// and the state identical to before (the pod's iptables tables, qdiscs and links; the
// container's cgroup processes and freezer; the Service's selector; the Node's spec);
// reverted = the later of the two. Requests go to the gateway (127.0.0.1:8000, Host
// echo.NS.test) every 25 ms on fresh connections, each with a 300 ms timeout; the
// gateway keeps its own pooled connections to the pod (which the HTTP faults reset).
//
// The floor of each case: the same kind of change made by hand from this process, as
// directly as the machine allows (a pod deleted by one API call, one iptables rule or
// qdisc through nsenter into the pod's network namespace, stress-ng started in the
// container's cgroups, the freezer written, one patch of the Service or Node), measured
// with the same probes: ratio = median time / median floor.
import './env.js';
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { cpus, loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { V1Deployment, V1Node, V1Pod } from '@kubernetes/client-node';
import { kubectl, pushEchoImage, requireGateway } from '../../hack/cluster/test/cluster-env.js';
import type { GatewayEnv } from '../../hack/cluster/test/cluster-env.js';
import { resolveTarget as resolveOnNode } from '../../packages/gantry/src/chaos/agent/target.js';
import type { OpTarget } from '../../packages/gantry/src/chaos/agent/op.js';
import type {
  ActiveFault,
  FaultContext,
  FaultParams,
  ResolvedTarget,
} from '../../packages/gantry/src/chaos/fault.js';
import { faultByKind } from '../../packages/gantry/src/chaos/faults/index.js';
import { pauseImageOn } from '../../packages/gantry/src/chaos/faults/k8s.js';
import { helperImageFor } from '../../packages/gantry/src/chaos/helper/inject.js';
import {
  HELPER_LABEL,
  RECORD_LABEL,
  helperPodName,
} from '../../packages/gantry/src/chaos/helper/resources.js';
import { abort } from '../../packages/gantry/src/chaos/recover.js';
import { EXPERIMENT_LABEL, listRecords } from '../../packages/gantry/src/chaos/undo-store.js';
import { CHAOS_NAMESPACE } from '../../packages/gantry/src/chaos/undo.js';
import type { Kube as KubeClient } from '../../packages/gantry/src/kube/client.js';
import { Kube } from '../../packages/gantry/src/kube/client.js';
import { parseSpec } from '../../packages/gantry/src/spec/load.js';
import { cgroupComms, cgroupValue } from '../../packages/gantry/test/chaos/stress-host.js';

// --- settings --------------------------------------------------------------------

const int = (name: string, dflt: number, min: number, max: number): number => {
  const v = Number(process.env[name] ?? dflt);
  if (!Number.isInteger(v) || v < min || v > max) throw new Error(`${name}: ${min}..${max}`);
  return v;
};
const runs = int('BENCH_RUNS', 10, 1, 50);
const floorRuns = int('BENCH_FLOOR_RUNS', 3, 0, 50);
const cliRuns = int('BENCH_CLI_RUNS', 3, 0, 20);
const FAMILIES = ['pod', 'network', 'http', 'dns', 'stress', 'process', 'k8s'] as const;
type Family = (typeof FAMILIES)[number];
const only = (process.env.BENCH_FAMILIES ?? '').split(',').filter(Boolean);
for (const f of only)
  if (!(FAMILIES as readonly string[]).includes(f))
    throw new Error(`BENCH_FAMILIES: no family ${f} (${FAMILIES.join(', ')})`);

/** Every namespace of this bench carries this label; experiments are named bench-chaos-*. */
const LABEL = 'gantry.dev/bench=chaos';
const PREFIX = 'bench-chaos-';
/** Marks the Node while a floor cordon or taint made by hand is on (cleanup finds it). */
const FLOOR_MARK = 'gantry.dev/bench-chaos-floor';
const PROBE_EVERY_MS = 25;
const PROBE_TIMEOUT_MS = 300;
const SLOW_MS = 250;
const MiB = 1024 * 1024;
const FAULT_MS = 60_000;

const gw = requireGateway();
if (typeof gw === 'string') throw new Error(gw);
const env: GatewayEnv = gw;
const kube = Kube.load({ kubeconfig: env.KUBECONFIG });
const id = Date.now().toString(36);
const ns = `${PREFIX}${id}`;
const EXPERIMENT = ns;
const HOST = `echo.${ns}.test`;
const [GW_HOST, GW_PORT] = (() => {
  const u = new URL(env.GANTRY_GATEWAY_URL);
  return [u.hostname, Number(u.port || 80)];
})();

// --- small tools -----------------------------------------------------------------

function sh(file: string, args: string[], timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(
      file,
      args,
      { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 16 << 20 },
      (err, stdout, stderr) =>
        err
          ? reject(new Error(`${file} ${args.join(' ')}: ${stderr || err.message}`))
          : resolve(stdout),
    ),
  );
}

async function until<T>(
  what: string,
  timeoutMs: number,
  fn: () => T | undefined | Promise<T | undefined>,
  everyMs = 20,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await sleep(everyMs);
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length === 0 ? Number.NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const ms = (x: number) => (Number.isFinite(x) ? `${Math.round(x)}`.padStart(6) : '     -');

// --- observations ----------------------------------------------------------------

interface Sample {
  /** When the request was sent / the poll read. */
  at: number;
  done: boolean;
  affected: boolean;
  clean: boolean;
  note: string;
}

interface Detector {
  samples: Sample[];
  start(): void;
  stop(): void;
}

type Verdict = { affected: boolean; clean: boolean; note: string };
type Classify = (a: { status: number; ms: number; error?: string }) => Verdict;

/** Requests through the gateway every 25 ms on fresh connections. */
function probe(path: string, classify: Classify): Detector {
  const samples: Sample[] = [];
  let timer: NodeJS.Timeout | undefined;
  const fire = () => {
    const s: Sample = { at: Date.now(), done: false, affected: false, clean: false, note: '' };
    samples.push(s);
    const t0 = performance.now();
    let over = false;
    const finish = (status: number, error?: string) => {
      if (over) return;
      over = true;
      Object.assign(
        s,
        classify({ status, ms: performance.now() - t0, ...(error ? { error } : {}) }),
      );
      s.done = true;
    };
    const req = http.get(
      {
        host: GW_HOST,
        port: GW_PORT,
        path,
        headers: { host: HOST },
        agent: false,
        timeout: PROBE_TIMEOUT_MS,
      },
      (res) => {
        res.resume();
        res.on('end', () => finish(res.statusCode ?? 0));
        res.on('error', (e) => finish(0, e.message));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => finish(0, (e as NodeJS.ErrnoException).code ?? e.message));
  };
  return {
    samples,
    start: () => (timer = setInterval(fire, PROBE_EVERY_MS)),
    stop: () => clearInterval(timer),
  };
}

/** A state read every `everyMs` (cgroup files, the pod's qdiscs, the Node). */
function poll(everyMs: number, read: () => Promise<Verdict> | Verdict): Detector {
  const samples: Sample[] = [];
  let on = false;
  return {
    samples,
    start: () => {
      on = true;
      void (async () => {
        while (on) {
          const at = Date.now();
          const v = await Promise.resolve(read()).catch((e: unknown): Verdict => ({
            affected: false,
            clean: false,
            note: String(e),
          }));
          samples.push({ at, done: true, ...v });
          await sleep(everyMs);
        }
      })();
    },
    stop: () => (on = false),
  };
}

const ok = (a: { status: number; ms: number }) => a.status === 200 && a.ms < SLOW_MS;
const noteOf = (a: { status: number; ms: number; error?: string }) =>
  a.error ?? (a.ms >= SLOW_MS ? `slow` : String(a.status));
/** Affected: anything but a quick 200 (an error status, a reset, a timeout, a slow answer). */
const notOk: Classify = (a) => ({ affected: !ok(a), clean: ok(a), note: noteOf(a) });

function firstAffected(d: Detector, from: number): Sample | undefined {
  return d.samples.find((s) => s.at >= from && s.done && s.affected);
}

/** The first of three consecutive clean observations sent at or after `from`. */
function firstClean(d: Detector, from: number): number | undefined {
  const xs = d.samples.filter((s) => s.at >= from);
  for (let i = 0; i + 2 < xs.length; i++) {
    const w = xs.slice(i, i + 3);
    if (w.some((s) => !s.done)) return undefined; // not decided yet
    if (w.every((s) => s.clean)) return w[0]!.at;
  }
  return undefined;
}

// --- the target on the node ---------------------------------------------------------

async function currentTarget(): Promise<ResolvedTarget> {
  return until(
    'a ready echo pod',
    120_000,
    async () => {
      const pods = await kube.list<V1Pod>('v1', 'Pod', ns, {
        labelSelector: 'app.kubernetes.io/name=echo',
      });
      const live = pods.filter((p) => !p.metadata?.deletionTimestamp);
      const p = live[0];
      const cs = p?.status?.containerStatuses?.[0];
      if (!p || live.length !== 1 || !cs?.ready || !cs.containerID) return undefined;
      return {
        namespace: ns,
        service: 'echo',
        node: p.spec!.nodeName!,
        pods: [
          {
            name: p.metadata!.name!,
            uid: p.metadata!.uid!,
            node: p.spec!.nodeName!,
            container: 'echo',
            containerId: cs.containerID,
          },
        ],
      };
    },
    200,
  );
}

const podOf = (t: ResolvedTarget) => t.pods[0]!;
const cid = (t: ResolvedTarget) => (podOf(t).containerId ?? '').replace(/^[a-z]+:\/\//, '');

const resolved = new Map<string, OpTarget>();
/** The pod's sandbox and container on this node (a /proc scan, kept while both still run). */
function onNode(t: ResolvedTarget): OpTarget {
  const key = `${podOf(t).uid}/${cid(t)}`;
  const c = resolved.get(key);
  if (c && existsSync(`/proc/${c.sandboxPid}`) && existsSync(`/proc/${c.containerPid}`)) return c;
  const o = resolveOnNode(podOf(t).uid, cid(t));
  if (!o?.containerPid || !o.cgroups)
    throw new Error(`pod ${podOf(t).name}: not found on this node`);
  resolved.set(key, o);
  return o;
}

const inNet = (t: ResolvedTarget, file: string, args: string[]) =>
  sh('nsenter', [`--net=/proc/${onNode(t).sandboxPid}/ns/net`, '--', file, ...args]);

async function netState(t: ResolvedTarget): Promise<string> {
  const tables = await Promise.all(
    ['filter', 'nat', 'mangle', 'raw'].map((x) => inNet(t, 'iptables-save', ['-t', x])),
  );
  const [qdiscs, links] = await Promise.all([
    inNet(t, 'tc', ['qdisc', 'show']),
    inNet(t, 'ip', ['-o', 'link', 'show']),
  ]);
  return [
    tables
      .join('')
      .replace(/^#.*\n/gm, '')
      .replace(/\[\d+:\d+\]/g, '[0:0]'),
    qdiscs,
    links
      .split('\n')
      .map((l) => l.split(':').slice(0, 2).join(':'))
      .join('\n'),
  ].join('\n');
}

function cgroupState(t: ResolvedTarget): Promise<string> {
  const o = onNode(t);
  return Promise.resolve(
    `${cgroupComms(o.cgroups!.memory!)} | ${cgroupValue(o.cgroups!.freezer!, 'freezer.state')} | ${cgroupValue(o.cgroups!.memory!, 'memory.oom_control').replace(/\n/g, ' ')}`,
  );
}

/** The Deployment's spec and its pods: how many, ready, with which image (names change). */
async function deploymentState(): Promise<string> {
  const d = await kube.get<V1Deployment>({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'echo', namespace: ns },
  });
  const pods = await kube.list<V1Pod>('v1', 'Pod', ns, {
    labelSelector: 'app.kubernetes.io/name=echo',
  });
  return JSON.stringify({
    replicas: d?.spec?.replicas,
    image: d?.spec?.template.spec?.containers[0]?.image,
    pods: pods.map((p) => ({
      deleting: !!p.metadata?.deletionTimestamp,
      ready: p.status?.containerStatuses?.[0]?.ready ?? false,
      image: p.spec?.containers[0]?.image,
    })),
  });
}

async function serviceState(): Promise<string> {
  const s = await kube.get<{ spec?: { selector?: Record<string, string> } }>({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'echo', namespace: ns },
  });
  return JSON.stringify(s?.spec?.selector ?? null);
}

async function nodeSpec(name: string): Promise<V1Node> {
  const n = await kube.get<V1Node>({ apiVersion: 'v1', kind: 'Node', metadata: { name } });
  if (!n) throw new Error(`node ${name} is gone`);
  return n;
}
async function nodeState(t: ResolvedTarget): Promise<string> {
  const n = await nodeSpec(t.node!);
  return JSON.stringify({ u: n.spec?.unschedulable ?? false, taints: n.spec?.taints ?? [] });
}

// --- cgroup detectors (the stress family) ---------------------------------------------

function cpuDetector(t: ResolvedTarget): Detector {
  const o = onNode(t);
  const acct = o.cgroups!.cpuacct ?? o.cgroups!.cpu!;
  const hist: { at: number; ns: number }[] = [];
  return poll(20, () => {
    const now = { at: Date.now(), ns: Number(cgroupValue(acct, 'cpuacct.usage')) };
    hist.push(now);
    while (hist.length > 2 && now.at - hist[1]!.at >= 100) hist.shift();
    const old = hist[0]!;
    const rate = now.at - old.at >= 80 ? (now.ns - old.ns) / 1e6 / (now.at - old.at) : 0;
    const hog = /stress-ng/.test(cgroupComms(o.cgroups!.memory!));
    return {
      affected: rate > 0.25,
      clean: rate < 0.1 && !hog,
      note: `${rate.toFixed(2)} cores`,
    };
  });
}

function memoryDetector(t: ResolvedTarget, bytes: number): Detector {
  const o = onNode(t);
  const usage = () => Number(cgroupValue(o.cgroups!.memory!, 'memory.usage_in_bytes'));
  const u0 = usage();
  return poll(20, () => {
    const u = usage();
    const hog = /stress-ng/.test(cgroupComms(o.cgroups!.memory!));
    return {
      affected: u >= u0 + 0.8 * bytes,
      clean: u < u0 + 0.25 * bytes && !hog,
      note: `+${((u - u0) / MiB).toFixed(0)} MiB`,
    };
  });
}

// --- the cases -------------------------------------------------------------------

interface Floor {
  what: string;
  apply: (t: ResolvedTarget) => Promise<void>;
  undo: (t: ResolvedTarget) => Promise<void>;
}

interface Case {
  family: Family;
  kind: string;
  label: string;
  params: FaultParams;
  detector: (t: ResolvedTarget) => Detector;
  state: (t: ResolvedTarget) => Promise<string>;
  floor?: Floor;
  /** How long the target may take to be clean again (a replaced pod starts). */
  cleanTimeoutMs?: number;
}

const ipt = (t: ResolvedTarget, args: string[]) => inNet(t, 'iptables', ['-w', '5', ...args]);
/** The HTTP families' floor: the app's port answering resets, set by hand with iptables. */
const RESET_APP_PORT = [
  'INPUT',
  '-p',
  'tcp',
  '--dport',
  '8080',
  '-j',
  'REJECT',
  '--reject-with',
  'tcp-reset',
];

const iptFloor = (what: string, rule: string[]): Floor => ({
  what: `iptables ${rule.join(' ')} by hand (nsenter)`,
  apply: async (t) => void (await ipt(t, ['-I', ...rule])),
  undo: async (t) => void (await ipt(t, ['-D', ...rule]).catch(() => '')),
});

/** stress-ng started by hand in the container's cgroups (a shell moves itself there first). */
function stressFloor(what: string, args: string[]): Floor {
  let child: ChildProcess | undefined;
  return {
    what,
    apply: async (t) => {
      const o = onNode(t);
      const dirs = [
        ...new Set(['cpu', 'cpuacct', 'memory'].map((c) => o.cgroups![c]).filter(Boolean)),
      ];
      const move = dirs.map((d) => `echo $$ > ${d}/cgroup.procs`).join('; ');
      child = spawn(
        'sh',
        ['-c', `${move}; exec stress-ng ${args.join(' ')} --timeout 30s --quiet`],
        {
          detached: true,
          stdio: 'ignore',
        },
      );
      await new Promise((r) => child!.once('spawn', r));
    },
    undo: async () => {
      if (!child?.pid) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // gone
      }
      const c = child;
      if (c.exitCode === null && c.signalCode === null) await new Promise((r) => c.once('exit', r));
      await sleep(50); // the workers (same group) reaped
    },
  };
}

const freezer = (t: ResolvedTarget, state: string) =>
  Promise.resolve(writeFileSync(`${onNode(t).cgroups!.freezer!}/freezer.state`, state));

function nodePatch(t: ResolvedTarget, patch: Record<string, unknown>) {
  return kube.patch({ apiVersion: 'v1', kind: 'Node', metadata: { name: t.node! } }, patch);
}

const lookupPath = () => `/lookup?host=db.${ns}.svc.cluster.local.&timeoutMs=250`;

let pauseImage = '';
let echoImage = '';

const cases: Case[] = [
  // pod
  {
    family: 'pod',
    kind: 'pod-kill',
    label: 'pod-kill',
    params: {},
    detector: () => probe('/', notOk),
    state: () => deploymentState(),
    cleanTimeoutMs: 90_000,
    floor: {
      what: 'the pod deleted by one API call (kubectl delete pod)',
      apply: async (t) =>
        void (await kube.delete({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: podOf(t).name, namespace: ns },
        })),
      undo: () => Promise.resolve(),
    },
  },
  {
    family: 'pod',
    kind: 'pod-failure',
    label: 'pod-failure',
    params: {},
    detector: () => probe('/', notOk),
    state: () => deploymentState(),
    cleanTimeoutMs: 90_000,
    floor: {
      what: "the container's image patched to pause and back by hand",
      apply: async (t) =>
        void (await kube.patch(
          { apiVersion: 'v1', kind: 'Pod', metadata: { name: podOf(t).name, namespace: ns } },
          { spec: { containers: [{ name: 'echo', image: pauseImage }] } },
          { type: 'strategic' },
        )),
      undo: async (t) =>
        void (await kube.patch(
          { apiVersion: 'v1', kind: 'Pod', metadata: { name: podOf(t).name, namespace: ns } },
          { spec: { containers: [{ name: 'echo', image: echoImage }] } },
          { type: 'strategic' },
        )),
    },
  },
  // network
  {
    family: 'network',
    kind: 'packet-loss',
    label: 'packet-loss 100% in',
    params: { loss: 100, direction: 'inbound' },
    detector: () => probe('/', notOk),
    state: netState,
    floor: iptFloor('loss', [
      'INPUT',
      '-m',
      'statistic',
      '--mode',
      'random',
      '--probability',
      '1',
      '-j',
      'DROP',
    ]),
  },
  {
    family: 'network',
    kind: 'network-partition',
    label: 'network-partition in',
    params: { direction: 'ingress' },
    detector: () => probe('/', notOk),
    state: netState,
    floor: iptFloor('partition', ['INPUT', '!', '-i', 'lo', '-j', 'DROP']),
  },
  {
    family: 'network',
    kind: 'bandwidth',
    label: 'bandwidth 1mbit (qdisc)',
    params: { rate: '1mbit', direction: 'egress', burst: '32kb', latency: 400 },
    detector: (t) =>
      poll(25, async () => {
        const q = await inNet(t, 'tc', ['qdisc', 'show', 'dev', 'eth0']);
        return { affected: /tbf/.test(q), clean: !/tbf/.test(q), note: 'qdisc' };
      }),
    state: netState,
    floor: {
      what: 'tc qdisc add dev eth0 root tbf by hand (nsenter)',
      apply: async (t) =>
        void (await inNet(t, 'tc', [
          'qdisc',
          'add',
          'dev',
          'eth0',
          'root',
          'tbf',
          'rate',
          '1mbit',
          'burst',
          '32kb',
          'latency',
          '400ms',
        ])),
      undo: async (t) =>
        void (await inNet(t, 'tc', ['qdisc', 'del', 'dev', 'eth0', 'root']).catch(() => '')),
    },
  },
  // http
  {
    family: 'http',
    kind: 'http-error',
    label: 'http-error 503',
    params: { status: 503, percent: 100 },
    detector: () => probe('/', notOk),
    state: netState,
    floor: iptFloor('reset', RESET_APP_PORT),
  },
  {
    family: 'http',
    kind: 'http-delay',
    label: 'http-delay 400ms',
    params: { latency: 400, percent: 100 },
    detector: () => probe('/', notOk),
    state: netState,
    floor: iptFloor('reset', RESET_APP_PORT),
  },
  {
    family: 'http',
    kind: 'http-abort',
    label: 'http-abort',
    params: { percent: 100 },
    detector: () => probe('/', notOk),
    state: netState,
    floor: iptFloor('reset', RESET_APP_PORT),
  },
  // dns
  {
    family: 'dns',
    kind: 'dns-error',
    label: 'dns-error servfail db.*',
    params: { patterns: ['db.*'], error: 'servfail' },
    detector: () =>
      probe(lookupPath(), (a) => ({
        affected: a.status === 502,
        clean: a.status === 200,
        note: noteOf(a),
      })),
    state: netState,
    floor: iptFloor('dns', ['OUTPUT', '-p', 'udp', '--dport', '53', '-j', 'REJECT']),
  },
  // stress
  {
    family: 'stress',
    kind: 'cpu-hog',
    label: 'cpu-hog 100% of 0.5 CPU',
    params: { load: 100 },
    detector: cpuDetector,
    state: cgroupState,
    floor: stressFloor('stress-ng --cpu 1 started by hand in the cgroups', [
      '--cpu',
      '1',
      '--cpu-load',
      '100',
    ]),
  },
  {
    family: 'stress',
    kind: 'memory-hog',
    label: 'memory-hog 32 MiB',
    params: { bytes: 32 * MiB },
    detector: (t) => memoryDetector(t, 32 * MiB),
    state: cgroupState,
    floor: stressFloor('stress-ng --vm 1 started by hand in the cgroups', [
      '--vm',
      '1',
      '--vm-bytes',
      String(28 * MiB),
      '--vm-keep',
      '--vm-hang',
      '0',
    ]),
  },
  // process
  {
    family: 'process',
    kind: 'container-pause',
    label: 'container-pause (freezer)',
    params: {},
    detector: () => probe('/', notOk),
    state: cgroupState,
    floor: {
      what: 'freezer.state FROZEN/THAWED written by hand',
      apply: (t) => freezer(t, 'FROZEN'),
      undo: (t) => freezer(t, 'THAWED'),
    },
  },
  {
    family: 'process',
    kind: 'process-stop',
    label: 'process-stop echo',
    params: { process: 'echo' },
    detector: () => probe('/', notOk),
    state: cgroupState,
    floor: {
      what: 'kill -STOP / -CONT by hand',
      apply: (t) => Promise.resolve(void process.kill(onNode(t).containerPid!, 'SIGSTOP')),
      undo: (t) => Promise.resolve(void process.kill(onNode(t).containerPid!, 'SIGCONT')),
    },
  },
  // Kubernetes objects
  {
    family: 'k8s',
    kind: 'service-down',
    label: 'service-down no-endpoints',
    params: { mode: 'no-endpoints' },
    detector: () => probe('/', notOk),
    state: () => serviceState(),
    floor: {
      what: "the Service's selector patched by hand",
      apply: async () =>
        void (await kube.patch(
          { apiVersion: 'v1', kind: 'Service', metadata: { name: 'echo', namespace: ns } },
          { spec: { selector: { 'gantry.dev/chaos': 'floor' } } },
        )),
      undo: async () =>
        void (await kube.patch(
          { apiVersion: 'v1', kind: 'Service', metadata: { name: 'echo', namespace: ns } },
          { spec: { selector: { 'gantry.dev/chaos': null } } },
        )),
    },
  },
  {
    family: 'k8s',
    kind: 'node-cordon',
    label: 'node-cordon',
    params: {},
    detector: (t) =>
      poll(20, async () => {
        const u = (await nodeSpec(t.node!)).spec?.unschedulable === true;
        return { affected: u, clean: !u, note: 'unschedulable' };
      }),
    state: nodeState,
    floor: {
      what: 'the Node patched unschedulable by hand',
      apply: async (t) =>
        void (await nodePatch(t, {
          metadata: { annotations: { [FLOOR_MARK]: 'cordon' } },
          spec: { unschedulable: true },
        })),
      undo: async (t) =>
        void (await nodePatch(t, {
          metadata: { annotations: { [FLOOR_MARK]: null } },
          spec: { unschedulable: null },
        })),
    },
  },
  {
    family: 'k8s',
    kind: 'node-taint',
    label: 'node-taint NoSchedule',
    params: { effect: 'NoSchedule' },
    detector: (t) =>
      poll(20, async () => {
        const has = !!(await nodeSpec(t.node!)).spec?.taints?.some((x) =>
          x.key.startsWith('gantry.dev/'),
        );
        return { affected: has, clean: !has, note: 'taint' };
      }),
    state: nodeState,
    floor: {
      what: 'a NoSchedule taint patched on the Node by hand',
      apply: async (t) => {
        const before = (await nodeSpec(t.node!)).spec?.taints ?? [];
        await nodePatch(t, {
          spec: { taints: [...before, { key: FLOOR_MARK, value: 'x', effect: 'NoSchedule' }] },
        });
      },
      undo: async (t) => {
        const left = ((await nodeSpec(t.node!)).spec?.taints ?? []).filter(
          (x) => x.key !== FLOOR_MARK,
        );
        await nodePatch(t, { spec: { taints: left.length ? left : null } });
      },
    },
  },
];

// --- what the helper pods and records did, seen by watches ---------------------------

/** Per record id: when each thing was first seen. */
const seen = new Map<string, Record<string, number>>();
function mark(rid: string, what: string, at = Date.now()) {
  let m = seen.get(rid);
  if (!m) seen.set(rid, (m = {}));
  m[what] ??= at;
}

async function startWatches(): Promise<() => void> {
  const sel = { labelSelector: `${EXPERIMENT_LABEL}=${EXPERIMENT}` };
  const stops: (() => void)[] = [];
  stops.push(
    await kube.watch<V1Pod>(`/api/v1/namespaces/${CHAOS_NAMESPACE}/pods`, sel, (type, p) => {
      const rid = p.metadata?.labels?.['gantry.dev/chaos-record'];
      if (!rid || p.metadata?.labels?.[HELPER_LABEL] === 'revert') return;
      if (type === 'ADDED') mark(rid, 'created');
      if (p.status?.containerStatuses?.[0]?.state?.running) mark(rid, 'running');
      if (p.metadata?.deletionTimestamp) mark(rid, 'deleting');
      if (type === 'DELETED') mark(rid, 'podGone');
    }),
  );
  stops.push(
    await kube.watch<{ metadata?: { name?: string }; data?: Record<string, string> }>(
      `/api/v1/namespaces/${CHAOS_NAMESPACE}/configmaps`,
      sel,
      (type, cm) => {
        const rid = cm.metadata?.name ?? '';
        if (type === 'ADDED') mark(rid, 'recorded');
        if (cm.data?.state === 'injected') mark(rid, 'injected');
        if (cm.data?.state === 'reverting') mark(rid, 'reverting');
        if (type === 'DELETED') mark(rid, 'recordGone');
      },
    ),
  );
  return () => stops.forEach((s) => s());
}

/** The agent's log: when its program started and when its last op was applied. */
async function agentTimes(rid: string): Promise<{ agent?: number; applied?: number }> {
  // Its own pod, or the standby that took the record (GANTRY_CHAOS_STANDBY=1).
  const pods = await kube
    .list<V1Pod>('v1', 'Pod', CHAOS_NAMESPACE, { labelSelector: `${RECORD_LABEL}=${rid}` })
    .catch(() => [] as V1Pod[]);
  const name =
    pods.find((p) => p.metadata?.labels?.[HELPER_LABEL] !== 'revert')?.metadata?.name ??
    helperPodName(rid, 'node');
  const text = await kube.logTail(CHAOS_NAMESPACE, name, 'agent', 60).catch(() => '');
  const at = (re: RegExp) => {
    const hits = text.split('\n').filter((l) => re.test(l));
    const t = hits.length ? Date.parse(hits.at(-1)!.split(' ')[0]!) : Number.NaN;
    return Number.isFinite(t) ? t : undefined;
  };
  const agent = at(/ agent (node|watchdog) \S+: started/);
  const applied = at(/ applied /);
  return { ...(agent ? { agent } : {}), ...(applied ? { applied } : {}) };
}

// --- one run ---------------------------------------------------------------------

interface RunResult {
  family: Family;
  label: string;
  floor: boolean;
  effectMs: number;
  revertMs: number;
  /** The first affected observation. */
  firstNote: string;
  parts: Record<string, number>;
}

const ctx: FaultContext = {
  kube,
  spec: parseSpec(
    `apiVersion: gantry.dev/v1alpha1\nname: echo\nnamespace: ${ns}\nimage: x\nports: [{ containerPort: 8080, servicePort: 80 }]\n`,
  ),
  experiment: EXPERIMENT,
  emit: () => undefined,
};

/** What a floor run applied by hand and has not undone yet (undone on exit). */
const pendingUndo = new Set<() => Promise<void>>();
const activeFaults = new Set<ActiveFault>();

async function baseline(d: Detector) {
  await until('a clean baseline (4 clean observations)', 60_000, () =>
    d.samples.filter((s) => s.done && s.clean).length >= 4 ? true : undefined,
  );
}

async function stateBack(
  c: Case,
  t: ResolvedTarget,
  before: string,
  from: number,
): Promise<number> {
  let last = '';
  return until(
    `${c.label}: the state as before`,
    c.cleanTimeoutMs ?? 30_000,
    async () => {
      last = await c.state(t).catch((e: unknown) => String(e));
      return last === before ? Date.now() : undefined;
    },
    50,
  ).then(
    (at) => Math.max(at, from),
    (err: unknown) => {
      throw new Error(`${String(err)}\nbefore: ${before}\nnow:    ${last}`);
    },
  );
}

async function oneRun(c: Case, floor: boolean): Promise<RunResult> {
  const t = await currentTarget();
  const before = await c.state(t);
  const d = c.detector(t);
  d.start();
  try {
    await baseline(d);
    const parts: Record<string, number> = {};
    const t0 = Date.now();
    let fault: ActiveFault | undefined;
    let undo: (() => Promise<void>) | undefined;
    if (floor) {
      undo = () => c.floor!.undo(t);
      pendingUndo.add(undo);
      await c.floor!.apply(t);
    } else {
      const def = faultByKind(c.kind)!;
      const problems = await def.preflight(ctx, c.params, t);
      if (problems.length) throw new Error(`${c.kind} refused: ${problems.join('; ')}`);
      fault = await def.inject(ctx, c.params, t, FAULT_MS);
      activeFaults.add(fault);
      parts.returned = Date.now() - t0;
    }
    const hit = await until(`${c.label}: in effect`, 20_000, () => firstAffected(d, t0));
    if (fault) {
      const m = seen.get(fault.id) ?? {};
      for (const k of ['created', 'running', 'injected'] as const)
        if (m[k] !== undefined) parts[k] = m[k] - t0;
      const a = await agentTimes(fault.id);
      if (a.agent) parts.agent = a.agent - t0;
      if (a.applied) parts.applied = a.applied - t0;
    }
    const tR = Date.now();
    const reverting = fault ? fault.revert() : undo!();
    const stateAt = stateBack(c, t, before, tR);
    const clean = await until(`${c.label}: clean again`, c.cleanTimeoutMs ?? 30_000, () =>
      firstClean(d, tR),
    );
    await reverting;
    if (undo) pendingUndo.delete(undo);
    const same = await stateAt;
    if (fault) {
      await Promise.race([fault.ended, sleep(60_000)]);
      activeFaults.delete(fault);
      const m = seen.get(fault.id) ?? {};
      if (m.recordGone !== undefined) parts.recordGone = m.recordGone - tR;
    }
    parts.clean = clean - tR;
    parts.stateSame = same - tR;
    return {
      family: c.family,
      label: c.label,
      floor,
      effectMs: hit.at - t0,
      revertMs: Math.max(clean, same) - tR,
      firstNote: hit.note,
      parts,
    };
  } finally {
    d.stop();
  }
}

// --- the command itself ------------------------------------------------------------

const gantryBin = new URL('../../packages/gantry/bin/gantry.js', import.meta.url).pathname;
const specFile = `/tmp/${ns}-gantry.yaml`;

/**
 * `gantry chaos http-error -f gantry.yaml --status 503 --duration 3s` as a user runs it: from
 * the spawn of the CLI to the first affected request (what the in-process runs leave out:
 * Node's start, the CLI bundle, kubeconfig, target resolution, preflight, the helper image
 * check); it reverts by itself at its expiry and exits 0.
 */
async function cliRun(): Promise<number> {
  const t = await currentTarget();
  const before = await netState(t);
  const d = probe('/', notOk);
  d.start();
  try {
    await baseline(d);
    const t0 = Date.now();
    const child = spawn(
      process.execPath,
      [
        gantryBin,
        'chaos',
        'http-error',
        '-f',
        specFile,
        '--status',
        '503',
        '--duration',
        '3s',
        '--max-percent',
        '100',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number>((r) => child.on('exit', (c) => r(c ?? -1)));
    const hit = await until('gantry chaos http-error: in effect', 30_000, () =>
      firstAffected(d, t0),
    ).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}; the command said:\n${out}`);
    });
    const code = await Promise.race([exited, sleep(60_000).then(() => -2)]);
    if (code !== 0) throw new Error(`gantry chaos http-error exited ${code}:\n${out}`);
    if ((await netState(t)) !== before)
      throw new Error('gantry chaos http-error left the netns changed');
    return hit.at - t0;
  } finally {
    d.stop();
  }
}

// --- setup, cleanup --------------------------------------------------------------

async function deploy(): Promise<void> {
  echoImage = pushEchoImage(env, 'bench/chaos-echo', id);
  const [gwNs, gwName] = env.GANTRY_GATEWAY.split('/');
  kubectl(
    env,
    ['apply', '-f', '-'],
    `apiVersion: v1
kind: Namespace
metadata: { name: ${ns}, labels: { gantry.dev/bench: chaos } }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: echo, namespace: ${ns} }
spec:
  replicas: 1
  selector: { matchLabels: { app.kubernetes.io/name: echo } }
  template:
    metadata: { labels: { app.kubernetes.io/name: echo, app.kubernetes.io/instance: echo, gantry.dev/track: stable } }
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: echo
          image: ${echoImage}
          ports: [{ containerPort: 8080 }]
          readinessProbe: { httpGet: { path: /healthz, port: 8080 }, periodSeconds: 1 }
          resources:
            requests: { cpu: 10m, memory: 16Mi }
            limits: { cpu: 500m, memory: 128Mi }
---
apiVersion: v1
kind: Service
metadata: { name: echo, namespace: ${ns} }
spec:
  selector: { app.kubernetes.io/name: echo }
  ports: [{ port: 80, targetPort: 8080 }]
---
apiVersion: v1
kind: Service
metadata: { name: db, namespace: ${ns} }
spec:
  selector: { app.kubernetes.io/name: echo }
  ports: [{ port: 5432, targetPort: 8080 }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: echo, namespace: ${ns} }
spec:
  parentRefs: [{ name: ${gwName}, namespace: ${gwNs} }]
  hostnames: [${HOST}]
  rules: [{ backendRefs: [{ name: echo, port: 80 }] }]
`,
  );
  writeFileSync(
    specFile,
    `apiVersion: gantry.dev/v1alpha1\nname: echo\nnamespace: ${ns}\nimage: ${echoImage}\nports: [{ containerPort: 8080, servicePort: 80 }]\n`,
  );
  const t = await currentTarget();
  // The node's sandbox image (the local cluster's: its status may not list it).
  pauseImage =
    (await pauseImageOn(kube, t.node!)) ?? `${env.GANTRY_REGISTRY}/gantry/pause:3.10-gantry`;
  for (const c of cases) if (c.kind === 'pod-failure') c.params.image = pauseImage;
  const d = probe('/', notOk);
  d.start();
  try {
    await baseline(d);
  } finally {
    d.stop();
  }
  const dl = probe(lookupPath(), (a) => ({
    affected: a.status !== 200,
    clean: a.status === 200,
    note: noteOf(a),
  }));
  dl.start();
  try {
    await baseline(dl);
  } finally {
    dl.stop();
  }
}

/**
 * Everything a bench run may leave, ended: its faults (abort: helpers SIGTERMed, records
 * reverted), floors made by hand, the Node's floor cordon/taint, the namespaces. Then the
 * check: no undo record and no helper pod of a bench-chaos experiment, the Node clean.
 * Returns what is still left.
 */
export async function cleanup(k: KubeClient): Promise<string[]> {
  for (const u of pendingUndo) await u().catch(() => undefined);
  pendingUndo.clear();
  for (const f of activeFaults) await f.revert().catch(() => undefined);
  // The bench's own runs, and the CLI's (its experiment is named by the CLI; the namespace is ours).
  const ours = (await listRecords(k)).filter(
    (r) => r.experiment.startsWith(PREFIX) || r.namespace.startsWith(PREFIX),
  );
  for (const exp of new Set(ours.map((r) => r.experiment)))
    await abort(k, { experiment: exp }).catch(() => undefined);
  // Standby helpers a GANTRY_CHAOS_STANDBY=1 run left waiting.
  await sh(
    'kubectl',
    [
      '-n',
      CHAOS_NAMESPACE,
      'delete',
      'pods',
      '-l',
      `${HELPER_LABEL}=standby`,
      '--ignore-not-found',
      '--wait=true',
      '--timeout=60s',
    ],
    90_000,
  ).catch(() => '');
  for (const n of await k.list<V1Node>('v1', 'Node', undefined)) {
    const name = n.metadata!.name!;
    const taints = n.spec?.taints ?? [];
    const keep = taints.filter((x) => x.key !== FLOOR_MARK);
    if (keep.length !== taints.length)
      await k.patch(
        { apiVersion: 'v1', kind: 'Node', metadata: { name } },
        {
          spec: { taints: keep.length ? keep : null },
        },
      );
    if (n.metadata?.annotations?.[FLOOR_MARK])
      await k.patch(
        { apiVersion: 'v1', kind: 'Node', metadata: { name } },
        {
          metadata: { annotations: { [FLOOR_MARK]: null } },
          spec: { unschedulable: null },
        },
      );
  }
  await sh(
    'kubectl',
    ['delete', 'namespace', '-l', LABEL, '--wait=true', '--timeout=120s', '--ignore-not-found'],
    150_000,
  ).catch(() => '');
  // What is left, after the helpers' grace.
  const left: string[] = [];
  await until(
    'bench helpers gone',
    60_000,
    async () => {
      const pods = await k
        .list<V1Pod>('v1', 'Pod', CHAOS_NAMESPACE, { labelSelector: HELPER_LABEL })
        .catch(() => [] as V1Pod[]);
      return pods.some(
        (p) =>
          p.metadata?.labels?.[EXPERIMENT_LABEL]?.startsWith(PREFIX) ||
          p.metadata?.labels?.[HELPER_LABEL] === 'standby',
      )
        ? undefined
        : true;
    },
    500,
  ).catch(() => left.push('helper pods of bench-chaos experiments still there'));
  rmSync(specFile, { force: true });
  const records = (await listRecords(k)).filter(
    (r) => r.experiment.startsWith(PREFIX) || r.namespace.startsWith(PREFIX),
  );
  if (records.length) left.push(`undo records left: ${records.map((r) => r.id).join(', ')}`);
  for (const n of await k.list<V1Node>('v1', 'Node', undefined)) {
    if (n.metadata?.annotations?.[FLOOR_MARK]) left.push(`node ${n.metadata.name} still marked`);
    if (n.spec?.taints?.some((x) => x.key === FLOOR_MARK || x.value?.startsWith(PREFIX)))
      left.push(`node ${n.metadata?.name} still tainted by the bench`);
  }
  return left;
}

function machineLoad(): string {
  return `load average ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')} on ${cpus().length} cores`;
}

// --- the report ------------------------------------------------------------------

const PART_ORDER = ['created', 'running', 'agent', 'applied', 'injected', 'returned'];

function report(
  results: RunResult[],
  cli: number[],
  loadBefore: string,
  loadAfter: string,
): boolean {
  const cpu = readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/)?.[1] ?? '?';
  console.log(
    `\nbench/chaos — ${new Date().toISOString()} — ${runs} runs per family (${floorRuns} floor runs per case), ` +
      `helpers: ${process.env.GANTRY_CHAOS_STANDBY === '1' ? 'standby (GANTRY_CHAOS_STANDBY=1)' : 'a pod per fault'}, ${cpu}, ${cpus().length} cores`,
  );
  console.log(`before: ${loadBefore}\nafter:  ${loadAfter}\n`);
  console.log(
    'family    runs  in effect ms: median   max  floor  ratio | reverted ms: median   max  floor  ratio | targets (2000 / 1000)',
  );
  let allMet = true;
  for (const fam of FAMILIES) {
    const rs = results.filter((r) => r.family === fam && !r.floor);
    if (rs.length === 0) continue;
    const fl = results.filter((r) => r.family === fam && r.floor);
    const e = rs.map((r) => r.effectMs);
    const v = rs.map((r) => r.revertMs);
    const fe = median(fl.map((r) => r.effectMs));
    const fv = median(fl.map((r) => r.revertMs));
    const met = median(e) <= 2000 && median(v) <= 1000;
    allMet &&= met;
    console.log(
      `${fam.padEnd(9)}${String(rs.length).padStart(5)}  ${ms(median(e))}${ms(Math.max(...e))} ${ms(fe)} ${(median(e) / fe).toFixed(1).padStart(6)}` +
        `            ${ms(median(v))}${ms(Math.max(...v))} ${ms(fv)} ${(median(v) / fv).toFixed(1).padStart(6)}   ${met ? 'met' : 'NOT met'}`,
    );
  }
  console.log('\nper case (median ms; first affected observation of each run):');
  for (const c of cases) {
    const rs = results.filter((r) => r.label === c.label && !r.floor);
    if (rs.length === 0) continue;
    const fl = results.filter((r) => r.label === c.label && r.floor);
    const notes = new Map<string, number>();
    for (const r of rs) notes.set(r.firstNote, (notes.get(r.firstNote) ?? 0) + 1);
    console.log(
      `  ${c.label.padEnd(28)} n=${String(rs.length).padStart(2)} in effect ${ms(median(rs.map((r) => r.effectMs)))} ` +
        `(floor ${ms(median(fl.map((r) => r.effectMs)))}), reverted ${ms(median(rs.map((r) => r.revertMs)))} ` +
        `(floor ${ms(median(fl.map((r) => r.revertMs)))}); first: ${[...notes].map(([k, n]) => `${k} x${n}`).join(', ')}`,
    );
  }
  console.log(
    "\nwhere the time goes (median ms from the command): helper pod created, its container running, the agent's first line, the last op applied, record injected, inject() returned; from revert(): record gone, first clean, state as before",
  );
  console.log(
    `  ${'family'.padEnd(9)}${PART_ORDER.map((p) => p.padStart(9)).join('')}${['recordGone', 'clean', 'stateSame'].map((p) => p.padStart(11)).join('')}`,
  );
  for (const fam of FAMILIES) {
    const rs = results.filter((r) => r.family === fam && !r.floor);
    if (rs.length === 0) continue;
    const part = (p: string) =>
      median(rs.map((r) => r.parts[p]).filter((x): x is number => x !== undefined));
    console.log(
      `  ${fam.padEnd(9)}${PART_ORDER.map((p) => ms(part(p)).padStart(9)).join('')}${['recordGone', 'clean', 'stateSame'].map((p) => ms(part(p)).padStart(11)).join('')}`,
    );
  }
  if (cli.length) {
    const inproc = median(
      results.filter((r) => r.label === 'http-error 503' && !r.floor).map((r) => r.effectMs),
    );
    console.log(
      `\nthe CLI: gantry chaos http-error -f gantry.yaml --status 503 --duration 3s, from its spawn: in effect ` +
        `median ${Math.round(median(cli))} ms, max ${Math.round(Math.max(...cli))} ms (${cli.length} runs); ` +
        `inject() of the same fault in-process: ${Math.round(inproc)} ms; the CLI's own start ~${Math.round(median(cli) - inproc)} ms`,
    );
  }
  console.log('\nfloors:');
  for (const c of cases) if (c.floor) console.log(`  ${c.label.padEnd(28)} ${c.floor.what}`);
  return allMet;
}

// --- main ------------------------------------------------------------------------

async function main(): Promise<void> {
  if (process.getuid?.() !== 0)
    throw new Error('bench/chaos needs root on the node (nsenter, cgroups), as the chaos tests do');
  const leftBefore = await cleanup(kube);
  if (leftBefore.length) throw new Error(`an earlier run left: ${leftBefore.join('; ')}`);
  const loadBefore = machineLoad();
  process.stderr.write(`bench/chaos: ${runs} runs per family; ${loadBefore}\n`);
  // The helper image built and pushed, and on the node (one untimed fault of each kind of
  // helper: node and watchdog), so runs measure the warm path.
  await helperImageFor({ emit: (m) => process.stderr.write(`${m}\n`) });
  await deploy();
  const stopWatches = await startWatches();
  const results: RunResult[] = [];
  const failures: string[] = [];
  try {
    const warm = cases.filter((c) => c.kind === 'packet-loss' || c.kind === 'service-down');
    for (const c of warm) await oneRun(c, false);
    for (const fam of FAMILIES) {
      if (only.length && !only.includes(fam)) continue;
      const cs = cases.filter((c) => c.family === fam);
      for (let i = 0; i < runs; i++) {
        const c = cs[i % cs.length]!;
        await sleep(Math.random() * 300);
        let r: RunResult;
        try {
          r = await oneRun(c, false);
        } catch (err) {
          // A run that never took effect (or never came back) is a finding, not the end.
          failures.push(
            `${c.label}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`,
          );
          process.stderr.write(`${fam} ${i + 1}/${runs} ${c.label}: FAILED: ${String(err)}\n`);
          for (const f of activeFaults) await f.revert().catch(() => undefined);
          activeFaults.clear();
          continue;
        }
        results.push(r);
        process.stderr.write(
          `${fam} ${i + 1}/${runs} ${c.label}: in effect ${Math.round(r.effectMs)} ms (${r.firstNote}), reverted ${Math.round(r.revertMs)} ms  ${JSON.stringify(r.parts)}\n`,
        );
      }
      for (const c of cs) {
        if (!c.floor) continue;
        for (let i = 0; i < floorRuns; i++) {
          const r = await oneRun(c, true);
          results.push(r);
          process.stderr.write(
            `${fam} floor ${c.label}: in effect ${Math.round(r.effectMs)} ms, reverted ${Math.round(r.revertMs)} ms\n`,
          );
        }
      }
    }
  } finally {
    stopWatches();
  }
  const cli: number[] = [];
  if (cliRuns > 0 && (!only.length || only.includes('http'))) {
    // Untimed first: the CLI bundle's helper image (its agent from dist/) pushed and pulled.
    await cliRun();
  }
  if (!only.length || only.includes('http'))
    for (let i = 0; i < cliRuns; i++) {
      cli.push(await cliRun());
      process.stderr.write(`cli ${i + 1}/${cliRuns}: in effect ${cli.at(-1)} ms after the spawn\n`);
    }
  const loadAfter = machineLoad();
  const met = report(results, cli, loadBefore, loadAfter);
  if (failures.length)
    console.log(`\nfailed runs (${failures.length}):\n${failures.map((f) => `  ${f}`).join('\n')}`);
  if (process.env.BENCH_JSON)
    writeFileSync(process.env.BENCH_JSON, JSON.stringify(results, null, 2));
  console.log(
    `\ntargets (median in effect <= 2 s, reverted <= 1 s): ${met ? 'met by every family' : 'NOT met by every family'}`,
  );
}

let exiting = false;
async function finish(code: number): Promise<never> {
  if (!exiting) {
    exiting = true;
    const left = await cleanup(kube).catch((e: unknown) => [`cleanup failed: ${String(e)}`]);
    if (left.length) {
      console.error(`bench/chaos: left behind: ${left.join('; ')}`);
      code = code || 1;
    } else console.error('bench/chaos: clean (no undo record, no helper pod, node as before)');
  }
  process.exit(code);
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => void finish(130));

if (process.argv[2] === 'cleanup') {
  await finish(0);
} else {
  try {
    await main();
    await finish(0);
  } catch (err) {
    console.error(`bench/chaos: ${err instanceof Error ? err.stack : String(err)}`);
    await finish(1);
  }
}
