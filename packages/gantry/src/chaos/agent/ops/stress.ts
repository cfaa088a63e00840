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
} from 'node:fs';
import { join } from 'node:path';
import type { AgentOp, OpContext, OpTarget } from '../op.js';
import {
  containerMainPid,
  killMarked,
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
): Promise<number[]> {
  let exited = '';
  spawnInCgroups(target, marker, program[0]!, program.slice(1), (code, sig, err) => {
    exited = `exited ${sig ?? code}${err ? `: ${err}` : ''}`;
    ctx.log(`${program[0]} (${marker}) ${exited}`);
  });
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

/** What stress-ng itself holds besides its --vm-bytes (its two processes; measured ~4 MiB). */
const STRESS_OVERHEAD = 4 * MiB;

const memoryHog: AgentOp = {
  name: 'memory-hog',
  check: async (ctx, target, args) => {
    const out = await binaryMissing(ctx, 'stress-ng', '--version');
    if (optNum(args, 'bytes') === undefined && optNum(args, 'percent') === undefined) {
      out.push('memory-hog needs bytes or percent');
    }
    if (target.containerPid !== undefined) {
      if (!target.cgroups?.memory) out.push('the container has no memory cgroup');
      else if (optNum(args, 'bytes') === undefined && memoryLimit(target) === undefined) {
        out.push('the container has no memory limit: give the amount in bytes (--bytes)');
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
      // Past the limit: the OOM killer acts in the container's memcg. The container's own
      // processes (a Burstable pod's oom_score_adj is near 1000) go first, then the hog,
      // which stress-ng does not respawn (--oomable).
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
    ];
    if (oom) program.push('--oomable', '--no-oom-adjust');
    const before = workingSet(target);
    if (oom) {
      await startOom(ctx, target, marker, program);
    } else {
      await startInContainer(ctx, target, marker, program, 2);
      // In effect once the memory is held: the memcg's usage has grown by it (bounded wait).
      const deadline = Date.now() + 10_000;
      while (workingSet(target) < before + bytes * 0.8 && Date.now() < deadline) {
        if (markedPids(marker).length === 0) throw new Error('memory-hog: stress-ng exited early');
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    ctx.log(
      `memory-hog: stress-ng holds ${mib(bytes)} in the container's memcg${oom ? ' (past the limit: OOM)' : ''}`,
    );
  },
  revert: (ctx, _target, args) => killMarked(ctx, markerArg(args)),
  snapshot: (_ctx, target) => Promise.resolve(stressSnapshot(target)),
};

/** The memcg's count of OOM kills (memory.oom_control), undefined once the cgroup is gone. */
function oomKills(target: OpTarget): number | undefined {
  const v = cgroupFile(target, 'memory', 'memory.oom_control');
  if (v === undefined) return undefined;
  return Number(/^oom_kill (\d+)$/m.exec(v)?.[1] ?? 0);
}

/**
 * memory-hog past the limit: in effect once the OOM killer acted in the container's
 * memcg (its oom_kill count rose, or the container was killed and its cgroup removed).
 * The hog's own oom_score_adj is lowered (-900, as far as the agent may) so the
 * container's processes are chosen first; it may be gone by the time this returns.
 */
async function startOom(
  ctx: OpContext,
  target: OpTarget,
  marker: string,
  program: string[],
): Promise<void> {
  const kills = oomKills(target) ?? 0;
  let exited = '';
  const child = spawnInCgroups(
    target,
    marker,
    program[0]!,
    program.slice(1),
    (code, sig, err) => {
      exited = `exited ${sig ?? code}${err ? `: ${err}` : ''}`;
    },
    { oomScoreAdj: -900 },
  );
  if (child.pid !== undefined && !setOomScoreAdj([child.pid], -900)) {
    ctx.log("memory-hog: cannot lower the hog's oom_score_adj (no CAP_SYS_RESOURCE)");
  }
  const deadline = Date.now() + 15_000;
  for (;;) {
    const now = oomKills(target);
    if (now === undefined || now > kills) {
      const main = containerMainPid(target);
      const appAlive = main !== undefined && existsSync(`/proc/${main}`);
      const adj = (pid: number | string) => {
        try {
          return readFileSync(`/proc/${pid}/oom_score_adj`, 'utf8').trim();
        } catch {
          return '?';
        }
      };
      ctx.log(
        appAlive
          ? `memory-hog --oom: the OOM killer acted in the container's memcg, but chose the hog ` +
              `(the agent's oom_score_adj ${adj('self')} is not below the container's ${adj(main)}: ` +
              'a Guaranteed-QoS helper, or CAP_SYS_RESOURCE, lets the container be chosen)'
          : "memory-hog --oom: the OOM killer killed the container's main process",
      );
      return;
    }
    setOomScoreAdj(markedPids(marker), -900);
    if (Date.now() > deadline || (exited && markedPids(marker).length === 0)) {
      await killMarked(ctx, marker);
      throw new Error(
        `memory-hog --oom: the OOM killer did not act within 15 s${exited ? ` (stress-ng ${exited})` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
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
