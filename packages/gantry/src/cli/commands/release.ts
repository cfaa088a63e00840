// Cluster commands: deploy, history, status, rollback, restart.
import { dirname } from 'node:path';
import type { Command } from 'commander';
import { deploy } from '../../release/deploy.js';
import { restartService } from '../../release/restart.js';
import { RollbackTargetError, rollbackService } from '../../release/rollback.js';
import type { DeployEvent, DeployResult } from '../../release/deploy.js';
import { RolloutStore, assertNoActiveRelease, releaseHistory } from '../../progressive/state.js';
import { ReleaseStore, current } from '../../release/store.js';
import { loadSpecFile, resolveSecretValues } from '../../spec/index.js';
import { ExitCode } from '../exit-codes.js';
import {
  LOCK_WAIT_HELP,
  globals,
  lockWaitMs,
  parseDuration,
  imageFlag,
  versionLabelFlag,
} from '../context.js';
import { printJson, UsageError } from '../output.js';
import { serviceRef, withServiceOption } from '../target.js';
import type { ServiceRef, TargetOpts } from '../target.js';
import { managedServices, serviceStatus } from '../../fleet/status.js';
import type { ReleaseRecord } from '../../release/record.js';
import {
  FILE_HELP,
  collectFiles,
  deployFleet,
  loadFleet,
  specFilesOf,
  statusFleet,
} from './fleet.js';
import type { OutputFormat } from '../output.js';

/** Human progress: one line per event, prefixed with the elapsed time. */
function progressPrinter(format: OutputFormat): (e: DeployEvent) => void {
  const t0 = Date.now();
  return (e) => {
    if (format === 'json') return;
    const t = `${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s`;
    const line =
      e.type === 'stage'
        ? `==> ${e.message}`
        : e.type === 'applied'
          ? `    applied ${e.object}`
          : e.type === 'pruned'
            ? `    pruned ${e.object}`
            : e.type === 'warning'
              ? `    warning: ${e.message}`
              : `    ${e.message}`;
    process.stderr.write(`${t} ${line}\n`);
  };
}

function reportDeploy(format: OutputFormat, r: DeployResult): number {
  if (format === 'json') printJson(r);
  else if (r.ok) {
    process.stdout.write(
      `revision ${r.revision} deployed in ${(r.elapsedMs / 1000).toFixed(1)}s: ${r.message}\n`,
    );
  } else {
    process.stdout.write(
      `revision ${r.revision} FAILED after ${(r.elapsedMs / 1000).toFixed(1)}s: ${r.message}\n`,
    );
    const d = r.rollout && !r.rollout.ok ? r.rollout.detail : undefined;
    if (d) {
      if (d.events.length)
        process.stdout.write(
          `  recent events of pod ${d.pod}:\n${d.events.map((e) => `    ${e}`).join('\n')}\n`,
        );
      if (d.logs.trim())
        process.stdout.write(
          `  last log lines of ${d.pod}/${d.container ?? ''}:\n${d.logs
            .trimEnd()
            .split('\n')
            .map((l) => `    ${l}`)
            .join('\n')}\n`,
        );
    }
    if (r.rolledBackTo !== undefined)
      process.stdout.write(`  the service is back on revision ${r.rolledBackTo}\n`);
  }
  return r.ok ? ExitCode.Ok : ExitCode.DeployFailed;
}

