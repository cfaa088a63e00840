// Process and container faults, run by the agent on the target's node (hostPID,
// the host's cgroup fs): container-kill (SIGKILL the container's main process;
// the kubelet restarts it), process-kill (a signal to the processes of the
// container matching a name, an in-container pid or a /regex/ on the command
// line), process-stop (SIGSTOP, SIGCONT on revert) and container-pause (the
// cgroup v1 freezer: FROZEN, THAWED on revert). Revert needs nothing but the
// op's args and the freshly resolved target, so a new helper process can do it.
//
// The helpers at the bottom (args, /proc scans, cgroup joining) are shared with
// ops/stress.ts. Only node: built-ins here (see ../op.ts).
import { spawn as spawnChild } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AgentOp, OpContext, OpTarget } from '../op.js';
import { HOST_CGROUP, MARK_ENV, cgroupDirs, mainProcess, markOf, procStat } from '../target.js';

export { MARK_ENV, markOf } from '../target.js';

/** Signals a process fault may send, by name. */
export const SIGNALS = [
  'SIGKILL',
  'SIGTERM',
  'SIGINT',
  'SIGQUIT',
  'SIGHUP',
  'SIGUSR1',
  'SIGUSR2',
  'SIGSTOP',
  'SIGCONT',
] as const;
export type SignalName = (typeof SIGNALS)[number];

// ---- container-kill ----

const containerKill: AgentOp = {
  name: 'container-kill',
  // Whether the container runs is checked by the agent itself (the preflight check
  // resolves the pod only); killing a process needs nothing of the node.
  check: () => Promise.resolve([]),
  apply: (ctx, target) => {
    const pid = mainPid(target);
    process.kill(pid, 'SIGKILL');
    ctx.log(
      `container-kill: SIGKILL sent to the container's main process (pid ${pid} on the node)`,
    );
    return Promise.resolve();
  },
  // A killed process is not brought back by us: the kubelet restarts the container.
  revert: () => Promise.resolve(),
  snapshot: (_ctx, target) => Promise.resolve(`main pid ${containerMainPid(target) ?? 'none'}`),
};

// ---- process-kill / process-stop ----

const processKill: AgentOp = {
  name: 'process-kill',
  check: (_ctx, target, args) => Promise.resolve(processProblems(target, args, true)),
  apply: async (ctx, target, args) => {
    const signal = signalArg(args);
    const matched = matchProcesses(target, str(args, 'process'));
    if (matched.length === 0) {
      throw new Error(
        `process-kill: no process of the container matches "${str(args, 'process')}" ` +
          `(running: ${describeProcesses(containerProcesses(target))})`,
      );
    }
    for (const p of matched) signalPid(p.pid, signal);
    ctx.log(`process-kill: ${signal} sent to ${describeProcesses(matched)}`);
    return Promise.resolve();
  },
  // A signal cannot be taken back; what it did is the fault.
  revert: () => Promise.resolve(),
  snapshot: (_ctx, target) => Promise.resolve(describeProcesses(containerProcesses(target))),
};

const processStop: AgentOp = {
  name: 'process-stop',
  check: (_ctx, target, args) => Promise.resolve(processProblems(target, args, false)),
  apply: (ctx, target, args) => {
    const matched = matchProcesses(target, str(args, 'process'));
    if (matched.length === 0) {
      throw new Error(
        `process-stop: no process of the container matches "${str(args, 'process')}" ` +
          `(running: ${describeProcesses(containerProcesses(target))})`,
      );
    }
    for (const p of matched) signalPid(p.pid, 'SIGSTOP');
    ctx.log(`process-stop: SIGSTOP sent to ${describeProcesses(matched)}`);
    return Promise.resolve();
  },
  // SIGCONT to every process of the container that matches now: a running process
  // ignores it, so this is idempotent, and it needs no pid list from the first helper.
  revert: (ctx, target, args) => {
    if (!target) return Promise.resolve();
    const matched = matchProcesses(target, str(args, 'process'));
    for (const p of matched) signalPid(p.pid, 'SIGCONT');
    if (matched.length > 0) ctx.log(`process-stop: SIGCONT sent to ${describeProcesses(matched)}`);
    return Promise.resolve();
  },
  snapshot: (_ctx, target) =>
    Promise.resolve(
      containerProcesses(target)
        .map((p) => `${p.comm}:${processState(p.pid)}`)
        .join(' '),
    ),
};

// ---- container-pause ----

const FREEZE_WAIT_MS = 5000;

