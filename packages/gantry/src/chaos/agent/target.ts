// Finding a pod's processes on this node. The helper runs with hostPID, so
// /proc lists every process of the node; a process belongs to the pod when a
// line of /proc/PID/cgroup names `pod<uid>` (cgroupfs driver) or
// `pod<uid_with_underscores>` (systemd driver). The pod sandbox is the pause
// process (its network namespace is the pod's, whichever container restarts).
// A container's main process is chosen among the processes whose cgroup names its
// container id (mainProcess): never one a chaos op placed there (stress-ng, fio:
// they carry GANTRY_CHAOS_MARK, or their session leader does, and live in the
// agent's own pid namespace), preferably the container's init (pid 1 in its own
// pid namespace), else the oldest whose parent is outside the container.
import { existsSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import type { OpTarget } from './op.js';

/** The host's /sys/fs/cgroup, mounted into the helper here. */
export const HOST_CGROUP = process.env.GANTRY_HOST_CGROUP ?? '/host/sys/fs/cgroup';

interface Proc {
  pid: number;
  cgroup: string;
}

/** Environment variable carrying a chaos op's marker; every child of a marked process inherits it. */
export const MARK_ENV = 'GANTRY_CHAOS_MARK';

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Every process whose cgroup names the pod. `proc`: where procfs is (tests give a fake one). */
export function podProcesses(podUid: string, proc = '/proc'): Proc[] {
  const needles = [`pod${podUid}`, `pod${podUid.replace(/-/g, '_')}`];
  const out: Proc[] = [];
  for (const entry of readdirSync(proc)) {
    if (!/^\d+$/.test(entry)) continue;
    const cg = read(`${proc}/${entry}/cgroup`);
    if (cg && needles.some((n) => cg.includes(n))) out.push({ pid: Number(entry), cgroup: cg });
  }
  return out.sort((a, b) => a.pid - b.pid);
}

const cmdline = (pid: number, proc = '/proc') =>
  (read(`${proc}/${pid}/cmdline`) ?? '').split('\0')[0] ?? '';

function markerIn(pid: number, proc: string): string | undefined {
  const env = read(`${proc}/${pid}/environ`);
  const prefix = `${MARK_ENV}=`;
  for (const kv of env?.split('\0') ?? [])
    if (kv.startsWith(prefix)) return kv.slice(prefix.length);
  return undefined;
}

/** Parent, session id and state of a process (from /proc/PID/stat). */
export function procStat(
  pid: number,
  proc = '/proc',
): { ppid: number; sid: number; state: string } | undefined {
  const stat = read(`${proc}/${pid}/stat`);
  if (stat === undefined) return undefined;
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { state: f[0] ?? '?', ppid: Number(f[1]), sid: Number(f[3]) };
}

/**
 * The chaos marker of a process: in its environment, or in that of its session's leader.
 * Programs are started as session leaders (setsid) because some (stress-ng workers)
 * overwrite their environment with their process title.
 */
export function markOf(pid: number, proc = '/proc'): string | undefined {
  const own = markerIn(pid, proc);
  if (own !== undefined) return own;
  const st = procStat(pid, proc);
  return st && st.sid > 0 && st.sid !== pid ? markerIn(st.sid, proc) : undefined;
}

const pidNs = (pid: number | 'self', proc: string) => {
  try {
    return readlinkSync(`${proc}/${pid}/ns/pid`);
  } catch {
    return undefined;
  }
};

/** The pid of a process inside its own (innermost) pid namespace. */
function innerPid(pid: number, proc: string): number | undefined {
  const line = /^NSpid:\s*(.*)$/m.exec(read(`${proc}/${pid}/status`) ?? '')?.[1];
  const v = Number(line?.trim().split(/\s+/).pop());
  return Number.isInteger(v) ? v : undefined;
}

/**
 * The main process among a container's processes (node pids): never one a chaos op put
 * in its cgroups (marked, or in the agent's own pid namespace while the container's are
 * in another one: a stress-ng whose pid is lower after the pid counter wrapped, or one
 * left from before the container restarted); then the container's init (pid 1 in its
 * pid namespace); else the oldest whose parent is not in the container; else the oldest.
 */
export function mainProcess(pids: readonly number[], proc = '/proc'): number | undefined {
  const own = pidNs('self', proc);
  const sorted = [...pids].sort((a, b) => a - b).filter((p) => markOf(p, proc) === undefined);
  const elsewhere = sorted.filter((p) => pidNs(p, proc) !== own);
  // A container sharing the node's pid namespace (hostPID) has nothing elsewhere.
  const candidates = elsewhere.length > 0 ? elsewhere : sorted;
  const init = candidates.find((p) => innerPid(p, proc) === 1);
  if (init !== undefined) return init;
  const set = new Set(pids);
  return candidates.find((p) => !set.has(procStat(p, proc)?.ppid ?? -1)) ?? candidates[0];
}

/** The container's cgroup directories per controller, from /proc/PID/cgroup. */
export function cgroupDirs(cgroupFile: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of cgroupFile.split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    const controllers = m[1]!;
    const path = m[2]!;
    if (controllers === '') {
      const unified = existsSync(`${HOST_CGROUP}/unified`)
        ? `${HOST_CGROUP}/unified${path}`
        : `${HOST_CGROUP}${path}`;
      if (existsSync(unified)) out.unified = unified;
      continue;
    }
    const names = controllers.split(',').map((c) => c.replace(/^name=/, ''));
    for (const c of names) {
      const joint = `${HOST_CGROUP}/${names.join(',')}${path}`;
      const own = `${HOST_CGROUP}/${c}${path}`;
      if (existsSync(own)) out[c] = own;
      else if (existsSync(joint)) out[c] = joint;
    }
  }
  return out;
}

/**
 * Resolves an op's target: undefined when no process of the pod runs here any
 * more (the pod is gone). `containerId` (without the runtime:// prefix) picks
 * the container's main process and cgroups.
 */
export function resolveTarget(
  podUid: string,
  containerId?: string,
  proc = '/proc',
): OpTarget | undefined {
  const procs = podProcesses(podUid, proc);
  if (procs.length === 0) return undefined;
  const sandbox =
    procs.find((p) => cmdline(p.pid, proc) === '/pause') ??
    // Without a pause process (another runtime): the oldest process of the pod, which
    // shares the pod's network namespace all the same.
    procs.find((p) => markOf(p.pid, proc) === undefined) ??
    procs[0]!;
  const target: OpTarget = { podUid, sandboxPid: sandbox.pid };
  if (containerId) {
    const mine = procs.filter((p) => p.cgroup.includes(containerId));
    const pid = mainProcess(
      mine.map((p) => p.pid),
      proc,
    );
    const main = mine.find((p) => p.pid === pid);
    if (main) {
      target.containerPid = main.pid;
      target.cgroups = cgroupDirs(main.cgroup);
    }
  }
  return target;
}

/** Whether a process shares the node's own network namespace (a hostNetwork pod). */
export function inHostNetwork(pid: number): boolean {
  try {
    return readlinkSync(`/proc/${pid}/ns/net`) === readlinkSync('/proc/1/ns/net');
  } catch {
    return false;
  }
}
