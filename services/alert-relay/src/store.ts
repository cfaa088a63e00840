// The durable queue: one JSON file per (accepted group, channel) under DIR/jobs, written to a
// temporary name, fsync'd, renamed and the directory fsync'd before the webhook is answered.
// A delivered job's file is removed; a job that runs out of attempts moves to DIR/failed.
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import type { ChannelKind } from './config.js';
import type { Alert } from './payload.js';

export interface Job {
  v: 1;
  id: string;
  receiver: string;
  /** Index of the channel in the receiver's list, and its kind (checked at delivery). */
  channel: number;
  kind: ChannelKind;
  acceptedAt: number;
  groupKey: string;
  groupLabels: Record<string, string>;
  commonLabels: Record<string, string>;
  externalURL: string;
  truncatedAlerts: number;
  alerts: Alert[];
  /** Robots: alerts already delivered (split messages). Phones: numbers already done. */
  progress: number;
  done: string[];
  attempts: number;
  nextAt: number;
  lastError?: string;
}

function writeDurable(dir: string, name: string, data: string, syncDir: boolean): void {
  const tmp = join(dir, `.${name}.tmp`);
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, join(dir, name));
  if (syncDir) fsyncDir(dir);
}

export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export class JobStore {
  readonly jobsDir: string;
  readonly failedDir: string;

  constructor(readonly dir: string) {
    this.jobsDir = join(dir, 'jobs');
    this.failedDir = join(dir, 'failed');
    mkdirSync(this.jobsDir, { recursive: true, mode: 0o700 });
    mkdirSync(this.failedDir, { recursive: true, mode: 0o700 });
  }

  /** Writes new jobs durably (each file fsync'd, then the directory once). */
  addAll(jobs: Job[]): void {
    if (jobs.length === 0) return;
    for (const job of jobs)
      writeDurable(this.jobsDir, `${job.id}.json`, JSON.stringify(job), false);
    fsyncDir(this.jobsDir);
  }

  /** Persists a job's progress or retry state. */
  update(job: Job): void {
    writeDurable(this.jobsDir, `${job.id}.json`, JSON.stringify(job), false);
  }

  complete(job: Job): void {
    rmSync(join(this.jobsDir, `${job.id}.json`), { force: true });
  }

  /** Removes failed jobs older than `maxAgeMs` (they are for inspection, not kept forever). */
  pruneFailed(now: number, maxAgeMs: number): number {
    let removed = 0;
    for (const name of readdirSync(this.failedDir)) {
      const path = join(this.failedDir, name);
      try {
        if (now - statSync(path).mtimeMs > maxAgeMs) {
          rmSync(path, { force: true });
          removed++;
        }
      } catch {
        /* gone already */
      }
    }
    return removed;
  }

  fail(job: Job): void {
    writeDurable(this.failedDir, `${job.id}.json`, JSON.stringify(job), true);
    this.complete(job);
  }

  /** Every pending job, oldest first; leftovers of interrupted writes are removed. */
  loadPending(onBad: (file: string) => void): Job[] {
    const jobs: Job[] = [];
    for (const name of readdirSync(this.jobsDir)) {
      const path = join(this.jobsDir, name);
      if (name.endsWith('.tmp')) {
        rmSync(path, { force: true });
        continue;
      }
      if (!name.endsWith('.json')) continue;
      try {
        const job = JSON.parse(readFileSync(path, 'utf8')) as Job;
        if (job.v !== 1 || !Array.isArray(job.alerts)) throw new Error('bad job');
        jobs.push(job);
      } catch {
        onBad(name);
        renameSync(path, join(this.failedDir, `${name}.corrupt`));
      }
    }
    return jobs.sort((a, b) => a.acceptedAt - b.acceptedAt || a.id.localeCompare(b.id));
  }
}

/**
 * What has been accepted recently, by (receiver, channel, fingerprint, status), so Alertmanager's
 * retries and group updates do not send the same alert twice within the window. An entry for the
 * other status of the same alert is dropped, so a flapping alert is notified each time it changes.
 * Kept in memory and appended to DIR/dedupe.log (fsync'd with the jobs), compacted on start.
 */
export class Dedupe {
  private seen = new Map<string, number>();
  private readonly path: string;
  private appended = 0;

  constructor(
    dir: string,
    private readonly windowMs: number,
  ) {
    this.path = join(dir, 'dedupe.log');
  }

  static key(receiver: string, channel: number, fingerprint: string, status: string): string {
    return `${receiver}|${channel}|${fingerprint}|${status}`;
  }

  load(now: number): void {
    let text = '';
    try {
      text = readFileSync(this.path, 'utf8');
    } catch {
      /* first start */
    }
    for (const line of text.split('\n')) {
      if (line === '') continue;
      try {
        const [k, t] = JSON.parse(line) as [string, number];
        if (t === 0) this.seen.delete(k);
        else this.seen.set(k, t);
      } catch {
        /* a torn last line after a crash */
      }
    }
    this.compact(now);
  }

  /** Drops expired entries and rewrites the log with the live ones only. */
  compact(now: number): void {
    this.prune(now);
    const lines = [...this.seen].map(([k, t]) => JSON.stringify([k, t]) + '\n').join('');
    writeDurable(this.dirOf(), 'dedupe.log', lines, true);
    this.appended = 0;
  }

  /** Compacts when the log has grown well past what is live (keeps the emptyDir small). */
  maybeCompact(now: number): void {
    this.prune(now);
    if (this.appended > 1000 && this.appended > 2 * this.seen.size) this.compact(now);
  }

  private dirOf(): string {
    return this.path.slice(0, -'/dedupe.log'.length);
  }

  prune(now: number): void {
    for (const [k, t] of this.seen) if (now - t >= this.windowMs) this.seen.delete(k);
  }

  isDuplicate(key: string, now: number): boolean {
    const t = this.seen.get(key);
    return t !== undefined && now - t < this.windowMs;
  }

  /** Records keys (and forgets the opposite status); durable before returning. */
  record(keys: string[], now: number): void {
    if (keys.length === 0) return;
    let lines = '';
    for (const k of keys) {
      const opposite = k.endsWith('|firing')
        ? k.replace(/\|firing$/, '|resolved')
        : k.replace(/\|resolved$/, '|firing');
      if (this.seen.delete(opposite)) lines += JSON.stringify([opposite, 0]) + '\n';
      this.seen.set(k, now);
      lines += JSON.stringify([k, now]) + '\n';
      this.appended++;
    }
    const fd = openSync(this.path, 'a', 0o600);
    try {
      writeSync(fd, lines);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  get size(): number {
    return this.seen.size;
  }
}
