// Runs the real entry point (src/main.ts through tsx) as a child process, the way a container
// would, and reads its JSON log lines.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CONFIG_KEYS } from '../../src/config/keys.js';

const SERVICE_DIR = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

export type LogLine = Record<string, unknown> & { msg?: string; level?: string };

export interface ServiceProcess {
  readonly proc: ChildProcess;
  readonly baseUrl: string;
  readonly logs: LogLine[];
  /** Everything the process printed, for "never logged" checks. */
  output(): string;
  waitForLog(pred: (l: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  readonly exited: Promise<number | null>;
  stop(): void;
}

export async function spawnService(env: Record<string, string>): Promise<ServiceProcess> {
  const base: Record<string, string | undefined> = { ...process.env };
  for (const key of [...CONFIG_KEYS, 'CONFIG_DIR', 'SECRETS_DIR']) delete base[key];
  const proc = spawn(process.execPath, ['--import', 'tsx', MAIN], {
    cwd: SERVICE_DIR,
    env: {
      ...base,
      PORT: '0',
      HOST: '127.0.0.1',
      CONFIG_DIR: '/nonexistent/config',
      SECRETS_DIR: '/nonexistent/secrets',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: LogLine[] = [];
  let raw = '';
  let pending = '';
  const waiters: { pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];
  proc.stdout.setEncoding('utf8');
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (chunk: string) => (raw += chunk));
  proc.stdout.on('data', (chunk: string) => {
    raw += chunk;
    pending += chunk;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      let parsed: LogLine;
      try {
        parsed = JSON.parse(line) as LogLine;
      } catch {
        continue;
      }
      logs.push(parsed);
      for (const w of waiters.splice(0)) {
        if (w.pred(parsed)) w.resolve(parsed);
        else waiters.push(w);
      }
    }
  });
  const exited = new Promise<number | null>((resolve) =>
    proc.once('exit', (code) => resolve(code)),
  );

  const waitForLog = (pred: (l: LogLine) => boolean, timeoutMs = 15_000): Promise<LogLine> => {
    const seen = logs.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`log line not seen within ${timeoutMs} ms; output:\n${raw}`)),
        timeoutMs,
      );
      const done = (l: LogLine) => {
        clearTimeout(timer);
        resolve(l);
      };
      waiters.push({ pred, resolve: done });
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`service exited (${code}) before the log line; output:\n${raw}`));
      });
    });
  };

  const listening = await waitForLog((l) => /Server listening at/.test(l.msg ?? ''));
  const url = /http:\/\/127\.0\.0\.1:\d+/.exec(listening.msg ?? '')?.[0];
  if (url === undefined) throw new Error(`no listen address in: ${listening.msg}`);
  return {
    proc,
    baseUrl: url,
    logs,
    output: () => raw,
    waitForLog,
    exited,
    stop: () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    },
  };
}

/** Polls fn until it returns true; bounded. */
export async function eventually(
  fn: () => Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
