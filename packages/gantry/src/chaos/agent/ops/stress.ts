// Resource faults, run by the agent on the target's node: cpu-hog and memory-hog
// (stress-ng), io-stress and disk-fill (fio). The programs are born in every
// cgroup of the target container (spawnInCgroups), so the load is the container's
// own (its cpuacct usage, its memcg, its cpuset and pids limit) and the kubelet
// sees it as the container's. Such processes do not die with the helper (they are
// not in its cgroup): each carries a marker in its environment (GANTRY_CHAOS_MARK,
// from the op's args) and leads its own session, by which revert finds and kills
// it and its workers from a fresh helper, and each is bounded by its own timeout
// (stress-ng --timeout, fio --runtime) at the fault's duration, so it ends even
// when nothing reverts it. Files go into a directory named after the marker,
// removed on revert.
//
// Only node: built-ins here (see ../op.ts).
import {
  accessSync,
  constants,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  statfsSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { AgentOp, OpContext, OpTarget } from '../op.js';
import {
  cgroupPids,
  containerMainPid,
  killMarked,
  markOf,
  markedPids,
  markerArg,
  optNum,
  setOomScoreAdj,
  spawnInCgroups,
  waitMarkedIn,
} from './process.js';

const MiB = 1024 * 1024;
/** Above this, memory.limit_in_bytes means "no limit" (the kernel's page-rounded LONG_MAX). */
const NO_LIMIT = 2 ** 62;
const TMPFS_MAGIC = 0x01021994;
const OVERLAY_MAGIC = 0x794c7630;

/** Timeout for the programs: the fault's duration (args.durationMs), plus a second for the start. */
function timeoutSeconds(args: Record<string, unknown>): number {
  const ms = optNum(args, 'durationMs');
  if (ms === undefined || ms <= 0) throw new Error('op argument "durationMs" must be positive');
  return Math.ceil(ms / 1000) + 1;
}

async function binaryMissing(ctx: OpContext, file: string, arg: string): Promise<string[]> {
  const r = await ctx.run(file, [arg], { allowFail: true, timeoutMs: 5000 });
  return r.code === 0
    ? []
    : [`${file} is not installed in the helper image (${file} ${arg} failed)`];
}

function cgroupFile(target: OpTarget, controller: string, file: string): string | undefined {
  const dir = target.cgroups?.[controller];
  if (!dir) return undefined;
  try {
    return readFileSync(join(dir, file), 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** The container's CPU limit in cores from its CFS quota; undefined without a limit. */
export function cpuLimitCores(target: OpTarget): number | undefined {
  const quota = Number(cgroupFile(target, 'cpu', 'cpu.cfs_quota_us'));
  const period = Number(cgroupFile(target, 'cpu', 'cpu.cfs_period_us'));
  if (!(quota > 0 && period > 0)) return undefined;
  return quota / period;
}

/** The container's memory limit in bytes; undefined without a limit. */
export function memoryLimit(target: OpTarget): number | undefined {
  const v = Number(cgroupFile(target, 'memory', 'memory.limit_in_bytes'));
  return Number.isFinite(v) && v > 0 && v < NO_LIMIT ? v : undefined;
}

/** The container's working set as the kubelet counts it: usage minus inactive file pages. */
function workingSet(target: OpTarget): number {
  const usage = Number(cgroupFile(target, 'memory', 'memory.usage_in_bytes') ?? 0);
  const stat = cgroupFile(target, 'memory', 'memory.stat') ?? '';
  const inactive = Number(/^total_inactive_file (\d+)$/m.exec(stat)?.[1] ?? 0);
  return Math.max(0, usage - inactive);
}

/** CPUs the container may run on (its cpuset), at least 1. */
function cpusetSize(target: OpTarget): number {
  const list =
    cgroupFile(target, 'cpuset', 'cpuset.effective_cpus') ??
    cgroupFile(target, 'cpuset', 'cpuset.cpus') ??
    '';
  let n = 0;
  for (const part of list.split(',').filter(Boolean)) {
    const [a, b] = part.split('-').map(Number);
    n += b === undefined ? 1 : b - (a ?? 0) + 1;
  }
  return Math.max(1, n);
}

/**
 * Starts `program args` in the target container's cgroups with the op's marker and
 * waits until at least `expect` marked processes run in the container's cgroup.
 */
async function startInContainer(
  ctx: OpContext,
  target: OpTarget,
  marker: string,
  program: string[],
  expect: number,
  opts: { oomScoreAdj?: number } = {},
): Promise<number[]> {
  let exited = '';
  spawnInCgroups(
    target,
    marker,
    program[0]!,
    program.slice(1),
    (code, sig, err) => {
      exited = `exited ${sig ?? code}${err ? `: ${err}` : ''}`;
      ctx.log(`${program[0]} (${marker}) ${exited}`);
    },
    opts,
  );
  const dir = target.cgroups?.memory ?? target.cgroups?.cpu;
  const pids = await waitMarkedIn(marker, dir, expect, 5000, () => exited !== '');
  if (pids.length < expect) {
    await killMarked(ctx, marker);
    throw new Error(
      `${program[0]} did not start in the container's cgroups (${pids.length} of ${expect} ` +
        `processes${exited ? `; ${exited}` : ''})`,
    );
  }
  return pids;
}

/** Runs `program args` in the target container's cgroups to its end (bounded). */
function runInContainer(
  target: OpTarget,
  marker: string,
  program: string[],
  timeoutMs: number,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // gone
      }
    }, timeoutMs);
    const child = spawnInCgroups(
      target,
      marker,
      program[0]!,
      program.slice(1),
      (code, sig, err) => {
        clearTimeout(timer);
        if (code === 0) resolve();
        else
          reject(new Error(`${program.join(' ')}: exited ${sig ?? code}${err ? `: ${err}` : ''}`));
      },
    );
  });
}