const containerPause: AgentOp = {
  name: 'container-pause',
  check: (_ctx, target) => {
    if (!hasFreezer()) {
      return Promise.resolve([
        `the node has no cgroup v1 freezer controller (${HOST_CGROUP}/freezer missing; ` +
          'a cgroup v2 node is not supported by container-pause yet)',
      ]);
    }
    // Preflight resolves the pod without its container: the container's own cgroup is
    // checked when the helper applies the op.
    if (target.containerPid === undefined) return Promise.resolve([]);
    const dir = target.cgroups?.freezer;
    if (!dir || !existsSync(join(dir, 'freezer.state'))) {
      return Promise.resolve([
        `the target container has no freezer cgroup (${dir ?? 'not resolved'}/freezer.state missing)`,
      ]);
    }
    return Promise.resolve([]);
  },
  apply: async (ctx, target) => {
    const dir = target.cgroups?.freezer;
    if (!dir) throw new Error('container-pause: the container has no freezer cgroup');
    await setFreezer(dir, 'FROZEN');
    ctx.log(`container-pause: ${dir} FROZEN`);
  },
  revert: async (ctx, target) => {
    const dir = target?.cgroups?.freezer;
    if (!dir || !existsSync(join(dir, 'freezer.state'))) return;
    if (readFileSync(join(dir, 'freezer.state'), 'utf8').trim() === 'THAWED') return;
    await setFreezer(dir, 'THAWED');
    ctx.log(`container-pause: ${dir} THAWED`);
  },
  snapshot: (_ctx, target) => {
    const dir = target.cgroups?.freezer;
    return Promise.resolve(
      dir && existsSync(join(dir, 'freezer.state'))
        ? `freezer.state ${readFileSync(join(dir, 'freezer.state'), 'utf8').trim()}`
        : 'no freezer',
    );
  },
};

function hasFreezer(): boolean {
  return existsSync(join(HOST_CGROUP, 'freezer'));
}

/** Writes the state and waits (bounded) until the kernel reports it; FROZEN that does not settle is undone. */
async function setFreezer(dir: string, state: 'FROZEN' | 'THAWED'): Promise<void> {
  const file = join(dir, 'freezer.state');
  const deadline = Date.now() + FREEZE_WAIT_MS;
  for (let i = 0; ; i++) {
    // Re-written each round: a task forked while FREEZING can keep the cgroup there.
    writeFileSync(file, state);
    if (readFileSync(file, 'utf8').trim() === state) return;
    if (Date.now() > deadline) {
      if (state === 'FROZEN') writeFileSync(file, 'THAWED');
      throw new Error(`${file} did not reach ${state} within ${FREEZE_WAIT_MS} ms`);
    }
    await sleep(Math.min(10 * (i + 1), 100));
  }
}

export const processOps: AgentOp[] = [containerKill, processKill, processStop, containerPause];

// ---- shared helpers (also used by ops/stress.ts) ----

export function str(args: Record<string, unknown>, key: string): string {
  const v = args[key];
  if (typeof v !== 'string' || v === '') throw new Error(`op argument "${key}" must be a string`);
  return v;
}

export function optNum(args: Record<string, unknown>, key: string): number | undefined {
  const v = args[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new Error(`op argument "${key}" must be a number`);
  }
  return v;
}

function signalArg(args: Record<string, unknown>): SignalName {
  const s = args.signal ?? 'SIGKILL';
  if (typeof s !== 'string' || !(SIGNALS as readonly string[]).includes(s)) {
    throw new Error(`op argument "signal" must be one of ${SIGNALS.join(', ')}`);
  }
  return s as SignalName;
}

function mainPid(target: OpTarget): number {
  const pid = containerMainPid(target);
  if (pid === undefined) throw new Error('the target container is not running');
  return pid;
}

/**
 * The container's main process: target.containerPid as resolveTarget chose it (never a
 * process an op placed in the container's cgroups: agent/target.ts' mainProcess), while
 * it still runs in the container; else chosen again the same way among the cgroup's
 * processes (the container restarted since the target was resolved).
 */
export function containerMainPid(target: OpTarget): number | undefined {
  const given = target.containerPid;
  const dir = cgroupDirForProcs(target);
  if (!dir) return given;
  const pids = cgroupPids(dir);
  if (given !== undefined && pids.includes(given) && markOf(given) === undefined) return given;
  return mainProcess(pids) ?? given;
}

