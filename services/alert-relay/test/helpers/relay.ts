// Runs the real entry point (src/main.ts through tsx) as a child process and reads its JSON logs.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SERVICE_DIR = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

export type LogLine = Record<string, unknown> & { msg?: string; level?: string };

export interface RelayProcess {
  readonly proc: ChildProcess;
  readonly baseUrl: string;
  readonly logs: LogLine[];
  output(): string;
  waitForLog(pred: (l: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  readonly exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): void;
}

export async function spawnRelay(env: Record<string, string>): Promise<RelayProcess> {
  const base: Record<string, string | undefined> = { ...process.env };
  for (const k of Object.keys(base)) if (k.startsWith('RELAY_')) delete base[k];
  const proc = spawn(process.execPath, ['--import', 'tsx', MAIN], {
    cwd: SERVICE_DIR,
    env: { ...base, PORT: '0', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: LogLine[] = [];
  let raw = '';
  let pending = '';
  const waiters: { pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];
  proc.stdout.setEncoding('utf8');
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (c: string) => (raw += c));
  proc.stdout.on('data', (c: string) => {
    raw += c;
    pending += c;
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
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  const waitForLog = (pred: (l: LogLine) => boolean, timeoutMs = 15_000): Promise<LogLine> => {
    const seen = logs.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`log line not seen in ${timeoutMs} ms:\n${raw}`)),
        timeoutMs,
      );
      waiters.push({
        pred,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
      });
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`relay exited (${code}) first:\n${raw}`));
      });
    });
  };
  const listening = await waitForLog((l) => l.msg?.startsWith('listening on') === true);
  return {
    proc,
    baseUrl: `http://127.0.0.1:${Number(listening.port)}`,
    logs,
    output: () => raw,
    waitForLog,
    exited,
    kill: (signal = 'SIGKILL') => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
    },
  };
}

/** A Secret-volume-like directory: dir/..data → ..vN, dir/CHANNELS_JSON → ..data/CHANNELS_JSON. */
export class SecretVolume {
  readonly dir = mkdtempSync(join(tmpdir(), 'relay-secret-'));
  private gen = 0;
  readonly file = join(this.dir, 'CHANNELS_JSON');

  write(content: unknown): void {
    const version = join(this.dir, `..v${++this.gen}`);
    mkdirSync(version);
    writeFileSync(join(version, 'CHANNELS_JSON'), JSON.stringify(content));
    const tmpLink = join(this.dir, '..data_tmp');
    symlinkSync(`..v${this.gen}`, tmpLink);
    renameSync(tmpLink, join(this.dir, '..data'));
    if (this.gen === 1) symlinkSync('..data/CHANNELS_JSON', this.file);
  }
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface AlertSpec {
  name: string;
  status?: 'firing' | 'resolved';
  fingerprint?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export function payload(
  receiver: string,
  alerts: AlertSpec[],
  groupLabels: Record<string, string> = {},
) {
  const all = alerts.map((a) => ({
    status: a.status ?? 'firing',
    labels: {
      alertname: a.name,
      service: 'user-service',
      namespace: 'default',
      severity: 'critical',
      ...a.labels,
    },
    annotations: {
      summary: `${a.name} is happening`,
      runbook_url: 'https://runbooks.example/x',
      ...a.annotations,
    },
    startsAt: '2026-12-04T20:00:00Z',
    endsAt: a.status === 'resolved' ? '2026-12-04T20:05:00Z' : '0001-01-01T00:00:00Z',
    generatorURL: 'http://prometheus.local/graph?g0.expr=up',
    fingerprint: a.fingerprint ?? `fp-${a.name}`,
  }));
  return {
    version: '4',
    groupKey: `{}:{alertname="${alerts[0]?.name ?? ''}"}`,
    truncatedAlerts: 0,
    status: all.some((a) => a.status === 'firing') ? 'firing' : 'resolved',
    receiver,
    groupLabels: { alertname: alerts[0]?.name ?? '', ...groupLabels },
    commonLabels: { service: 'user-service', namespace: 'default' },
    commonAnnotations: {},
    externalURL: 'http://alertmanager.local',
    alerts: all,
  };
}

export async function post(baseUrl: string, receiver: string, body: unknown): Promise<number> {
  const res = await fetch(`${baseUrl}/v1/alerts/${receiver}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  await res.text();
  return res.status;
}

export async function eventually(
  fn: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