// ---- cpu-hog ----

const cpuHog: AgentOp = {
  name: 'cpu-hog',
  check: async (ctx, target, args) => {
    const out = await binaryMissing(ctx, 'stress-ng', '--version');
    if (target.containerPid !== undefined) {
      if (!target.cgroups?.cpu) out.push('the container has no cpu cgroup');
      if (optNum(args, 'cores') === undefined && cpuLimitCores(target) === undefined) {
        out.push('the container has no CPU limit: give the load in cores (--cores)');
      }
    }
    return out;
  },
  apply: async (ctx, target, args) => {
    const marker = markerArg(args);
    const load = optNum(args, 'load') ?? 100;
    const limit = cpuLimitCores(target);
    const base = optNum(args, 'cores') ?? limit;
    if (base === undefined)
      throw new Error('cpu-hog: the container has no CPU limit and no --cores');
    let total = (base * load) / 100;
    const cpus = cpusetSize(target);
    if (total > cpus) {
      ctx.log(`cpu-hog: ${total} cores wanted, the container may use ${cpus} CPUs: capped`);
      total = cpus;
    }
    if (limit !== undefined && total > limit) {
      ctx.log(
        `cpu-hog: ${total} cores wanted, above the container's limit ${limit}: it will be throttled`,
      );
    }
    const workers = Math.max(1, Math.ceil(total - 1e-9));
    const perWorker = Math.max(1, Math.min(100, Math.round((total / workers) * 100)));
    await startInContainer(
      ctx,
      target,
      marker,
      [
        'stress-ng',
        '--cpu',
        String(workers),
        '--cpu-load',
        String(perWorker),
        '--timeout',
        `${timeoutSeconds(args)}s`,
        '--quiet',
      ],
      workers + 1,
    );
    ctx.log(
      `cpu-hog: ${workers} stress-ng CPU worker(s) at ${perWorker}% (${total.toFixed(2)} cores) in the container's cgroups`,
    );
  },
  revert: (ctx, _target, args) => killMarked(ctx, markerArg(args)),
  snapshot: (_ctx, target) => Promise.resolve(stressSnapshot(target)),
};

