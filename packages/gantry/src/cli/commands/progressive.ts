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
import { loadSpecFile } from '../../spec/index.js';
import { globals, parseDuration } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { printJson } from '../output.js';
import type { OutputFormat } from '../output.js';

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
  if (s.phase === 'promoted' || s.phase === 'paused' || s.phase === 'progressing') {
    return ExitCode.Ok;
  }
  return ExitCode.DeployFailed;
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
      (s.message ? `  ${s.message}\n` : ''),
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

Examples:
  gantry release start -f deploy/user-service/gantry.yaml --image 127.0.0.1:5000/gantry/user-service:1.3.0
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
    .requiredOption('--image <ref>', "the new version's image")
    .option('--version-label <semver>', 'value of app.kubernetes.io/version')
    .option('--timeout <duration>', "budget for the canary's and the promotion's rollouts", '5m')
    .action(
      async (
        opts: { file: string; image: string; versionLabel?: string; timeout: string },
        cmd: Command,
      ) => {
        const g = globals(cmd);
        const spec = loadSpecFile(opts.file);
        const { startRelease } = await import('../../progressive/index.js');
        const stop = interruptible(g.format);
        try {
          const s = await startRelease(await g.kube(), spec, {
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

  release
    .command('status')
    .description("phase, step, traffic split and the judge's last verdict")
    .option('-f, --file <path>', 'spec file (for name and namespace)', 'gantry.yaml')
    .action(async (opts: { file: string }, cmd: Command) => {
      const g = globals(cmd);
      const spec = loadSpecFile(opts.file);
      const { RolloutStore } = await import('../../progressive/index.js');
      const cur = await new RolloutStore(await g.kube(), spec.namespace, spec.name).read();
      if (!cur) {
        if (g.format === 'json')
          printJson({ service: spec.name, namespace: spec.namespace, phase: null });
        else process.stdout.write(`${spec.namespace}/${spec.name}: no release recorded\n`);
        return;
      }
      report(g.format, cur.state);
    });

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
    release
      .command(name)
      .description(description)
      .option('-f, --file <path>', 'spec file (for name and namespace)', 'gantry.yaml')
      .option('--timeout <duration>', 'budget for rollouts this command may drive', '5m')
      .action(async (opts: { file: string; timeout: string }, cmd: Command) => {
        const g = globals(cmd);
        const spec = loadSpecFile(opts.file);
        const { requestAction } = await import('../../progressive/index.js');
        const stop = interruptible(g.format);
        try {
          const o: DriveOptions = {
            rolloutTimeoutMs: parseDuration(opts.timeout),
            onEvent: eventPrinter(g.format),
            signal: stop.signal,
            spec,
          };
          const s = await requestAction(await g.kube(), spec.namespace, spec.name, action, o);
          report(g.format, s);
          exit.push(action === 'abort' && s.phase === 'aborted' ? ExitCode.Ok : exitFor(s));
        } finally {
          stop.done();
        }
      });
  }
  return exit;
}
