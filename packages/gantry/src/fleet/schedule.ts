// Runs one task per service with at most `concurrency` at once, each starting
// only after every service it depends on succeeded. A service whose dependency
// failed is skipped, saying which; with failFast, nothing new starts after the
// first failure (tasks already running finish).
export interface Scheduled<R> {
  key: string;
  outcome: 'succeeded' | 'failed' | 'skipped';
  result?: R;
  error?: unknown;
  /** Why it was skipped. */
  reason?: string;
  elapsedMs: number;
}

export interface ScheduleOptions {
  concurrency: number;
  failFast?: boolean;
  onStart?: (key: string) => void;
}

export async function runScheduled<R>(
  keys: readonly string[],
  deps: ReadonlyMap<string, readonly string[]>,
  opts: ScheduleOptions,
  task: (key: string) => Promise<{ ok: boolean; result: R }>,
): Promise<Scheduled<R>[]> {
  const limit = Math.max(1, Math.floor(opts.concurrency));
  const done = new Map<string, Scheduled<R>>();
  const running = new Map<string, Promise<void>>();
  let stopped: string | undefined;
  const pending = new Set(keys);
  while (pending.size > 0 || running.size > 0) {
    // Settle what can no longer run: a failed or skipped dependency, or fail-fast.
    let changed = true;
    while (changed) {
      changed = false;
      for (const k of pending) {
        const bad = (deps.get(k) ?? []).find((d) => {
          const o = done.get(d)?.outcome;
          return o === 'failed' || o === 'skipped';
        });
        if (bad || stopped) {
          pending.delete(k);
          done.set(k, {
            key: k,
            outcome: 'skipped',
            reason: bad
              ? `${bad} ${done.get(bad)!.outcome === 'failed' ? 'failed' : 'was skipped'}`
              : `not started: ${stopped} failed (--fail-fast)`,
            elapsedMs: 0,
          });
          changed = true;
        }
      }
    }
    const ready = [...pending].filter((k) =>
      (deps.get(k) ?? []).every((d) => done.get(d)?.outcome === 'succeeded'),
    );
    for (const k of ready) {
      if (running.size >= limit) break;
      pending.delete(k);
      opts.onStart?.(k);
      const started = Date.now();
      const p = task(k).then(
        (r) => {
          done.set(k, {
            key: k,
            outcome: r.ok ? 'succeeded' : 'failed',
            result: r.result,
            elapsedMs: Date.now() - started,
          });
          if (!r.ok && opts.failFast) stopped ??= k;
        },
        (error: unknown) => {
          done.set(k, { key: k, outcome: 'failed', error, elapsedMs: Date.now() - started });
          if (opts.failFast) stopped ??= k;
        },
      );
      running.set(
        k,
        p.finally(() => running.delete(k)),
      );
    }
    if (running.size === 0) {
      if (pending.size === 0) break;
      // Nothing runs and nothing can start: only a cycle does that, and planFleet refuses cycles.
      for (const k of pending) {
        done.set(k, { key: k, outcome: 'skipped', reason: 'waits on itself', elapsedMs: 0 });
      }
      break;
    }
    await Promise.race(running.values());
  }
  return keys.map((k) => done.get(k)!);
}