// ---- memory-hog ----
//
// Up to the limit (oom false), the app must never be the one that pays: the hog runs at
// oom_score_adj 1000 (raising needs no privilege), and while it holds its memory the
// container's memcg has oom_kill_disable set (cgroup v1): should the app's own growth
// reach the limit, the kernel pauses the allocating task instead of killing anyone, the
// agent (polling memory.oom_control's under_oom every 20 ms) kills the hog at once and
// clears oom_kill_disable, and the app goes on. The adjustment alone would not do: the
// kernel adds adj × limit / 1000 to each task's resident memory, so an app at 999 (a
// Burstable pod's) holding more than the hog plus 0.1 % of the limit would still be
// chosen. Should the helper die, the hog ends by its own timeout (the fault's duration);
// an OOM meanwhile waits for that, and the revert (a revert helper) clears the flag.
//
// Past the limit (oom true), the container must be the one that pays: the hog is given
// the lowest oom_score_adj the agent may set (-1000, unkillable, with CAP_SYS_RESOURCE;
// without it the lowest the kernel allows, the inherited floor, often 0), and check()
// refuses when, at that value, the kernel would choose the hog (a Guaranteed pod's
// container at -997, or any container at the hog's value on a node without the
// capability: the larger resident set is chosen). Once the container's main process was
// OOM-killed the hog is stopped, so the old container's memcg can go.

/** What stress-ng itself holds besides its --vm-bytes (its two processes; measured ~4 MiB). */
const STRESS_OVERHEAD = 4 * MiB;
const PAGE = 4096;

/**
 * The memcgs whose limit the container's usage counts against: its own and its pod's (the
 * kubelet gives the pod the sum of its containers' limits, so with one container the pod
 * reaches the same limit first, by the pause process' few hundred KiB).
 */
function memcgs(target: OpTarget): string[] {
  const own = target.cgroups?.memory;
  if (!own) return [];
  const parent = dirname(own);
  const uid = target.podUid;
  const isPod = [uid, uid.replace(/-/g, '_')].some((u) => basename(parent).includes(`pod${u}`));
  return isPod ? [own, parent] : [own];
}

const oomField = (v: string, k: string) =>
  Number(new RegExp(`^${k} (\\d+)$`, 'm').exec(v)?.[1] ?? 0);

/**
 * The OOM state of the container's memcgs (memory.oom_control): the kill flag off in any,
 * a task waiting in any, and the container's own count of OOM kills; undefined once the
 * container's cgroup is gone.
 */
function oomControl(
  target: OpTarget,
): { disabled: boolean; underOom: boolean; kills: number } | undefined {
  const texts = memcgs(target).map((d) => {
    try {
      return readFileSync(join(d, 'memory.oom_control'), 'utf8');
    } catch {
      return undefined;
    }
  });
  const own = texts[0];
  if (own === undefined) return undefined;
  const all = texts.filter((t): t is string => t !== undefined);
  return {
    disabled: all.some((t) => oomField(t, 'oom_kill_disable') === 1),
    underOom: all.some((t) => oomField(t, 'under_oom') === 1),
    kills: oomField(own, 'oom_kill'),
  };
}

/** Sets oom_kill_disable on the container's memcgs; false (and nothing left set) if one refuses. */
function setOomKillDisable(target: OpTarget, on: boolean): boolean {
  const done: string[] = [];
  for (const d of memcgs(target)) {
    try {
      writeFileSync(join(d, 'memory.oom_control'), on ? '1' : '0');
      done.push(d);
    } catch {
      if (!on) continue; // clearing: every other one all the same
      for (const x of done) writeFileSync(join(x, 'memory.oom_control'), '0');
      return false;
    }
  }
  return done.length > 0;
}

/**
 * Sets a process' oom_score_adj to the lowest value this process may give it: -1000 with
 * CAP_SYS_RESOURCE, else the floor the kernel keeps for it (oom_score_adj_min, inherited;
 * found by bisection: a value is accepted exactly when it is not below the floor). The
 * value set.
 */
export function lowestOomScoreAdj(pid: number | 'self'): number {
  const file = `/proc/${pid}/oom_score_adj`;
  const can = (v: number) => {
    try {
      writeFileSync(file, String(v));
      return true;
    } catch {
      return false;
    }
  };
  if (can(-1000)) return -1000;
  let lo = -1000; // refused
  let hi = Number(readFileSync(file, 'utf8').trim()); // the current value: accepted
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (can(mid)) hi = mid;
    else lo = mid;
  }
  can(hi);
  return hi;
}

/** The oom_score_adj this agent can give a hog (probed on itself, then put back). */
function hogFloor(): number {
  const own = Number(readFileSync('/proc/self/oom_score_adj', 'utf8').trim());
  const floor = lowestOomScoreAdj('self');
  setOomScoreAdj([process.pid], own);
  return floor;
}

export interface OomCandidate {
  /** Resident memory in bytes. */
  rss: number;
  oomScoreAdj: number;
}

