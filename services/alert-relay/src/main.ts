// Entry point: read the environment, load the channels file (and keep polling it), recover the
// durable queue, listen, and stop cleanly on SIGTERM (pending jobs stay on disk).
import type { AddressInfo } from 'node:net';
import { ChannelsFile } from './config.js';
import { Scrubber, createLogger, errText, parseLevel } from './log.js';
import { Metrics } from './metrics.js';
import { Relay } from './relay.js';
import { createRelayServer } from './server.js';

function num(name: string, def: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return def;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number`);
  return n;
}

function main(): void {
  const scrubber = new Scrubber();
  const log = createLogger(parseLevel(process.env.LOG_LEVEL), scrubber);
  const metrics = new Metrics();
  const channelsPath = process.env.RELAY_CHANNELS ?? '/etc/relay/secrets/channels.json';
  let relay: Relay;
  try {
    relay = new Relay(
      {
        queueDir: process.env.RELAY_QUEUE_DIR ?? '/var/lib/relay',
        timeZone: process.env.RELAY_TIMEZONE ?? 'Asia/Shanghai',
        dedupeWindowMs: num('RELAY_DEDUPE_WINDOW_MS', 10 * 60_000),
        robotLimit: num('RELAY_ROBOT_RATE_LIMIT', 20),
        rateWindowMs: num('RELAY_RATE_WINDOW_MS', 60_000),
        retryBaseMs: num('RELAY_RETRY_BASE_MS', 1000),
        retryMaxMs: num('RELAY_RETRY_MAX_MS', 5 * 60_000),
        maxAttempts: num('RELAY_MAX_ATTEMPTS', 12),
        maxAgeMs: num('RELAY_MAX_AGE_MS', 6 * 3600_000),
        timeoutMs: num('RELAY_HTTP_TIMEOUT_MS', 10_000),
        batchQuietMs: num('RELAY_BATCH_QUIET_MS', 300),
        batchMaxWaitMs: num('RELAY_BATCH_MAX_WAIT_MS', 2000),
        scrub: (text) => scrubber.scrub(text),
      },
      log,
      metrics,
    );
  } catch (err) {
    log.error({ err: errText(err) }, 'cannot start');
    process.exit(78);
  }
  const file = new ChannelsFile(channelsPath, (e) => {
    if (e.ok) {
      scrubber.setSecrets(e.config.secrets);
      relay.config = e.config;
      metrics.configReloads.inc({ result: 'ok' });
      metrics.configLoaded.set({}, 1);
      log.info(
        {
          receivers: [...e.config.receivers.keys()],
          channels: [...e.config.receivers.values()].reduce((n, r) => n + r.channels.length, 0),
        },
        'channels file loaded',
      );
    } else {
      metrics.configReloads.inc({ result: 'error' });
      log.error(
        { problem: e.problem, keeping: relay.config ? 'previous configuration' : 'none' },
        'channels file not loaded',
      );
    }
  });
  file.start(num('RELAY_CONFIG_POLL_MS', 3000));
  if (!relay.config) metrics.configLoaded.set({}, 0);
  const pending = relay.recover();
  if (pending > 0) log.info({ pending }, 'redelivering jobs left pending by the previous run');
  relay.start();

  let draining = false;
  const server = createRelayServer(relay, metrics, log, {
    ready: () => relay.config !== undefined,
  });
  server.keepAliveTimeout = 65_000;
  const port = num('PORT', 8080);
  server.listen(port, process.env.HOST ?? '0.0.0.0', () => {
    const addr = server.address() as AddressInfo;
    log.info(
      { port: addr.port, address: addr.address, channelsFile: channelsPath },
      `listening on ${addr.address}:${addr.port}`,
    );
  });
  // On SIGTERM: stop taking alerts (readiness fails, the listener closes), keep delivering for up
  // to RELAY_DRAIN_MS so a pod being replaced hands over an empty queue, then exit. What is still
  // queued stays on disk for the next start of this pod's container.
  const drainMs = num('RELAY_DRAIN_MS', 20_000);
  const shutdown = (signal: string): void => {
    if (draining) return;
    draining = true;
    log.info({ signal, pending: relay.depth, drainMs }, 'shutting down: delivering what is queued');
    server.close();
    const deadline = Date.now() + drainMs;
    const finish = (): void => {
      if (relay.depth > 0 && Date.now() < deadline) {
        setTimeout(finish, 100);
        return;
      }
      relay.stop();
      file.stop();
      log.info(
        { pending: relay.depth },
        relay.depth > 0 ? 'exiting; undelivered jobs stay queued' : 'exiting; queue empty',
      );
      process.exit(0);
    };
    finish();
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

main();