function processProblems(
  target: OpTarget,
  args: Record<string, unknown>,
  withSignal: boolean,
): string[] {
  const out: string[] = [];
  if (target.containerPid !== undefined && !cgroupDirForProcs(target)) {
    out.push("the target container's cgroups were not resolved");
  }
  try {
    str(args, 'process');
  } catch (err) {
    out.push((err as Error).message);
  }
  if (withSignal) {
    try {
      signalArg(args);
    } catch (err) {
      out.push((err as Error).message);
    }
  }
  return out;
}

export interface ProcInfo {
  /** pid on the node. */
  pid: number;
  /** pid inside the container's pid namespace. */
  nsPid: number;
  comm: string;
  cmdline: string;
}

function cgroupDirForProcs(target: OpTarget): string | undefined {
  const c = target.cgroups ?? {};
  for (const k of ['pids', 'freezer', 'memory', 'cpu', 'cpuacct', 'blkio', 'devices']) {
    const d = c[k];
    if (d && existsSync(join(d, 'cgroup.procs'))) return d;
  }
  return undefined;
}

/** pids (on the node) of the processes in one cgroup directory. */
export function cgroupPids(dir: string): number[] {
  try {
    return readFileSync(join(dir, 'cgroup.procs'), 'utf8')
      .split('\n')
      .filter((x) => x !== '')
      .map(Number);
  } catch {
    return [];
  }
}

/** The processes of the target container (its cgroup's processes), with names and in-container pids. */
export function containerProcesses(target: OpTarget, exceptMarked = true): ProcInfo[] {
  const dir = cgroupDirForProcs(target);
  if (!dir) return [];
  const out: ProcInfo[] = [];
  for (const pid of cgroupPids(dir)) {
    const info = procInfo(pid);
    // Processes a stress op placed in the container's cgroup are not the container's own.
    if (info && !(exceptMarked && markOf(pid) !== undefined)) out.push(info);
  }
  return out;
}

function procInfo(pid: number): ProcInfo | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const nsLine = /^NSpid:\s*(.*)$/m.exec(status)?.[1] ?? String(pid);
    const nsPid = Number(nsLine.trim().split(/\s+/).pop());
    const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
    return { pid, nsPid, comm, cmdline };
  } catch {
    return undefined; // gone meanwhile
  }
}

/**
 * The container's processes that a pattern names: a number is the pid inside the
 * container; "/re/" is a regular expression on the command line; anything else is
 * a process name (its comm, or the base name of its first argument).
 */
export function matchProcesses(target: OpTarget, pattern: string): ProcInfo[] {
  const all = containerProcesses(target);
  if (/^\d+$/.test(pattern)) return all.filter((p) => p.nsPid === Number(pattern));
  const re = /^\/(.+)\/$/.exec(pattern);
  if (re?.[1]) {
    const r = new RegExp(re[1]);
    return all.filter((p) => r.test(p.cmdline));
  }
  return all.filter(
    (p) =>
      p.comm === pattern ||
      p.comm === pattern.slice(0, 15) ||
      (p.cmdline.split(' ')[0] ?? '').split('/').pop() === pattern,
  );
}

export function describeProcesses(ps: ProcInfo[]): string {
  if (ps.length === 0) return 'none';
  return ps
    .map((p) => `${p.comm} (pid ${p.nsPid} in the container, ${p.pid} on the node)`)
    .join(', ');
}

