// gantry release start | status | pause | resume | promote | abort: progressive
// releases (canary, gray, blue-green) judged by live metrics. The state lives
// in the cluster; any of these commands may run from any terminal.
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import type {
  CheckRecord,
  DriveOptions,
  RolloutEvent,
  RolloutState,
} from '../../progressive/index.js';
import type { Change } from '../../progressive/detach/index.js';
import { loadSpecFile } from '../../spec/index.js';
import type { ServiceSpec } from '../../spec/index.js';
import { globals, parseDuration, imageFlag, versionLabelFlag } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { UsageError, printJson } from '../output.js';
import type { OutputFormat } from '../output.js';
import { serviceRef, withServiceOption } from '../target.js';
import type { ServiceRef, TargetOpts } from '../target.js';

/**
 * The release's service: --service NAME (the release as stored in the cluster, its spec
 * included) or the spec -f names (default gantry.yaml).
 */
function targetOf(
  opts: { file?: string } & TargetOpts,
  defaultNamespace: () => string,
): ServiceRef & { spec?: ServiceSpec } {
  const ref = serviceRef(opts, opts.file !== undefined, defaultNamespace);
  if (ref) return ref;
  const spec = loadSpecFile(opts.file ?? 'gantry.yaml');
  return { namespace: spec.namespace, name: spec.name, spec };
}

/** One check of a verdict: metric, canary vs stable, statistic, threshold. */
function checkLine(c: CheckRecord): string {
  return `    ${c.verdict.padEnd(8)} ${c.name}: canary ${c.canary} vs stable ${c.baseline}; ${c.statistic} (threshold ${c.threshold})\n`;
}

function eventPrinter(format: OutputFormat): (e: RolloutEvent) => void {
  const t0 = Date.now();
  return (e) => {
    if (format === 'json') return;
    const t = `${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s`;
    if (e.type === 'decision') {
      const d = e.decision;
      process.stderr.write(
        `${t}     judge (step ${e.step + 1}): ${d.verdict.toUpperCase()} ` +
          `(${d.inconclusive ? 'inconclusive; ' : ''}confidence ${(d.confidence * 100).toFixed(1)}%): ${d.summary}\n`,
      );
      for (const c of d.checks) process.stderr.write(`${' '.repeat(t.length)}   ${checkLine(c)}`);
      return;
    }
    const line =
      e.type === 'stage'
        ? `==> ${e.message}`
        : e.type === 'warning'
          ? `    warning: ${e.message}`
          : `    ${e.message}`;
    process.stderr.write(`${t} ${line}\n`);
  };
}

function exitFor(s: RolloutState): number {
  // A release still on its way (a resume taken up by the driver in the cluster may find it
  // promoting already) is no failure; one aborted or failed is.
  if (s.phase === 'aborting' || s.phase === 'aborted' || s.phase === 'failed') {
    return ExitCode.DeployFailed;
  }
  return ExitCode.Ok;
}

function report(format: OutputFormat, s: RolloutState): void {
  if (format === 'json') {
    const { spec: _spec, ...rest } = s;
    printJson(rest);
    return;
  }
  const step = s.steps.length
    ? ` step ${Math.min(s.stepIndex + 1, s.steps.length)}/${s.steps.length}`
    : '';
  process.stdout.write(
    `${s.namespace}/${s.service}: ${s.strategy} release of ${s.image}: ${s.phase}${step}\n` +
      `  traffic: ${s.traffic}\n` +
      (s.pausedReason && s.phase === 'paused' ? `  paused: ${s.pausedReason}\n` : '') +
      (s.message ? `  ${s.message}\n` : '') +
      (s.driver && !['promoted', 'aborted', 'failed'].includes(s.phase)
        ? `  driven in the cluster by deployment/${s.driver.deployment} (since ${s.driver.since})\n`
        : ''),
  );
  const last = s.decisions.at(-1);
  if (last) {
    process.stdout.write(`  last verdict (${last.at}): ${last.summary}\n`);
    for (const c of last.checks) process.stdout.write(checkLine(c));
  }
}