/**
 * Whether the memcg OOM killer would choose one of the container's processes rather
 * than a hog at `hogAdj` that filled the memcg up to `limit`: the kernel's badness is
 * resident memory plus adj × limit / 1000; a task at -1000 is never chosen.
 */
export function appIsOomVictim(app: OomCandidate[], limit: number, hogAdj: number): boolean {
  const killable = app.filter((p) => p.oomScoreAdj > -1000);
  if (killable.length === 0) return false;
  if (hogAdj <= -1000) return true;
  const badness = (rss: number, adj: number) => rss + (adj * limit) / 1000;
  const hogRss = Math.max(0, limit - app.reduce((n, p) => n + p.rss, 0));
  return Math.max(...killable.map((p) => badness(p.rss, p.oomScoreAdj))) > badness(hogRss, hogAdj);
}

/** The container's own processes (not marked) with their resident memory and adjustment. */
function oomCandidates(target: OpTarget): OomCandidate[] {
  const dir = target.cgroups?.memory;
  const out: OomCandidate[] = [];
  for (const pid of dir ? cgroupPids(dir) : []) {
    if (markOf(pid) !== undefined) continue;
    try {
      const rss = Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]) * PAGE;
      const adj = Number(readFileSync(`/proc/${pid}/oom_score_adj`, 'utf8').trim());
      out.push({ rss, oomScoreAdj: adj });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** The hogs' OOM watchers in this agent, by marker (stopped on revert). */
const guards = new Map<string, NodeJS.Timeout>();

function stopGuard(marker: string): void {
  const t = guards.get(marker);
  if (t) clearInterval(t);
  guards.delete(marker);
}

const memoryHog: AgentOp = {
  name: 'memory-hog',
  check: async (ctx, target, args) => {
    const out = await binaryMissing(ctx, 'stress-ng', '--version');
    if (optNum(args, 'bytes') === undefined && optNum(args, 'percent') === undefined) {
      out.push('memory-hog needs bytes or percent');
    }
    if (target.containerPid !== undefined) {
      const limit = memoryLimit(target);
      if (!target.cgroups?.memory) out.push('the container has no memory cgroup');
      else if (optNum(args, 'bytes') === undefined && limit === undefined) {
        out.push('the container has no memory limit: give the amount in bytes (--bytes)');
      }
      const ctl = oomControl(target);
      if (args.oom !== true && ctl?.disabled) {
        out.push(
          "the container's memcg already has oom_kill_disable set (its OOMs are handled " +
            'elsewhere): the hog could not make way for the app',
        );
      }
      if (args.oom === true && limit !== undefined) {
        const floor = hogFloor();
        const app = oomCandidates(target);
        if (!appIsOomVictim(app, limit, floor)) {
          const adjs = [...new Set(app.map((p) => p.oomScoreAdj))].join(', ') || 'none';
          out.push(
            `memory-hog --oom: the kernel would kill the hog, not the container: the lowest ` +
              `oom_score_adj the helper may give it is ${floor}` +
              (floor > -1000 ? ' (no CAP_SYS_RESOURCE on the node)' : '') +
              `, the container's processes have ${adjs}, and the hog would hold more memory`,
          );
        }
      }
    }
    return out;
  },
  apply: async (ctx, target, args) => {
    const marker = markerArg(args);
    const oom = args.oom === true;
    const limit = memoryLimit(target);
    const percent = optNum(args, 'percent');
    let bytes =
      optNum(args, 'bytes') ??
      (limit !== undefined && percent !== undefined
        ? Math.floor((limit * percent) / 100)
        : undefined);
    if (bytes === undefined) throw new Error('memory-hog: no memory limit to take a percent of');
    if (oom) {
      // Past the limit: the hog alone would not fit, so the OOM killer must act; at the
      // lowest adjustment the agent may give it, the container's processes go first.
      if (limit === undefined)
        throw new Error('memory-hog --oom: the container has no memory limit');
      bytes = Math.max(bytes, limit + 64 * MiB);
    } else if (limit !== undefined) {
      const ws = workingSet(target);
      if (ws + bytes > limit) {
        throw new Error(
          `memory-hog: ${mib(bytes)} on top of the container's ${mib(ws)} would pass its limit ` +
            `${mib(limit)} (the OOM killer would act); ask for less, or set oom: true`,
        );
      }
    }
    const program = [
      'stress-ng',
      '--vm',
      '1',
      '--vm-bytes',
      // The container's usage rises by `bytes`: stress-ng's own pages count too.
      String(oom ? bytes : Math.max(MiB, bytes - STRESS_OVERHEAD)),
      '--vm-keep',
      '--vm-hang',
      '0',
      '--timeout',
      `${timeoutSeconds(args)}s`,
      '--quiet',
      // stress-ng leaves the adjustment the hog is born with (it would set 1000 itself).
      '--no-oom-adjust',
    ];
    if (oom) {
      program.push('--oomable');
      await startOom(ctx, target, marker, program);
      return;
    }
    const guarded = setOomKillDisable(target, true);
    if (!guarded)
      ctx.log(
        "memory-hog: cannot set the memcg's oom_kill_disable (not cgroup v1?): the hog is only " +
          "the OOM killer's first choice (oom_score_adj 1000)",
      );
    const before = workingSet(target);
    try {
      await startInContainer(ctx, target, marker, program, 2, { oomScoreAdj: 1000 });
      setOomScoreAdj(markedPids(marker), 1000);
      if (guarded) guard(ctx, target, marker);
      // In effect once the memory is held: the memcg's usage has grown by it (bounded wait).
      const deadline = Date.now() + 10_000;
      while (workingSet(target) < before + bytes * 0.8 && Date.now() < deadline) {
        if (markedPids(marker).length === 0) throw new Error('memory-hog: stress-ng exited early');
        await new Promise((r) => setTimeout(r, 50));
      }
    } catch (err) {
      stopGuard(marker);
      if (guarded) setOomKillDisable(target, false);
      throw err;
    }
    ctx.log(
      `memory-hog: stress-ng holds ${mib(bytes)} in the container's memcg (oom_score_adj 1000` +
        `${guarded ? ', oom_kill_disable while it runs: the hog makes way for the app' : ''})`,
    );
  },
  revert: async (ctx, target, args) => {
    const marker = markerArg(args);
    stopGuard(marker);
    await killMarked(ctx, marker);
    // The memcg of the container (when it still runs): its OOM killer back on. check()
    // refused a memcg where it was off, so off now is the hog's doing.
    if (args.oom !== true && target && oomControl(target)?.disabled) {
      if (!setOomKillDisable(target, false))
        throw new Error(`cannot clear oom_kill_disable of ${memcgs(target).join(', ')}`);
      ctx.log("memory-hog: the memcg's OOM killer back on");
    }
  },
  snapshot: (_ctx, target) => Promise.resolve(stressSnapshot(target)),
};

/**
 * While the hog holds its memory: should the memcg reach its limit anyway (the app grew),
 * the paused task is let go by killing the hog and turning the OOM killer back on.
 */
function guard(ctx: OpContext, target: OpTarget, marker: string): void {
  const timer = setInterval(() => {
    const ctl = oomControl(target);
    if (!ctl) {
      stopGuard(marker);
      return;
    }
    if (!ctl.underOom) return;
    stopGuard(marker);
    void killMarked(ctx, marker).then(
      () => {
        setOomKillDisable(target, false);
        ctx.log(
          'memory-hog: the container reached its memory limit; the hog was stopped to make way ' +
            'for the app (nothing of the app killed)',
        );
      },
      (err: unknown) => {
        setOomKillDisable(target, false);
        ctx.log(`memory-hog: stopping the hog at the limit: ${(err as Error).message}`);
      },
    );
  }, 20);
  timer.unref();
  guards.set(marker, timer);
}

/**
 * memory-hog past the limit: in effect once the OOM killer killed the container's main
 * process (or its memcg is gone: the container was killed). The hog, at the lowest
 * oom_score_adj the agent may give it, is stopped then. Should the kernel choose the hog
 * instead (check() predicted otherwise), the fault fails with the reason.
 */
async function startOom(
  ctx: OpContext,
  target: OpTarget,
  marker: string,
  program: string[],
): Promise<void> {
  const main = containerMainPid(target);
  const kills = oomControl(target)?.kills ?? 0;
  const floor = hogFloor();
  let exited = '';
  const child = spawnInCgroups(
    target,
    marker,
    program[0]!,
    program.slice(1),
    (code, sig, err) => {
      exited = `exited ${sig ?? code}${err ? `: ${err}` : ''}`;
    },
    { oomScoreAdj: floor },
  );
  const alive = (pid: number | undefined) => {
    if (pid === undefined) return false;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
    } catch {
      return false;
    }
  };
  const deadline = Date.now() + 15_000;
  for (;;) {
    const ctl = oomControl(target);
    if (!ctl || !alive(main)) {
      await killMarked(ctx, marker);
      ctx.log(
        `memory-hog --oom: the OOM killer killed the container's main process (pid ${main ?? '?'}); ` +
          `the hog (oom_score_adj ${floor}) stopped`,
      );
      return;
    }
    const hogs = markedPids(marker);
    // Keep every hog process at the floor (stress-ng's worker is forked after the start).
    setOomScoreAdj(hogs, floor);
    if (ctl.kills > kills && hogs.length === 0) {
      throw new Error(
        `memory-hog --oom: the OOM killer chose the hog, not the container (hog oom_score_adj ` +
          `${floor}; the container's ${readFileSync(`/proc/${main}/oom_score_adj`, 'utf8').trim()})`,
      );
    }
    if (Date.now() > deadline || (exited && hogs.length === 0)) {
      await killMarked(ctx, marker);
      throw new Error(
        `memory-hog --oom: the OOM killer did not act within 15 s${exited ? ` (stress-ng ${exited})` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, child.pid === undefined ? 100 : 20));
  }
}

// ---- io-stress ----

const IO_MODES = ['write', 'randwrite', 'read', 'randread', 'readwrite', 'randrw'];

const ioStress: AgentOp = {
  name: 'io-stress',
  check: async (ctx, target, args) => {
    const out = await binaryMissing(ctx, 'fio', '--version');
    const mode = typeof args.mode === 'string' ? args.mode : 'write';
    if (!IO_MODES.includes(mode)) out.push(`io-stress mode must be one of ${IO_MODES.join(', ')}`);
    if (target.containerPid !== undefined) {
      try {
        writableDir(containerDir(target, pathArg(args)), pathArg(args));
      } catch (err) {
        out.push((err as Error).message);
      }
    }
    return out;
  },
  apply: async (ctx, target, args) => {
    const marker = markerArg(args);
    const base = writableDir(containerDir(target, pathArg(args)), pathArg(args));
    const dir = join(base, `.gantry-chaos-${marker}`);
    mkdirSync(dir, { recursive: true });
    const mode = typeof args.mode === 'string' ? args.mode : 'write';
    const workers = Math.max(1, Math.floor(optNum(args, 'workers') ?? 1));
    const size = Math.max(MiB, Math.floor(optNum(args, 'size') ?? 64 * MiB));
    // tmpfs has no O_DIRECT; elsewhere direct I/O is charged to the container's blkio
    // cgroup (cgroup v1 does not see buffered writes' writeback as the writer's).
    const direct = statfsSync(dir).type === TMPFS_MAGIC ? '0' : '1';
    const random = mode.startsWith('rand');
    await startInContainer(
      ctx,
      target,
      marker,
      [
        'fio',
        '--name=gantry-chaos',
        `--directory=${dir}`,
        `--rw=${mode}`,
        `--bs=${random ? '4k' : '1m'}`,
        `--size=${size}`,
        `--numjobs=${workers}`,
        '--time_based',
        `--runtime=${timeoutSeconds(args)}`,
        `--direct=${direct}`,
        '--ioengine=psync',
        '--output=/dev/null',
      ],
      1,
    );
    ctx.log(`io-stress: fio ${mode}, ${workers} job(s) of ${mib(size)} in ${dir}`);
  },
  revert: async (ctx, target, args) => {
    const marker = markerArg(args);
    await killMarked(ctx, marker);
    removeMarkerDir(ctx, target, args, marker);
  },
  snapshot: (_ctx, target) => Promise.resolve(stressSnapshot(target)),
};

// ---- disk-fill ----

/** Default most a fill may write on the node's root filesystem. */
export const NODE_FS_FILL_CAP = 1024 * MiB;
/** Share of a disk that must stay free after a fill (above the kubelet's eviction thresholds). */
export const KEEP_FREE_SHARE = 0.2;

interface FillPlan {
  dir: string;
  bytes: number;
  fsType: 'tmpfs' | 'overlay' | 'disk';
  nodeRoot: boolean;
  reason: string;
}

/** How much disk-fill would write where, or why it refuses. */
export function planFill(target: OpTarget, args: Record<string, unknown>): FillPlan {
  const marker = markerArg(args);
  const base = writableDir(containerDir(target, pathArg(args)), pathArg(args));
  const fs = statfsSync(base);
  const fsType = fs.type === TMPFS_MAGIC ? 'tmpfs' : fs.type === OVERLAY_MAGIC ? 'overlay' : 'disk';
  const size = fs.blocks * fs.bsize;
  const free = fs.bavail * fs.bsize;
  const hostRoot = nodeRootPath();
  const host = statfsSync(hostRoot);
  // The node's root fs: the same device as the host's /, or (the writable layer) an
  // overlay whose upper directory's filesystem reports the same size as the host's /.
  const nodeRoot =
    fsType !== 'tmpfs' &&
    (statSync(base).dev === statSync(hostRoot).dev ||
      (fsType === 'overlay' && fs.blocks === host.blocks && fs.bsize === host.bsize));
  let bytes = optNum(args, 'bytes');
  let reason = bytes === undefined ? '' : `${mib(bytes)}`;
  const percent = optNum(args, 'percent');
  if (bytes === undefined) {
    if (percent === undefined) throw new Error('disk-fill needs bytes or percent');
    const sizeLimit = optNum(args, 'sizeLimit');
    if (sizeLimit !== undefined && fsType !== 'tmpfs') {
      // A volume's (or the container's ephemeral-storage) limit: what is in the directory counts.
      const used = duBytes(base, marker);
      bytes = Math.floor((sizeLimit * percent) / 100) - used;
      reason = `${percent}% of the ${mib(sizeLimit)} size limit (${mib(used)} used)`;
    } else {
      const used = (fs.blocks - fs.bfree) * fs.bsize;
      bytes = Math.floor((size * percent) / 100) - used;
      reason = `${percent}% of the ${mib(size)} ${fsType} filesystem (${mib(used)} used)`;
    }
  }
  bytes = Math.max(0, bytes);
  if (fsType !== 'tmpfs') {
    const cap = optNum(args, 'maxNodeFill') ?? NODE_FS_FILL_CAP;
    if (nodeRoot && bytes > cap) {
      throw new Error(
        `disk-fill: ${mib(bytes)} (${reason}) on the node's root filesystem is above the ` +
          `safety cap of ${mib(cap)} (max-node-fill); give a size limit to the volume, or bytes`,
      );
    }
    if (free - bytes < size * KEEP_FREE_SHARE) {
      throw new Error(
        `disk-fill: ${mib(bytes)} would leave ${mib(free - bytes)} free of ${mib(size)} ` +
          `(below ${KEEP_FREE_SHARE * 100}%: the kubelet would evict other pods of the node)`,
      );
    }
  }
  return { dir: join(base, `.gantry-chaos-${marker}`), bytes, fsType, nodeRoot, reason };
}