export function registerReleaseCommands(program: Command): number[] {
  const exit: number[] = [];

  program
    .command('deploy')
    .description(
      'apply a service (or several) to the cluster and wait until ready; returns to the last good release on failure',
    )
    .option('-f, --file <path>', FILE_HELP, collectFiles, [])
    .option('--image <ref>', 'image to run (overrides the spec)', imageFlag)
    .option('--version-label <semver>', 'value of app.kubernetes.io/version', versionLabelFlag)
    .option('--timeout <duration>', 'how long the rollout may take', '5m')
    .option(
      '--rollback-timeout <duration>',
      'separate budget for returning to the last good release',
      '2m',
    )
    .option(
      '--no-rollback',
      'leave a failed release in place instead of returning to the last good one',
    )
    .option('--wait [duration]', LOCK_WAIT_HELP)
    .option(
      '--gateway-url <url>',
      "the Gateway's HTTP listener as this machine reaches it, to check new routes answer (default: $GANTRY_GATEWAY_URL, else the Gateway's status address)",
    )
    .option(
      '--route-timeout <duration>',
      'how long routes may take to be accepted and answer after the rollout',
      '60s',
    )
    .option('--concurrency <n>', 'several services: how many deploy at once', '4')
    .option('--fail-fast', 'several services: start no further deploy after one fails')
    .addHelpText(
      'after',
      `
Secret values come from the sources the spec names (fromFile, fromEnv), read now.
"deployed" means the rollout is complete and, for a service with routes, the gateway
accepted each route and a request through it (the readiness path, when a route covers
it) was answered by the service; a route the gateway rejects or never serves fails the
deploy like a failed rollout.
A second deploy of the same service while one runs fails with "locked by ..." (exit 5)
naming when the lease expires; --wait waits for it. A lock whose holder process is gone
from this machine is taken over at once.

Several services: -f DIR (every gantry spec below it) or -f repeated. All specs are
checked first (exit 3 lists every problem; nothing applied); each service deploys after
those in its dependsOn, up to --concurrency at once; a failed one is rolled back and the
ones that depend on it are skipped, the others go on (or stop starting with --fail-fast).
One summary table at the end; exit 4 when any failed.

Examples:
  gantry deploy -f deploy/user-service/gantry.yaml --image 127.0.0.1:5000/gantry/user-service:1.2.0
  gantry deploy -f gantry.yaml --timeout 90s -o json
  gantry deploy -f deploy/ --concurrency 8
`,
    )
    .action(
      async (
        opts: {
          file: string[];
          image?: string;
          versionLabel?: string;
          timeout: string;
          rollbackTimeout: string;
          rollback: boolean;
          wait?: string | boolean;
          gatewayUrl?: string;
          routeTimeout: string;
          concurrency: string;
          failFast?: boolean;
        },
        cmd: Command,
      ) => {
        const g = globals(cmd);
        const { files, many } = specFilesOf(opts.file);
        if (many) {
          if (opts.image || opts.versionLabel)
            throw new UsageError('--image and --version-label name one service: give one spec');
          const concurrency = Number(opts.concurrency);
          if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64)
            throw new UsageError(
              `--concurrency: expected a whole number 1-64, got "${opts.concurrency}"`,
            );
          const plan = loadFleet(files);
          exit.push(
            await deployFleet(
              await g.kube(),
              plan,
              {
                concurrency,
                failFast: opts.failFast === true,
                timeoutMs: parseDuration(opts.timeout),
                rollbackTimeoutMs: parseDuration(opts.rollbackTimeout),
                autoRollback: opts.rollback,
                lockWaitMs: lockWaitMs(opts.wait),
                routeTimeoutMs: parseDuration(opts.routeTimeout),
                ...(opts.gatewayUrl ? { gatewayUrl: opts.gatewayUrl } : {}),
              },
              g.format,
            ),
          );
          return;
        }
        const file = files[0]!;
        const spec = loadSpecFile(file);
        const secretValues = resolveSecretValues(spec, dirname(file));
        const kube = await g.kube();
        await assertNoActiveRelease(kube, spec.namespace, spec.name);
        const r = await deploy(kube, spec, {
          ...(opts.image ? { image: opts.image } : {}),
          ...(opts.versionLabel ? { version: opts.versionLabel } : {}),
          secretValues,
          timeoutMs: parseDuration(opts.timeout),
          rollbackTimeoutMs: parseDuration(opts.rollbackTimeout),
          autoRollback: opts.rollback,
          lockWaitMs: lockWaitMs(opts.wait),
          routeTimeoutMs: parseDuration(opts.routeTimeout),
          ...(opts.gatewayUrl ? { gatewayUrl: opts.gatewayUrl } : {}),
          onEvent: progressPrinter(g.format),
        });
        exit.push(reportDeploy(g.format, r));
      },
    );

  const history = program
    .command('history')
    .description('list the recorded revisions and progressive releases of a service, newest first')
    .option('-f, --file <path>', FILE_HELP, collectFiles, []);
  withServiceOption(history)
    .addHelpText(
      'after',
      `
Revisions are what gantry deploy, rollback, config sync and a release's promotion applied.
Releases are gantry release runs (canary, gray, blue-green): the image, the outcome
(promoted, aborted, failed), why (the judge's verdict, or who promoted or aborted it),
and how far they got. -o json prints {"revisions": [...], "releases": [...]}.

Examples:
  gantry history -f deploy/user-service/gantry.yaml
  gantry history --service user-service -n default     # no spec at hand
`,
    )
    .action(async (opts: { file: string[] } & TargetOpts, cmd: Command) => {
      const g = globals(cmd);
      const ref = serviceRef(opts, opts.file.length > 0, g.defaultNamespace);
      const { files, many } = ref ? { files: [], many: false } : specFilesOf(opts.file);
      const specs: ServiceRef[] = ref
        ? [ref]
        : many
          ? loadFleet(files).members.map((m) => m.spec)
          : [loadSpecFile(files[0]!)];
      const kube = await g.kube();
      const all = await Promise.all(
        specs.map(async (spec) => {
          const [history, rollout] = await Promise.all([
            new ReleaseStore(kube, spec.namespace, spec.name).history(),
            new RolloutStore(kube, spec.namespace, spec.name).read(),
          ]);
          return { spec, history, releases: releaseHistory(rollout?.state) };
        }),
      );
      if (many && g.format === 'json') {
        printJson({
          services: all.map(({ spec, history, releases }) => ({
            service: spec.name,
            namespace: spec.namespace,
            revisions: history.map(({ objects: _objects, ...rest }) => rest),
            releases,
          })),
        });
        return;
      }
      for (const [i, { spec, history, releases }] of all.entries()) {
        if (many) process.stdout.write(`${i ? '\n' : ''}### ${spec.namespace}/${spec.name}\n`);
        printHistory(g.format, history, releases);
      }
    });

  const status = program
    .command('status')
    .description('the current revision and the live health of a service, or of many in a table')
    .option('-f, --file <path>', FILE_HELP, collectFiles, [])
    .option('-A, --all-namespaces', 'every service Gantry manages in the cluster (no spec needed)');
  withServiceOption(status)
    .addHelpText(
      'after',
      `
Exit 4 when a service is not healthy (its rollout is not done).

Examples:
  gantry status -f deploy/user-service/gantry.yaml -o json
  gantry status -f deploy/          # every spec below deploy/, one table
  gantry status -A                  # the fleet
  gantry status -s default/user-service
`,
    )
    .action(
      async (opts: { file: string[]; allNamespaces?: boolean } & TargetOpts, cmd: Command) => {
        const g = globals(cmd);
        if (opts.allNamespaces) {
          if (opts.file.length || opts.service)
            throw new UsageError('give -f, --service or --all-namespaces, not two of them');
          const kube = await g.kube();
          exit.push(await statusFleet(kube, await managedServices(kube), g.format));
          return;
        }
        const ref = serviceRef(opts, opts.file.length > 0, g.defaultNamespace);
        const { files, many } = ref ? { files: [], many: false } : specFilesOf(opts.file);
        if (many) {
          const services = loadFleet(files).members.map((m) => m.spec);
          exit.push(await statusFleet(await g.kube(), services, g.format));
          return;
        }
        const spec = ref ?? loadSpecFile(files[0]!);
        const out = await serviceStatus(await g.kube(), spec.namespace, spec.name);
        if (g.format === 'json') printJson(out);
        else {
          process.stdout.write(
            `${spec.namespace}/${spec.name}: revision ${out.revision ?? '-'} (${out.image ?? 'never deployed'})\n`,
          );
          if (out.latest && out.latest.revision !== out.revision)
            process.stdout.write(
              `  latest attempt: revision ${out.latest.revision} ${out.latest.status}\n`,
            );
          process.stdout.write(
            out.deployment
              ? `  ${out.deployment.ready}/${out.deployment.replicas} ready; ${out.deployment.rollout}: ${out.deployment.message}\n`
              : '  no Deployment in the cluster\n',
          );
        }
        if (!out.healthy) exit.push(ExitCode.DeployFailed);
      },
    );

  const rollback = program
    .command('rollback [revision]')
    .description('return to an earlier revision (default: the one before the current)')
    .option('-f, --file <path>', 'spec file (for name and namespace; default gantry.yaml)');
  withServiceOption(rollback)
    .option('--timeout <duration>', 'how long the rollout may take', '2m')
    .option('--wait [duration]', LOCK_WAIT_HELP)
    .addHelpText(
      'after',
      '\nExamples:\n  gantry rollback -f deploy/user-service/gantry.yaml\n  gantry rollback 3 -f deploy/user-service/gantry.yaml\n  gantry rollback --service user-service -n default     # no spec at hand\n',
    )
    .action(
      async (
        revArg: string | undefined,
        opts: { file?: string; timeout: string; wait?: string | boolean } & TargetOpts,
        cmd: Command,
      ) => {
        const g = globals(cmd);
        const spec =
          serviceRef(opts, opts.file !== undefined, g.defaultNamespace) ??
          loadSpecFile(opts.file ?? 'gantry.yaml');
        if (revArg !== undefined && !/^\d+$/.test(revArg))
          throw new UsageError(`no revision ${revArg} of ${spec.name}`);
        const kube = await g.kube();
        try {
          const result = await rollbackService(kube, spec, {
            ...(revArg !== undefined ? { revision: Number(revArg) } : {}),
            timeoutMs: parseDuration(opts.timeout),
            lockWaitMs: lockWaitMs(opts.wait),
            emit: progressPrinter(g.format),
          });
          exit.push(reportDeploy(g.format, result));
        } catch (err) {
          if (err instanceof RollbackTargetError) throw new UsageError(err.message);
          throw err;
        }
      },
    );

  const config = program.command('config').description('configuration of a running service');
  config
    .command('sync')
    .description(
      "push the spec's config and secrets to the running service (same image), rolling its pods",
    )
    .option('-f, --file <path>', 'spec file', 'gantry.yaml')
    .option('--timeout <duration>', 'how long the rollout may take', '5m')
    .option('--wait [duration]', LOCK_WAIT_HELP)
    .addHelpText(
      'after',
      `
Re-reads config and secret sources, keeps the image of the current release, and deploys
that as a new revision: a changed ConfigMap or Secret rolls the pods (their template
carries a hash of both); an unchanged one changes nothing.

Example:
  gantry config sync -f deploy/user-service/gantry.yaml
`,
    )
    .action(
      async (opts: { file: string; timeout: string; wait?: string | boolean }, cmd: Command) => {
        const g = globals(cmd);
        const spec = loadSpecFile(opts.file);
        const kube = await g.kube();
        await assertNoActiveRelease(kube, spec.namespace, spec.name);
        const cur = current(await new ReleaseStore(kube, spec.namespace, spec.name).history());
        if (!cur)
          throw new UsageError(`${spec.namespace}/${spec.name} has no deployed release to sync`);
        const r = await deploy(kube, spec, {
          image: cur.image,
          ...(cur.version ? { version: cur.version } : {}),
          secretValues: resolveSecretValues(spec, dirname(opts.file)),
          timeoutMs: parseDuration(opts.timeout),
          lockWaitMs: lockWaitMs(opts.wait),
          onEvent: progressPrinter(g.format),
        });
        exit.push(reportDeploy(g.format, r));
      },
    );

  const restart = program
    .command('restart')
    .description('restart every pod of a service with a rolling update, and wait')
    .option('-f, --file <path>', 'spec file (for name and namespace; default gantry.yaml)');
  withServiceOption(restart)
    .option('--timeout <duration>', 'how long the rollout may take', '5m')
    .option('--wait [duration]', LOCK_WAIT_HELP)
    .addHelpText(
      'after',
      '\nExamples:\n  gantry restart -f deploy/user-service/gantry.yaml\n  gantry restart --service user-service -n default\n',
    )
    .action(
      async (
        opts: { file?: string; timeout: string; wait?: string | boolean } & TargetOpts,
        cmd: Command,
      ) => {
        const g = globals(cmd);
        const spec =
          serviceRef(opts, opts.file !== undefined, g.defaultNamespace) ??
          loadSpecFile(opts.file ?? 'gantry.yaml');
        const r = await restartService(await g.kube(), spec, {
          timeoutMs: parseDuration(opts.timeout),
          lockWaitMs: lockWaitMs(opts.wait),
          onWait: (e) => process.stderr.write(`waiting: ${e.message.split(';')[0]}\n`),
          onProgress: (m) => progressPrinter(g.format)({ type: 'progress', message: m }),
        });
        if (g.format === 'json') printJson(r);
        else
          process.stdout.write(
            r.ok
              ? `restarted in ${(r.elapsedMs / 1000).toFixed(1)}s: ${r.message}\n`
              : `restart FAILED: ${r.reason}: ${r.message}\n`,
          );
        exit.push(r.ok ? ExitCode.Ok : ExitCode.DeployFailed);
      },
    );

  return exit;
}

