// Per-robot send limit: at most `limit` requests in any `windowMs`. A strict sliding window (the
// timestamps of the last `limit` sends) rather than a refilling bucket, because the robots count
// messages per minute and block the robot for minutes once it is exceeded. A send is stamped when
// its answer arrives, so network delay cannot squeeze two of them into one window at the far end.
import { readFileSync, writeFileSync, renameSync } from 'node:fs';

export class WindowLimiter {
  private stamps: number[] = [];

  constructor(
    readonly limit: number,
    readonly windowMs: number,
  ) {}

  /** Milliseconds to wait before the next send may start (0: now). */
  waitMs(now: number): number {
    this.stamps = this.stamps.filter((t) => now - t < this.windowMs);
    if (this.stamps.length < this.limit) return 0;
    const oldest = this.stamps[this.stamps.length - this.limit]!;
    return Math.max(1, oldest + this.windowMs - now);
  }

  /** Sends in the window ending at `now`. */
  used(now: number): number {
    return this.stamps.filter((t) => now - t < this.windowMs).length;
  }

  record(at: number): void {
    this.stamps.push(at);
    if (this.stamps.length > this.limit) this.stamps.splice(0, this.stamps.length - this.limit);
  }

  snapshot(): number[] {
    return [...this.stamps];
  }

  restore(stamps: number[]): void {
    this.stamps = stamps.filter((t) => Number.isFinite(t)).slice(-this.limit);
  }
}

/** Limiters by robot, persisted (not fsync'd: they only need to survive a process restart). */
export class LimiterSet {
  private readonly map = new Map<string, WindowLimiter>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly path: string,
  ) {
    try {
      const saved = JSON.parse(readFileSync(path, 'utf8')) as Record<string, number[]>;
      for (const [id, stamps] of Object.entries(saved)) this.get(id).restore(stamps);
    } catch {
      /* none saved */
    }
  }

  get(id: string): WindowLimiter {
    let l = this.map.get(id);
    if (!l) {
      l = new WindowLimiter(this.limit, this.windowMs);
      this.map.set(id, l);
    }
    return l;
  }

  save(): void {
    const out: Record<string, number[]> = {};
    for (const [id, l] of this.map) out[id] = l.snapshot();
    writeFileSync(`${this.path}.tmp`, JSON.stringify(out), { mode: 0o600 });
    renameSync(`${this.path}.tmp`, this.path);
  }
}
