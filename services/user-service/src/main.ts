// Entry point: load and validate configuration, open the database (running migrations), build
// the app, listen, watch CONFIG_DIR for reloadable changes, and shut down gracefully on signals.
import { buildApp } from './app.js';
import { ConfigError, describeConfig, faultConfigOf, loadConfig } from './config/load.js';
import { ConfigWatcher } from './config/watch.js';
import { describeTarget, openRepository } from './db/index.js';
import { createLogger } from './logger.js';
import { describeFaults, faultsEnabled } from './ops/faults.js';
import { RuntimeState } from './ops/runtime.js';
import { createShutdown, installSignalHandlers } from './ops/shutdown.js';
import { loadBuildInfo } from './ops/version.js';

/** Exit status for invalid configuration (sysexits EX_CONFIG). */
const EXIT_CONFIG = 78;

async function main(): Promise<void> {
  let loaded;
  try {
    loaded = loadConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    createLogger('info').fatal({ problems: err.problems }, err.message);
    process.exit(EXIT_CONFIG);
  }
  const { values } = loaded;
  const logger = createLogger(values.LOG_LEVEL);
  const exit = (code: number): void => {
    logger.flush();
    process.exit(code);
  };
  for (const warning of loaded.warnings) logger.warn({}, warning);
  logger.info(
    { config: describeConfig(loaded), configDir: loaded.configDir, secretsDir: loaded.secretsDir },
    'configuration loaded',
  );
  const build = loadBuildInfo();
  for (const warning of build.warnings) logger.warn({}, warning);
  logger.info({ build: build.info }, 'build information');

  const state = new RuntimeState(faultConfigOf(values));
  if (faultsEnabled(state.faults) || !state.faults.ready) {
    logger.warn({ faults: describeFaults(state.faults) }, 'fault injection is ON');
  }

  const repository = await openRepository(values.DATABASE_URL, {
    onPoolError: (err) => logger.error({ err: err.message }, 'idle database connection failed'),
  });
  logger.info(
    {
      database: describeTarget(values.DATABASE_URL),
      migrationsApplied: repository.migration.applied,
    },
    'database ready',
  );

  const app = await buildApp({
    repository,
    logger,
    state,
    buildInfo: build.info,
    bodyLimit: values.BODY_LIMIT_BYTES,
  });

  const watcher = new ConfigWatcher({
    initial: loaded,
    load: () => loadConfig(),
    logger,
    pollIntervalMs: values.CONFIG_POLL_INTERVAL_MS,
    onApply: (next) => {
      app.setLogLevel(next.LOG_LEVEL);
      state.faults = faultConfigOf(next);
      logger.info({ logLevel: next.LOG_LEVEL, faults: describeFaults(state.faults) }, 'reloaded');
    },
  });
  watcher.start();

  const shutdown = createShutdown({
    state,
    logger,
    drainDelayMs: values.SHUTDOWN_DRAIN_DELAY_MS,
    timeoutMs: values.SHUTDOWN_TIMEOUT_MS,
    closeServer: () => app.server.close(),
    closeResources: async () => {
      watcher.close();
      await repository.close();
    },
    exit,
  });
  installSignalHandlers(shutdown, logger, exit);

  await app.server.listen({ port: values.PORT, host: values.HOST });
}

main().catch((err: unknown) => {
  createLogger('info').fatal({ err }, 'user-service failed to start');
  process.exit(1);
});