function processState(pid: number): string {
  try {
    return /^State:\s*(\S+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '?';
  } catch {
    return 'gone';
  }
}

function signalPid(pid: number, signal: SignalName): void {
  try {
    process.kill(pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

// ---- markers: finding the processes an op started, from a fresh helper ----
// (MARK_ENV and markOf live in ../target.ts, which excludes marked processes when it
// chooses a container's main process.)

export function markerArg(args: Record<string, unknown>): string {
  const m = str(args, 'marker');
  if (!/^[a-z0-9][a-z0-9-]{0,80}$/.test(m)) {
    throw new Error(`op argument "marker" must be lower-case letters, digits and dashes`);
  }
  return m;
}

/** Every live process on the node carrying the marker, whatever cgroup it is in. */
export function markedPids(marker: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    if (markOf(pid) === marker && procStat(pid)?.state !== 'Z') out.push(pid);
  }
  return out;
}

/**
 * SIGKILLs every marked process and waits (bounded) until each has exited (gone or a
 * zombie: out of the container's cgroup); throws when some remain.
 */
export async function killMarked(ctx: OpContext, marker: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const killed = new Set<number>();
  for (let i = 0; ; i++) {
    for (const pid of markedPids(marker)) {
      signalPid(pid, 'SIGKILL');
      killed.add(pid);
    }
    const left = [...killed].filter((pid) => {
      const st = procStat(pid);
      return st !== undefined && st.state !== 'Z';
    });
    if (left.length === 0 && markedPids(marker).length === 0) break;
    if (Date.now() > deadline) {
      throw new Error(`processes marked ${marker} still running after SIGKILL: ${left.join(', ')}`);
    }
    await sleep(Math.min(20 * (i + 1), 200));
  }
  if (killed.size > 0) ctx.log(`killed ${killed.size} process(es) marked ${marker}`);
}

/** Controllers a program is placed into: all but the freezer (a frozen container would
 * freeze the agent while it passes through) and devices (the agent keeps its own). */
function placedControllers(target: OpTarget): [string, string][] {
  return Object.entries(target.cgroups ?? {}).filter(
    ([k]) =>
      !['systemd', 'unified', 'freezer', 'devices', ''].includes(k) && !k.startsWith('name='),
  );
}

/**
 * Starts a program in the target container's cgroups, as a session leader carrying the
 * marker in its environment. The helper image has no shell to do this with, so the
 * agent moves itself into the container's cgroups for the moment of the fork (the child
 * is born there, before it can fork workers or allocate) and back at once. The child
 * does not die with the helper: revert kills it by its marker (killMarked), and it must
 * be bounded by its own timeout. Its stderr's last lines go to `onExit`.
 */
export function spawnInCgroups(
  target: OpTarget,
  marker: string,
  file: string,
  args: string[],
  onExit?: (code: number | null, signal: string | null, stderr: string) => void,
  opts: { oomScoreAdj?: number } = {},
): ChildProcess {
  const dest = placedControllers(target);
  if (dest.length === 0) throw new Error("the container's cgroups were not resolved");
  const own = cgroupDirs(readFileSync('/proc/self/cgroup', 'utf8'));
  const moved: string[] = [];
  let child: ChildProcess;
  // The child (and what it forks at once) inherits the OOM score adjustment: set on the
  // agent for the moment of the fork, as far as it may (lowering needs CAP_SYS_RESOURCE).
  const ownAdj = readFileSync('/proc/self/oom_score_adj', 'utf8').trim();
  if (opts.oomScoreAdj !== undefined) setOomScoreAdj([process.pid], opts.oomScoreAdj);
  try {
    for (const [c, dir] of dest) {
      if (!own[c]) continue; // no way back: leave the agent where it is for this one
      writeFileSync(join(dir, 'cgroup.procs'), String(process.pid));
      moved.push(c);
    }
    child = spawnChild(file, args, {
      env: { ...process.env, [MARK_ENV]: marker },
      detached: true, // setsid(): its workers are found by their session (markOf)
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  } finally {
    for (const c of moved) writeFileSync(join(own[c]!, 'cgroup.procs'), String(process.pid));
    if (opts.oomScoreAdj !== undefined) setOomScoreAdj([process.pid], Number(ownAdj));
  }
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (d: string) => (stderr = (stderr + d).slice(-2000)));
  child.on('error', (err) => (stderr += err.message));
  child.on('exit', (code, signal) => onExit?.(code, signal, stderr.trim()));
  child.unref();
  (child.stderr as { unref?: () => void } | null)?.unref?.();
  // Controllers the agent could not pass through (not in its own hierarchy): the child
  // is moved right after it started.
  for (const [c, dir] of dest) {
    if (!moved.includes(c) && child.pid !== undefined) {
      writeFileSync(join(dir, 'cgroup.procs'), String(child.pid));
    }
  }
  return child;
}

/** Sets the OOM score adjustment of processes, as far as this process may (best effort). */
export function setOomScoreAdj(pids: number[], adj: number): boolean {
  let ok = true;
  for (const pid of pids) {
    try {
      writeFileSync(`/proc/${pid}/oom_score_adj`, String(adj));
    } catch {
      ok = false;
    }
  }
  return ok;
}

/** Waits (bounded) until at least `n` marked processes run in the cgroup `dir`; their pids. */
export async function waitMarkedIn(
  marker: string,
  dir: string | undefined,
  n: number,
  timeoutMs = 5000,
  gaveUp: () => boolean = () => false,
): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; ; i++) {
    const inCgroup = new Set(dir ? cgroupPids(dir) : []);
    const pids = markedPids(marker).filter((p) => !dir || inCgroup.has(p));
    if (pids.length >= n) return pids;
    if (Date.now() > deadline || gaveUp()) return pids;
    await sleep(Math.min(20 * (i + 1), 100));
  }
}
