// Watches CONFIG_DIR (and SECRETS_DIR) and re-reads the whole configuration on any change.
// Kubernetes updates a mounted ConfigMap by atomically swapping the `..data` symlink, so we watch
// the directory, not single files, debounce bursts of events, and also poll as a fallback
// (fs.watch misses changes on some volume types and when the directory itself is replaced).
// Reloadable keys are applied; other changed keys are reported as needing a restart.
import { watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { CONFIG_KEYS, isReloadableKey } from './keys.js';
import type { ConfigKey, ConfigValues } from './keys.js';
import { ConfigError, isRedacted } from './load.js';
import type { LoadedConfig } from './load.js';

export interface ConfigChange {
  readonly key: ConfigKey;
  readonly applied: boolean;
  /** Absent for secret keys: their values are never reported. */
  readonly from?: string;
  readonly to?: string;
}

export interface WatchLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface ConfigWatcherOptions {
  readonly initial: LoadedConfig;
  readonly load: () => LoadedConfig;
  /** Called with the values now in force after reloadable keys changed. */
  readonly onApply: (values: ConfigValues, changes: readonly ConfigChange[]) => void;
  readonly logger: WatchLogger;
  readonly pollIntervalMs: number;
  readonly debounceMs?: number;
}

export class ConfigWatcher {
  private readonly opts: ConfigWatcherOptions;
  private lastSeen: LoadedConfig;
  private readonly applied: ConfigValues;
  private readonly watchers: FSWatcher[] = [];
  private pollTimer: NodeJS.Timeout | undefined;
  private debounceTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private lastError = '';

  constructor(opts: ConfigWatcherOptions) {
    this.opts = opts;
    this.lastSeen = opts.initial;
    this.applied = { ...opts.initial.values };
  }

  /** Values in force (reloadable keys updated, the rest as at start). */
  get values(): Readonly<ConfigValues> {
    return this.applied;
  }

  start(): void {
    const dirs = new Set([this.opts.initial.configDir, this.opts.initial.secretsDir]);
    for (const dir of dirs) this.watchDir(dir);
    this.pollTimer = setInterval(() => this.reload('poll'), this.opts.pollIntervalMs);
    this.pollTimer.unref();
  }

  close(): void {
    this.closed = true;
    clearInterval(this.pollTimer);
    clearTimeout(this.debounceTimer);
    for (const w of this.watchers.splice(0)) w.close();
  }

  private watchDir(dir: string): void {
    try {
      const w = watch(dir, { persistent: false }, () => this.schedule());
      w.on('error', (err) => {
        this.opts.logger.warn({ dir, err: err.message }, 'config watch failed; polling only');
        w.close();
      });
      this.watchers.push(w);
    } catch {
      // Directory absent (not mounted): polling notices if it appears later.
    }
  }

  private schedule(): void {
    if (this.closed) return;
    clearTimeout(this.debounceTimer);
    this.debounceTimer = setTimeout(() => this.reload('watch'), this.opts.debounceMs ?? 100);
    this.debounceTimer.unref();
  }

  /** Re-reads every source now; returns the changes seen (applied or not). */
  reload(trigger: 'watch' | 'poll' | 'manual' = 'manual'): readonly ConfigChange[] {
    if (this.closed) return [];
    let next: LoadedConfig;
    try {
      next = this.opts.load();
    } catch (err) {
      const problems = err instanceof ConfigError ? err.problems : [String(err)];
      const key = problems.join('\n');
      if (key !== this.lastError) {
        this.lastError = key;
        this.opts.logger.error(
          { trigger, problems },
          'configuration change rejected; keeping the values in force',
        );
      }
      return [];
    }
    this.lastError = '';
    const changes: ConfigChange[] = [];
    for (const key of CONFIG_KEYS) {
      const before = this.lastSeen.raw[key];
      const after = next.raw[key];
      if (before === after) continue;
      const applied = isReloadableKey(key);
      const secret = isRedacted(this.lastSeen, key) || isRedacted(next, key);
      changes.push(secret ? { key, applied } : { key, applied, from: before, to: after });
      if (applied) {
        (this.applied as Record<ConfigKey, unknown>)[key] = next.values[key];
      }
    }
    this.lastSeen = next;
    if (changes.length === 0) return changes;
    for (const c of changes) {
      const detail = c.from === undefined ? { key: c.key, value: 'changed' } : c;
      if (c.applied) this.opts.logger.info({ trigger, ...detail }, 'configuration key reloaded');
      else {
        this.opts.logger.warn(
          { trigger, ...detail, applied: false },
          'configuration key changed but needs a restart to take effect',
        );
      }
    }
    if (changes.some((c) => c.applied)) this.opts.onApply(this.applied, changes);
    return changes;
  }
}