const diskFill: AgentOp = {
  name: 'disk-fill',
  check: async (ctx, target, args) => {
    const out = await binaryMissing(ctx, 'fio', '--version');
    if (target.containerPid !== undefined) {
      try {
        planFill(target, args);
      } catch (err) {
        out.push((err as Error).message);
      }
    }
    return out;
  },
  apply: async (ctx, target, args) => {
    const marker = markerArg(args);
    const plan = planFill(target, args);
    mkdirSync(plan.dir, { recursive: true });
    if (plan.bytes === 0) {
      ctx.log(`disk-fill: ${plan.reason}: already there, nothing written`);
      return;
    }
    const file = join(plan.dir, 'fill');
    // fio lays the file out (fallocate, then written) from the container's cgroups: a
    // tmpfs volume's pages are charged to the container's memcg, as the app's would be.
    await runInContainer(
      target,
      marker,
      [
        'fio',
        '--name=gantry-chaos-fill',
        `--filename=${file}`,
        `--size=${plan.bytes}`,
        '--rw=write',
        '--bs=1m',
        '--ioengine=psync',
        '--fallocate=native',
        '--create_only=1',
        '--output=/dev/null',
      ],
      120_000,
    );
    ctx.log(
      `disk-fill: ${mib(plan.bytes)} (${plan.reason}) written to ${file} (${plan.fsType}${plan.nodeRoot ? ", the node's root fs" : ''})`,
    );
  },
  revert: async (ctx, target, args) => {
    const marker = markerArg(args);
    await killMarked(ctx, marker);
    removeMarkerDir(ctx, target, args, marker);
  },
  snapshot: (_ctx, target) => Promise.resolve(stressSnapshot(target)),
};