/** Ctrl-C leaves the release as stored (it can be resumed or aborted from anywhere). */
function interruptible(format: OutputFormat): { signal: AbortSignal; done: () => void } {
  const ac = new AbortController();
  const onSignal = () => {
    if (format === 'text') {
      process.stderr.write(
        '\ninterrupted: the release stays where it is; continue with gantry release resume, or gantry release abort\n',
      );
    }
    ac.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return {
    signal: ac.signal,
    done: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/** One change of a followed release as a line (status --watch). */
function changeLine(c: Change): string {
  switch (c.type) {
    case 'phase':
      return `==> ${c.message}`;
    case 'step':
      return `==> ${c.message}`;
    case 'message':
      return `    ${c.message}`;
    case 'request':
      return `    ${c.message}`;
    case 'decision': {
      const d = c.decision;
      return (
        `    judge (step ${d.step + 1}): ${d.verdict.toUpperCase()} ` +
        `(confidence ${(d.confidence * 100).toFixed(1)}%): ${d.summary}\n` +
        d.checks.map((x) => `       ${checkLine(x)}`).join('')
      ).replace(/\n$/, '');
    }
  }
}

function isLoopback(url: string): boolean {
  try {
    const h = new URL(url).hostname;
    return /^127\./.test(h) || h === 'localhost' || h === '[::1]';
  } catch {
    return false;
  }
}

/**
 * Prometheus as the in-cluster driver reaches it: --prometheus-url, then
 * $GANTRY_DRIVER_PROMETHEUS_URL, then the spec's (unless it is a loopback address, which
 * in a pod is the pod itself).
 */
function driverPrometheusUrl(spec: ServiceSpec, flag: string | undefined): string {
  const env = process.env.GANTRY_DRIVER_PROMETHEUS_URL?.trim();
  const fromSpec = spec.release.analysis.prometheus;
  const url =
    flag ?? (env || undefined) ?? (fromSpec && !isLoopback(fromSpec) ? fromSpec : undefined);
  if (!url) {
    throw new UsageError(
      'the release driver runs in the cluster, where a loopback Prometheus URL names the pod ' +
        'itself: pass --prometheus-url with Prometheus as the cluster reaches it ' +
        '(or set GANTRY_DRIVER_PROMETHEUS_URL)',
    );
  }
  if (!URL.canParse(url)) throw new UsageError(`--prometheus-url: not a URL: ${url}`);
  return url.replace(/\/+$/, '');
}

export function registerProgressiveCommands(program: Command): number[] {
  const exit: number[] = [];
  const release = program
    .command('release')
    .description(
      'progressive releases: canary, gray (sticky by user) and blue-green, judged by live metrics',
    )
    .addHelpText(
      'after',
      `
The strategy, steps, analysis and notifications come from the spec's release section.
The release's state is stored in the cluster (Secret gantry.rollout.<service>): a
second terminal can pause, resume, promote or abort it, and if the gantry driving it
dies, the next gantry release resume (or start with the same image) takes it over.

With --detach, start hands the release to a driver in the cluster (a one-replica
Deployment running the Gantry image, in the service's namespace, with a Role limited to
the objects it drives) and returns once that driver holds the release; the release then
goes on with no terminal. status --watch follows it (Ctrl-C stops following only); the
other commands steer it as they steer any release.

Examples:
  gantry release start -f deploy/user-service/gantry.yaml --image 127.0.0.1:5000/gantry/user-service:1.3.0
  gantry release start -f deploy/user-service/gantry.yaml --image 127.0.0.1:5000/gantry/user-service:1.3.0 --detach
  gantry release status -f deploy/user-service/gantry.yaml --watch
  gantry release status -f deploy/user-service/gantry.yaml -o json
  gantry release pause -f deploy/user-service/gantry.yaml
  gantry release abort -f deploy/user-service/gantry.yaml
`,
    );

  release
    .command('start')
    .description(
      "start the canary and walk the steps, promoting or aborting on the judge's verdicts",
    )
    .option('-f, --file <path>', 'spec file', 'gantry.yaml')
    .requiredOption('--image <ref>', "the new version's image", imageFlag)
    .option('--version-label <semver>', 'value of app.kubernetes.io/version', versionLabelFlag)
    .option('--timeout <duration>', "budget for the canary's and the promotion's rollouts", '5m')
    .option(
      '--detach',
      'hand the release to a driver in the cluster and return once it holds the release',
    )
    .option(
      '--driver-image <ref>',
      "with --detach: the driver's image (default: this gantry, built and pushed to the new version's registry; $GANTRY_DRIVER_IMAGE)",
    )
    .option(
      '--prometheus-url <url>',
      "with --detach: Prometheus as the cluster reaches it (default: $GANTRY_DRIVER_PROMETHEUS_URL, then the spec's unless loopback)",
    )
    .action(
      async (
        opts: {
          file: string;
          image: string;
          versionLabel?: string;
          timeout: string;
          detach?: boolean;
          driverImage?: string;
          prometheusUrl?: string;
        },
        cmd: Command,
      ) => {
        const g = globals(cmd);
        const spec = loadSpecFile(opts.file);
        if (!opts.detach && (opts.driverImage || opts.prometheusUrl)) {
          throw new UsageError('--driver-image and --prometheus-url go with --detach');
        }
        const { RolloutStore, startRelease } = await import('../../progressive/index.js');
        const { cleanUpFinishedDriver, startDetached } =
          await import('../../progressive/detach/index.js');
        const kube = await g.kube();
        // A driver left behind by a release that ended goes first.
        await cleanUpFinishedDriver(
          kube,
          (await new RolloutStore(kube, spec.namespace, spec.name).read())?.state,
        );
        if (opts.detach) {
          const driverImage = opts.driverImage ?? (process.env.GANTRY_DRIVER_IMAGE || undefined);
          const r = await startDetached(kube, spec, {
            image: opts.image,
            ...(opts.versionLabel ? { version: opts.versionLabel } : {}),
            specDir: resolve(dirname(opts.file)),
            rolloutTimeoutMs: parseDuration(opts.timeout),
            prometheusUrl: driverPrometheusUrl(spec, opts.prometheusUrl),
            ...(driverImage ? { driverImage } : {}),
            onEvent: eventPrinter(g.format),
          });
          if (g.format === 'json') {
            printJson({
              service: spec.name,
              namespace: spec.namespace,
              phase: r.state.phase,
              image: r.state.image,
              driver: { deployment: r.deployment, image: r.driverImage, holder: r.holder },
              handoverMs: r.handoverMs,
              alreadyDriven: r.alreadyDriven,
            });
          } else {
            const f = opts.file;
            process.stdout.write(
              `${spec.namespace}/${spec.name}: ${r.state.strategy} release of ${r.state.image} ` +
                (r.alreadyDriven
                  ? 'is already driven in the cluster'
                  : `handed to the driver in the cluster after ${(r.handoverMs / 1000).toFixed(1)}s`) +
                `\n  driver:  deployment/${r.deployment} (${r.holder})\n` +
                `  follow:  gantry release status -f ${f} --watch\n` +
                `  steer:   gantry release pause|resume|promote|abort -f ${f}\n` +
                `  log:     kubectl -n ${spec.namespace} logs deployment/${r.deployment} -f\n`,
            );
          }
          exit.push(ExitCode.Ok);
          return;
        }
        const stop = interruptible(g.format);
        try {
          const s = await startRelease(kube, spec, {
            image: opts.image,
            ...(opts.versionLabel ? { version: opts.versionLabel } : {}),
            specDir: resolve(dirname(opts.file)),
            rolloutTimeoutMs: parseDuration(opts.timeout),
            onEvent: eventPrinter(g.format),
            signal: stop.signal,
          });
          report(g.format, s);
          exit.push(exitFor(s));
        } finally {
          stop.done();
        }
      },
    );

  const status = release
    .command('status')
    .description("phase, step, traffic split and the judge's last verdict")
    .option('-f, --file <path>', 'spec file (for name and namespace; default gantry.yaml)');
  withServiceOption(status)
    .option(
      '--watch',
      'follow the release: print step changes and verdicts as they happen until it ends (Ctrl-C stops following; the release goes on)',
    )
    .option('--timeout <duration>', 'with --watch: stop following after this long', '1h')
    .action(
      async (
        opts: { file?: string; watch?: boolean; timeout: string } & TargetOpts,
        cmd: Command,
      ) => {
        const g = globals(cmd);
        const spec = targetOf(opts, g.defaultNamespace);
        const { RolloutStore } = await import('../../progressive/index.js');
        const { changesBetween, cleanUpFinishedDriver, followRelease } =
          await import('../../progressive/detach/index.js');
        const kube = await g.kube();
        if (opts.watch) {
          const ac = new AbortController();
          const onSignal = () => ac.abort();
          process.once('SIGINT', onSignal);
          process.once('SIGTERM', onSignal);
          const t0 = Date.now();
          try {
            const r = await followRelease(kube, spec.namespace, spec.name, {
              signal: ac.signal,
              timeoutMs: parseDuration(opts.timeout),
              onState: (prev, cur) => {
                if (g.format === 'json') {
                  const { spec: _spec, past: _past, ...rest } = cur;
                  process.stdout.write(`${JSON.stringify(rest)}\n`);
                  return;
                }
                if (!prev) {
                  report(g.format, cur);
                  process.stderr.write(
                    'following the release (Ctrl-C stops following; the release goes on)\n',
                  );
                }
                const t = `${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s`;
                for (const c of prev ? changesBetween(prev, cur) : []) {
                  process.stderr.write(`${t} ${changeLine(c)}\n`);
                }
              },
            });
            if (r.end === 'none') {
              if (g.format === 'json')
                printJson({ service: spec.name, namespace: spec.namespace, phase: null });
              else process.stdout.write(`${spec.namespace}/${spec.name}: no release recorded\n`);
              return;
            }
            if (r.end === 'detached') {
              if (g.format === 'text')
                process.stderr.write(
                  '\nstopped following; the release goes on (gantry release status --watch follows it again)\n',
                );
              return;
            }
            if (r.end === 'timeout') {
              if (g.format === 'text')
                process.stderr.write(
                  `stopped following after ${opts.timeout}; the release goes on\n`,
                );
              return;
            }
            if (r.state) {
              await cleanUpFinishedDriver(kube, r.state);
              if (g.format === 'text') report(g.format, r.state);
              exit.push(exitFor(r.state));
            }
          } finally {
            process.off('SIGINT', onSignal);
            process.off('SIGTERM', onSignal);
          }
          return;
        }
        const cur = await new RolloutStore(kube, spec.namespace, spec.name).read();
        await cleanUpFinishedDriver(kube, cur?.state);
        if (!cur) {
          if (g.format === 'json')
            printJson({ service: spec.name, namespace: spec.namespace, phase: null });
          else process.stdout.write(`${spec.namespace}/${spec.name}: no release recorded\n`);
          return;
        }
        report(g.format, cur.state);
      },
    );

  const actions: [string, 'pause' | 'resume' | 'promote' | 'abort', string][] = [
    [
      'pause',
      'pause',
      'hold the release at its current step (the judge still aborts a bad canary)',
    ],
    [
      'resume',
      'resume',
      'continue a paused release, pass a manual gate, or take over a release whose gantry died',
    ],
    ['promote', 'promote', 'skip the remaining steps: roll stable to the new version now'],
    ['abort', 'abort', 'send all traffic back to stable at once and remove the canary'],
  ];
  for (const [name, action, description] of actions) {
    const command = release
      .command(name)
      .description(description)
      .option('-f, --file <path>', 'spec file (for name and namespace; default gantry.yaml)');
    withServiceOption(command)
      .option('--timeout <duration>', 'budget for rollouts this command may drive', '5m')
      .addHelpText(
        'after',
        `\nExamples:\n  gantry release ${name} -f deploy/user-service/gantry.yaml\n  gantry release ${name} --service user-service -n default   # the release stored in the cluster\n`,
      )
      .action(async (opts: { file?: string; timeout: string } & TargetOpts, cmd: Command) => {
        const g = globals(cmd);
        const target = targetOf(opts, g.defaultNamespace);
        const spec = target.spec;
        const { requestAction } = await import('../../progressive/index.js');
        const stop = interruptible(g.format);
        try {
          const o: DriveOptions = {
            rolloutTimeoutMs: parseDuration(opts.timeout),
            onEvent: eventPrinter(g.format),
            signal: stop.signal,
            ...(spec ? { spec } : {}),
          };
          const kube = await g.kube();
          const s = await requestAction(kube, target.namespace, target.name, action, o);
          // A driver in the cluster removes itself when the release ends; one that could not is removed here.
          const { cleanUpFinishedDriver } = await import('../../progressive/detach/index.js');
          await cleanUpFinishedDriver(kube, s);
          report(g.format, s);
          exit.push(action === 'abort' && s.phase === 'aborted' ? ExitCode.Ok : exitFor(s));
        } finally {
          stop.done();
        }
      });
  }
  release
    .command('drive', { hidden: true })
    .description('the release driver in the cluster (the command its pod runs)')
    .requiredOption('--namespace <ns>', "the service's namespace")
    .requiredOption('--service <name>', 'the service')
    .requiredOption('--prometheus-url <url>', 'Prometheus as the cluster reaches it')
    .option('--timeout <duration>', 'budget for each rollout', '5m')
    .action(
      async (
        opts: { namespace: string; service: string; prometheusUrl: string; timeout: string },
        cmd: Command,
      ) => {
        const g = globals(cmd);
        const { runDriver } = await import('../../progressive/detach/index.js');
        const ac = new AbortController();
        const log = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);
        const onSignal = (sig: string) => {
          log(`${sig}: stopping`);
          ac.abort();
        };
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        try {
          const code = await runDriver(await g.kube(), {
            namespace: opts.namespace,
            service: opts.service,
            pod: process.env.POD_NAME || `${opts.service}-driver`,
            prometheusUrl: opts.prometheusUrl,
            rolloutTimeoutMs: parseDuration(opts.timeout),
            ...(process.env.GANTRY_RELEASE_ACTOR
              ? { actor: `${process.env.GANTRY_RELEASE_ACTOR} via the driver in the cluster` }
              : {}),
            signal: ac.signal,
            log,
          });
          exit.push(code);
        } finally {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        }
      },
    );
  return exit;
}
