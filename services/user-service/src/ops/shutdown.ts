// Graceful shutdown, in phases, each logged:
//   1. draining: /readyz answers 503 at once, so endpoints controllers drop this pod;
//   2. wait SHUTDOWN_DRAIN_DELAY_MS while traffic already routed here keeps being served;
//   3. close the HTTP server: stop accepting, let in-flight requests finish, close idle sockets;
//   4. close the database and other resources; exit 0.
// The whole sequence is bounded by SHUTDOWN_TIMEOUT_MS, past which the process exits 1.
import { setTimeout as sleep } from 'node:timers/promises';
import type { RuntimeState } from './runtime.js';

export interface ShutdownLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface ShutdownOptions {
  readonly state: RuntimeState;
  readonly logger: ShutdownLogger;
  readonly drainDelayMs: number;
  readonly timeoutMs: number;
  /** Stops accepting connections and resolves when in-flight requests are done (app.close()). */
  readonly closeServer: () => Promise<void>;
  /** Closes the database, watchers and anything else, after the server. */
  readonly closeResources: () => Promise<void>;
  readonly exit: (code: number) => void;
}

export type Shutdown = (reason: string) => Promise<void>;

export function createShutdown(opts: ShutdownOptions): Shutdown {
  let started = false;
  return async (reason) => {
    if (started) {
      opts.logger.warn({ reason }, 'shutdown: already in progress');
      return;
    }
    started = true;
    const t0 = Date.now();
    const ms = () => Date.now() - t0;
    const timer = setTimeout(() => {
      opts.logger.error(
        { timeoutMs: opts.timeoutMs },
        'shutdown: did not finish within SHUTDOWN_TIMEOUT_MS; exiting 1',
      );
      opts.exit(1);
    }, opts.timeoutMs);
    timer.unref();
    try {
      opts.state.draining = true;
      opts.logger.info(
        { reason, drainDelayMs: opts.drainDelayMs },
        'shutdown: draining, /readyz now fails; still serving requests',
      );
      await sleep(opts.drainDelayMs);
      opts.logger.info(
        { elapsedMs: ms() },
        'shutdown: closing listener, waiting for in-flight requests',
      );
      await opts.closeServer();
      opts.logger.info({ elapsedMs: ms() }, 'shutdown: HTTP server closed; closing resources');
      await opts.closeResources();
      opts.logger.info({ elapsedMs: ms() }, 'shutdown: complete');
      clearTimeout(timer);
      opts.exit(0);
    } catch (err) {
      clearTimeout(timer);
      opts.logger.error({ err, elapsedMs: ms() }, 'shutdown: failed; exiting 1');
      opts.exit(1);
    }
  };
}

/** SIGTERM/SIGINT start the shutdown; a second SIGINT (Ctrl-C twice) exits at once. */
export function installSignalHandlers(
  shutdown: Shutdown,
  logger: ShutdownLogger,
  exit: (code: number) => void,
): void {
  let interrupted = false;
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => {
    if (interrupted) {
      logger.warn({}, 'shutdown: second SIGINT; exiting now');
      exit(130);
      return;
    }
    interrupted = true;
    void shutdown('SIGINT');
  });
}