export const stressOps: AgentOp[] = [cpuHog, memoryHog, ioStress, diskFill];

// ---- helpers ----

/** The node's / as this process sees it: /proc/1/root with hostPID, else (on the node itself) /. */
function nodeRootPath(): string {
  try {
    statfsSync('/proc/1/root/');
    return '/proc/1/root/';
  } catch {
    return '/';
  }
}

function mib(bytes: number): string {
  return `${(bytes / MiB).toFixed(bytes < 10 * MiB ? 1 : 0)} MiB`;
}

function pathArg(args: Record<string, unknown>): string {
  const p = args.path ?? '/';
  if (typeof p !== 'string' || !p.startsWith('/') || p.split('/').includes('..')) {
    throw new Error(
      'op argument "path" must be an absolute path inside the container, without ".."',
    );
  }
  return p;
}

/**
 * The container's directory `path` as the node sees it (/proc/PID/root/...). No part
 * of it may be a symbolic link: through /proc/PID/root an absolute link would resolve
 * against the node's root, not the container's.
 */
export function containerDir(target: OpTarget, path: string): string {
  const main = containerMainPid(target);
  if (main === undefined) throw new Error('the target container is not running');
  let dir = `/proc/${main}/root`;
  for (const part of path.split('/').filter(Boolean)) {
    dir = join(dir, part);
    let st;
    try {
      st = lstatSync(dir);
    } catch {
      throw new Error(`${path} does not exist in the container`);
    }
    if (st.isSymbolicLink())
      throw new Error(`${path} passes through a symbolic link in the container`);
    if (!st.isDirectory()) throw new Error(`${path} is not a directory in the container`);
  }
  return dir;
}

