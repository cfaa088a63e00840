// gantry chaos: fault experiments against a running service, each checked against a
// steady-state hypothesis and stopped at the first violation. pod-kill (rounds of
// killed pods) lives here; experiment files, GameDays, the undo-record commands
// (chaos/run.ts) and the one-line form of every other fault kind (chaos/faults.ts)
// beside it.
import type { Command } from 'commander';
import { Prometheus, prometheusUrl } from '../../analysis/prometheus.js';
import { describeSteadyState, podKill } from '../../chaos/index.js';
import { loadSpecFile } from '../../spec/index.js';
import { globals, parseDuration } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { printJson, UsageError } from '../output.js';
import { registerFaultCommands } from './chaos/faults.js';
import { registerExperimentCommands } from './chaos/run.js';

interface PodKillFlags {
  file: string;
  rounds: string;
  count: string;
  interval: string;
  recoverTimeout: string;
  maxErrorRate: string;
  prometheus?: string;
}

export function registerChaosCommands(program: Command): number[] {
  const exit: number[] = [];
  const chaos = program
    .command('chaos')
    .description(
      'fault experiments with a steady-state check that stops them at the first violation',
    )
    .addHelpText(
      'after',
      `
Examples:
  gantry chaos list                                    # fault kinds, faults active now
  gantry chaos run deploy/user-service/chaos/service-down.yaml --dry-run
  gantry chaos run deploy/user-service/chaos/ --report out/gameday
  gantry chaos service-down -f gantry.yaml --mode no-endpoints --duration 30s
  gantry chaos abort                                   # revert everything Gantry injected
`,
    );
  registerExperimentCommands(chaos, exit);
  registerFaultCommands(chaos, exit);

  chaos
    .command('pod-kill')
    .description('delete random ready pods of the service, round by round, and time its recovery')
    .option('-f, --file <path>', 'spec file (for name, namespace and metrics)', 'gantry.yaml')
    .option('--rounds <n>', 'rounds of killing', '3')
    .option('--count <n>', 'pods killed per round', '1')
    .option('--interval <duration>', 'pause between rounds, after recovery', '5s')
    .option('--recover-timeout <duration>', 'how long a round may take to recover', '60s')
    .option(
      '--max-error-rate <ratio>',
      'steady state: error rate since the start at most this',
      '0.01',
    )
    .option(
      '--prometheus <url>',
      'Prometheus base URL (default: release.analysis.prometheus, $GANTRY_PROMETHEUS_URL)',
    )
    .addHelpText(
      'after',
      `
The steady state: every replica of the Deployment ready and, when the spec has metrics,
an error rate (release.analysis.requests, both tracks) no higher than --max-error-rate,
over the last minute before the experiment and since its start afterwards. If it does
not hold before, nothing is killed. A round deletes --count random ready pods and waits
until as many fresh pods as replicas are ready; a round that does not recover in time,
or an error rate over the limit, ends the experiment at once. Ctrl-C stops it between
steps. Exit 0 when the service rode it out, 4 when it did not or could not start.

Examples:
  gantry chaos pod-kill -f deploy/user-service/gantry.yaml
  gantry chaos pod-kill -f gantry.yaml --rounds 5 --count 2 --max-error-rate 0.02 -o json
`,
    )
    .action(async (flags: PodKillFlags, cmd: Command) => {
      const g = globals(cmd);
      const spec = loadSpecFile(flags.file);
      const int = (name: string, v: string, min: number) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < min)
          throw new UsageError(`--${name} must be a whole number >= ${min}, not "${v}"`);
        return n;
      };
      const maxErrorRate = Number(flags.maxErrorRate);
      if (!(maxErrorRate >= 0 && maxErrorRate <= 1)) {
        throw new UsageError(
          `--max-error-rate must be between 0 and 1, not "${flags.maxErrorRate}"`,
        );
      }
      const ac = new AbortController();
      const onSignal = () => ac.abort();
      process.once('SIGINT', onSignal);
      try {
        const report = await podKill(await g.kube(), spec, {
          rounds: int('rounds', flags.rounds, 1),
          count: int('count', flags.count, 1),
          intervalMs: parseDuration(flags.interval),
          recoverTimeoutMs: parseDuration(flags.recoverTimeout),
          maxErrorRate,
          ...(spec.metrics
            ? {
                prometheus: new Prometheus(prometheusUrl(spec.release.analysis, flags.prometheus)),
              }
            : {}),
          signal: ac.signal,
          ...(g.format === 'text'
            ? { onEvent: (m: string) => process.stderr.write(`  ${m}\n`) }
            : {}),
        });
        if (g.format === 'json') printJson(report);
        else {
          const times = report.rounds
            .filter((r) => r.recoveredMs !== undefined)
            .map((r) => `${((r.recoveredMs ?? 0) / 1000).toFixed(1)}s`);
          process.stdout.write(
            `pod-kill ${report.namespace}/${report.service}: ${report.verdict}` +
              `${report.reason ? ` (${report.reason})` : ''}\n` +
              `  rounds ${report.rounds.length}, recovered in ${times.join(', ') || '-'}\n` +
              `  before: ${describeSteadyState(report.before)}\n` +
              (report.after ? `  after:  ${describeSteadyState(report.after)}\n` : ''),
          );
        }
        exit.push(report.verdict === 'passed' ? ExitCode.Ok : ExitCode.DeployFailed);
      } finally {
        process.off('SIGINT', onSignal);
      }
    });
  return exit;
}