function printHistory(
  format: OutputFormat,
  history: readonly ReleaseRecord[],
  releases: ReturnType<typeof releaseHistory>,
): void {
  if (format === 'json') {
    printJson({
      revisions: history.map(({ objects: _objects, ...rest }) => rest),
      releases,
    });
    return;
  }
  process.stdout.write('REVISION  STATUS       STARTED                   IMAGE / MESSAGE\n');
  for (const r of history) {
    process.stdout.write(
      `${String(r.revision).padEnd(10)}${r.status.padEnd(13)}${r.startedAt.padEnd(26)}${r.image}${r.message ? `  (${r.message})` : ''}\n`,
    );
  }
  if (!releases.length) return;
  process.stdout.write(
    '\nRELEASE     OUTCOME      STARTED                   ENDED                     STEPS  IMAGE / WHY\n',
  );
  for (const r of releases) {
    const why = r.reason
      ? `  (${r.reason.length > 160 ? `${r.reason.slice(0, 159)}…` : r.reason})`
      : '';
    process.stdout.write(
      `${r.strategy.padEnd(12)}${r.outcome.padEnd(13)}${r.startedAt.padEnd(26)}${(r.finishedAt ?? '-').padEnd(26)}${`${r.stepReached}/${r.steps}`.padEnd(7)}${r.image}${r.version ? ` ${r.version}` : ''}${r.revision !== undefined ? ` -> revision ${r.revision}` : ''}${why}\n`,
    );
  }
}