/** The directory, if the container's filesystem there can be written (not mounted read-only). */
function writableDir(dir: string, path: string): string {
  try {
    accessSync(dir, constants.W_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(
      code === 'EROFS'
        ? `${path} is on a read-only filesystem in the container (readOnlyRootFilesystem?): use a volume`
        : `${path} cannot be written in the container (${code ?? String(err)})`,
    );
  }
  return dir;
}

function removeMarkerDir(
  ctx: OpContext,
  target: OpTarget | undefined,
  args: Record<string, unknown>,
  marker: string,
): void {
  if (!target || target.containerPid === undefined) return; // pod or container gone
  let base: string;
  try {
    base = containerDir(target, pathArg(args));
  } catch {
    return; // the path went with the container
  }
  const dir = join(base, `.gantry-chaos-${marker}`);
  if (!existsSync(dir)) return;
  rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  // Checked, not assumed: a revert that leaves the directory fails, and is retried (the
  // record stays for `gantry chaos recover` when it keeps failing).
  if (existsSync(dir)) throw new Error(`${dir} is still there after its removal`);
  ctx.log(`removed ${dir}`);
}

/** Bytes allocated under `dir` (like du), except our own marker directory; bounded walk. */
function duBytes(dir: string, marker: string): number {
  let total = 0;
  let seen = 0;
  const stack = [dir];
  const dev = statSync(dir).dev;
  while (stack.length > 0 && seen < 200_000) {
    const d = stack.pop()!;
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      continue;
    }
    for (const n of names) {
      if (d === dir && n === `.gantry-chaos-${marker}`) continue;
      seen++;
      try {
        const st = lstatSync(join(d, n));
        total += st.blocks * 512;
        if (st.isDirectory() && st.dev === dev) stack.push(join(d, n));
      } catch {
        // gone meanwhile
      }
    }
  }
  return total;
}

function stressSnapshot(target: OpTarget): string {
  const procs = target.cgroups?.memory
    ? readFileSync(join(target.cgroups.memory, 'cgroup.procs'), 'utf8')
    : '';
  const pids = procs.split('\n').filter(Boolean).map(Number);
  const comms = pids.map((p) => {
    try {
      return readFileSync(`/proc/${p}/comm`, 'utf8').trim();
    } catch {
      return '?';
    }
  });
  return `processes: ${comms.sort().join(' ')}`;
}
