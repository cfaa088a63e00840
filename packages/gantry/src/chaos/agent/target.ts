// Finding a pod's processes on this node. The helper runs with hostPID, so
// /proc lists every process of the node; a process belongs to the pod when a
// line of /proc/PID/cgroup names `pod<uid>` (cgroupfs driver) or
// `pod<uid_with_underscores>` (systemd driver). The pod sandbox is the pause
// process (its network namespace is the pod's, whichever container restarts);
// a container's main process is the one whose cgroup ends in its container id.
import { existsSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import type { OpTarget } from './op.js';

/** The host's /sys/fs/cgroup, mounted into the helper here. */
export const HOST_CGROUP = process.env.GANTRY_HOST_CGROUP ?? '/host/sys/fs/cgroup';

interface Proc {
  pid: number;
  cgroup: string;
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Every process whose cgroup names the pod. */
export function podProcesses(podUid: string): Proc[] {
  const needles = [`pod${podUid}`, `pod${podUid.replace(/-/g, '_')}`];
  const out: Proc[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cg = read(`/proc/${entry}/cgroup`);
    if (cg && needles.some((n) => cg.includes(n))) out.push({ pid: Number(entry), cgroup: cg });
  }
  return out.sort((a, b) => a.pid - b.pid);
}

const cmdline = (pid: number) => (read(`/proc/${pid}/cmdline`) ?? '').split('\0')[0] ?? '';

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
export function resolveTarget(podUid: string, containerId?: string): OpTarget | undefined {
  const procs = podProcesses(podUid);
  if (procs.length === 0) return undefined;
  const sandbox =
    procs.find((p) => cmdline(p.pid) === '/pause') ??
    // Without a pause process (another runtime): the oldest process of the pod, which
    // shares the pod's network namespace all the same.
    procs[0]!;
  const target: OpTarget = { podUid, sandboxPid: sandbox.pid };
  if (containerId) {
    const mine = procs.filter((p) => p.cgroup.includes(containerId));
    // The main process: the one whose parent is not in the container.
    const pids = new Set(mine.map((p) => p.pid));
    const main = mine.find((p) => {
      const stat = read(`/proc/${p.pid}/stat`) ?? '';
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      return !pids.has(ppid);
    });
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
