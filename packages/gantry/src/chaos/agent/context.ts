// The OpContext the agent gives ops: programs run (optionally inside a pod's
// network namespace through nsenter), long-running children that die with the
// helper, and a log line with a timestamp.
import { execFile, spawn as spawnChild } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import type { OpContext } from './op.js';

export function log(message: string): void {
  process.stdout.write(`${new Date().toISOString()} ${message}\n`);
}

const children = new Map<number, ChildProcess>();

/** Kills every child still running (SIGTERM, then SIGKILL after `graceMs`). */
export async function killChildren(graceMs = 1000): Promise<void> {
  const live = [...children.values()].filter((c) => c.exitCode === null && c.signalCode === null);
  for (const c of live) c.kill('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && live.some((c) => c.exitCode === null && c.signalCode === null))
    await new Promise((r) => setTimeout(r, 50));
  for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}

/** Stops one child started by spawn(); resolves once it exited (bounded). */
export async function stopChild(pid: number, graceMs = 1000): Promise<void> {
  const c = children.get(pid);
  if (!c) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
    return;
  }
  if (c.exitCode !== null || c.signalCode !== null) return;
  const exited = new Promise((r) => c.once('exit', r));
  c.kill('SIGTERM');
  const timer = setTimeout(() => c.kill('SIGKILL'), graceMs);
  await Promise.race([exited, new Promise((r) => setTimeout(r, graceMs + 1000))]);
  clearTimeout(timer);
}

process.on('exit', () => {
  for (const c of children.values()) if (c.exitCode === null) c.kill('SIGKILL');
});

const withNetns = (file: string, args: string[], netnsPid?: number, uid?: number) =>
  netnsPid === undefined
    ? { file, args }
    : {
        file: 'nsenter',
        args: [
          `--net=/proc/${netnsPid}/ns/net`,
          ...(uid === undefined ? [] : [`--setuid=${uid}`, `--setgid=${uid}`]),
          '--',
          file,
          ...args,
        ],
      };

export const opContext: OpContext & {
  /** spawn() as another uid (the proxy: iptables owner matches exempt its own connections). */
  spawnAs: (file: string, args: string[], netnsPid: number | undefined, uid: number) => number;
} = {
  run(file, args, opts = {}) {
    const c = withNetns(file, args, opts.netnsPid);
    return new Promise((resolve, reject) => {
      execFile(
        c.file,
        c.args,
        { timeout: opts.timeoutMs ?? 15_000, maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' },
        (err, stdout, stderr) => {
          const code =
            err === null ? 0 : typeof err.code === 'number' ? err.code : err.killed ? 124 : 1;
          if (code !== 0 && !opts.allowFail) {
            const what = [file, ...args].join(' ');
            reject(new Error(`${what}: exit ${code}: ${(stderr || err?.message || '').trim()}`));
            return;
          }
          resolve({ code, stdout, stderr });
        },
      );
    });
  },
  spawn(file, args, opts = {}) {
    return start(withNetns(file, args, opts.netnsPid));
  },
  spawnAs(file, args, netnsPid, uid) {
    return start(withNetns(file, args, netnsPid, uid));
  },
  log,
};

function start(c: { file: string; args: string[] }): number {
  // Same process group as the agent, stdout/stderr into the agent's log: when the
  // helper's container is killed, so are they.
  const child = spawnChild(c.file, c.args, { stdio: ['ignore', 'inherit', 'inherit'] });
  if (child.pid === undefined) throw new Error(`could not start ${c.file}`);
  const pid = child.pid;
  children.set(pid, child);
  child.on('exit', (code, sig) => {
    log(`child ${pid} (${c.args.at(-1) ?? c.file}) exited: ${sig ?? code}`);
  });
  child.on('error', (err) => log(`child ${pid}: ${err.message}`));
  return pid;
}
