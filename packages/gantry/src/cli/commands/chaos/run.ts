// gantry chaos run | gameday | schema | list | status | abort | recover, and the
// printing every experiment command shares (the one-line fault forms included).
import { readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Command } from 'commander';
import { prometheusUrl } from '../../../analysis/prometheus.js';
import { loadExperimentFile } from '../../../chaos/experiment/load.js';
import type { Journal } from '../../../chaos/experiment/journal.js';
import { writeReport } from '../../../chaos/experiment/report.js';
import { runExperiment } from '../../../chaos/experiment/run.js';
import { experimentJsonSchema } from '../../../chaos/experiment/schema.js';
import { gamedayScore } from '../../../chaos/experiment/score.js';
import type { Experiment } from '../../../chaos/experiment/types.js';
import { faults } from '../../../chaos/faults/index.js';
import { abort, listActive, recover } from '../../../chaos/recover.js';
import { FILE_HELP, collectFiles, loadFleet, specFilesOf } from '../fleet.js';
import type { ActiveRecord, RecoverReport } from '../../../chaos/recover.js';
import type { Kube } from '../../../kube/client.js';
import { globals } from '../../context.js';
import { ExitCode } from '../../exit-codes.js';
import { printJson, UsageError } from '../../output.js';

export interface RunFlags {
  dryRun?: boolean;
  report?: string;
  helperImage?: string;
  prometheus?: string;
}

/** The exit code of a run: 0 passed or dry run, 4 anything else (failed, not-started, aborted). */
export const exitOf = (j: Journal) =>
  j.verdict === 'passed' || j.verdict === 'dry-run' ? ExitCode.Ok : ExitCode.DeployFailed;

/** Runs an experiment with Ctrl-C/SIGTERM reverting its faults; progress on stderr in text mode. */
export async function runWithSignals(
  exp: Experiment,
  kube: Kube,
  flags: RunFlags,
  text: boolean,
): Promise<Journal> {
  const ac = new AbortController();
  const onSignal = () => {
    if (text) process.stderr.write('  signal: reverting every active fault...\n');
    ac.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await runExperiment(exp, {
      kube,
      signal: ac.signal,
      ...(flags.dryRun ? { dryRun: true } : {}),
      ...(flags.helperImage ? { helperImage: flags.helperImage } : {}),
      prometheusUrl: prometheusUrl(exp.spec.release.analysis, flags.prometheus),
      ...(text ? { emit: (m: string) => process.stderr.write(`  ${m}\n`) } : {}),
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

export function printJournal(j: Journal): string {
  const lines = [
    `${j.experiment} ${j.namespace}/${j.service}: ${j.verdict}${j.reason ? ` (${j.reason})` : ''}`,
  ];
  if (j.verdict === 'dry-run' || j.verdict === 'not-started') {
    for (const s of j.steps) {
      lines.push(`  ${s.name}${s.status === 'refused' ? ' [refused]' : ''}`);
      for (const p of s.plan ?? []) lines.push(`    ${p}`);
      if (s.error) lines.push(`    refused: ${s.error}`);
    }
  } else {
    for (const s of j.steps) {
      const ms = s.ms !== undefined ? ` ${(s.ms / 1000).toFixed(1)} s` : '';
      lines.push(
        `  ${s.name}: ${s.status}${ms}${s.description ? ` — ${s.description}` : ''}${s.error ? ` (${s.error})` : ''}`,
      );
    }
    for (const p of j.probes) {
      const bad = p.samples.filter((x) => !x.ok).length;
      lines.push(
        `  probe ${p.name}: ${p.passed ? 'passed' : 'not passed'} (${p.samples.length} evaluations, ${bad} violations)`,
      );
    }
    lines.push(`  resilience score ${j.score}/100`);
  }
  return lines.join('\n') + '\n';
}

/** Prints (text or JSON), writes the report when asked, returns the exit code. */
export function report(j: Journal, flags: RunFlags, json: boolean, dir?: string): number {
  let files: ReturnType<typeof writeReport> | undefined;
  if (flags.report) files = writeReport(dir ?? flags.report, j);
  if (json) printJson(files ? { ...j, reportFiles: files } : j);
  else {
    process.stdout.write(printJournal(j));
    if (files)
      process.stdout.write(
        `  report: ${files.html} (${basename(files.markdown)}, ${basename(files.journal)})\n`,
      );
  }
  return exitOf(j);
}

function experimentFiles(path: string): string[] {
  let st;
  try {
    st = statSync(path);
  } catch {
    return [path]; // the loader says "file not found" with the path
  }
  if (!st.isDirectory()) return [path];
  const files = readdirSync(path)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => join(path, f));
  if (files.length === 0) throw new UsageError(`${path} holds no experiment (*.yaml)`);
  return files;
}

export function registerExperimentCommands(chaos: Command, exit: number[]): void {
  const addRunFlags = (c: Command) =>
    c
      .option('--dry-run', 'resolve the targets, preflight and print the plan; touch nothing')
      .option('--report <dir>', 'write journal.json, report.md and report.html there')
      .option('--helper-image <image>', 'helper image for node-level faults (other clusters)')
      .option(
        '--prometheus <url>',
        'Prometheus for promql probes (default: the spec, $GANTRY_PROMETHEUS_URL)',
      );

  addRunFlags(
    chaos
      .command('run')
      .argument('<experiment>', 'an experiment file, or a directory of them (a GameDay)')
      .description('run a chaos experiment: steady state, faults, steady state again, rollbacks'),
  )
    .addHelpText(
      'after',
      `
The start probes (and continuous ones) must hold before anything is injected, or the run
is not-started. Continuous probes are evaluated every interval, during probes while a
fault is in effect; the first violation stops the run and reverts every active fault at
once. End probes get up to 60 s to hold again; rollbacks always run. Ctrl-C or SIGTERM
reverts before exiting. Exit 0 passed, 4 failed / not-started / aborted, 3 invalid file.

Examples:
  gantry chaos run deploy/user-service/chaos/service-down.yaml --dry-run
  gantry chaos run deploy/user-service/chaos/pod-kill.yaml --report out/pod-kill
  gantry chaos run deploy/user-service/chaos/ --report out/gameday   # every drill, one summary
  gantry -o json chaos run drill.yaml > journal.json
`,
    )
    .action(async (path: string, flags: RunFlags, cmd: Command) => {
      const g = globals(cmd);
      const files = experimentFiles(path);
      // Every file is validated before the first runs: an invalid one stops the GameDay early.
      const exps = files.map((f) => loadExperimentFile(f));
      if (exps.length === 1) {
        const j = await runWithSignals(exps[0]!, await g.kube(), flags, g.format === 'text');
        exit.push(report(j, flags, g.format === 'json'));
        return;
      }
      exit.push(await gameday(exps, await g.kube(), flags, g.format === 'json'));
    });

  addRunFlags(
    chaos
      .command('gameday')
      .argument('<dir>', 'a directory of experiment files, run in name order')
      .description('run every experiment of a directory in sequence, with one summary and score'),
  )
    .addHelpText(
      'after',
      '\nExample:\n  gantry chaos gameday deploy/user-service/chaos --report out/gameday\n',
    )
    .action(async (dir: string, flags: RunFlags, cmd: Command) => {
      const g = globals(cmd);
      const exps = experimentFiles(dir).map((f) => loadExperimentFile(f));
      exit.push(await gameday(exps, await g.kube(), flags, g.format === 'json'));
    });

  chaos
    .command('schema')
    .description("the experiment file's JSON Schema (generated from the fault registry)")
    .addHelpText(
      'after',
      '\nExample (yaml-language-server):\n  gantry chaos schema > chaos-experiment.schema.json\n  # in the experiment: # yaml-language-server: $schema=./chaos-experiment.schema.json\n',
    )
    .action(() => {
      printJson(experimentJsonSchema());
    });

  chaos
    .command('list')
    .description('the fault kinds, and the faults active in the cluster')
    .option('--kinds', 'only the fault kinds (no cluster needed)')
    .action(async (flags: { kinds?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const kinds = faults.map((f) => ({
        kind: f.kind,
        family: f.family,
        summary: f.summary,
        params: f.params.map((p) => p.name),
      }));
      const active = flags.kinds ? undefined : await listActive(await g.kube());
      if (g.format === 'json') {
        printJson({ kinds, ...(active ? { active } : {}) });
        return;
      }
      const w = Math.max(...kinds.map((k) => k.kind.length));
      const out = [
        `${kinds.length} fault kinds:`,
        ...kinds.map((k) => `  ${k.kind.padEnd(w)}  ${k.family.padEnd(7)}  ${k.summary}`),
      ];
      if (active)
        out.push(
          '',
          `active faults: ${active.length}`,
          ...active.map((a) => `  ${describeActive(a)}`),
        );
      process.stdout.write(out.join('\n') + '\n');
    });

  chaos
    .command('status')
    .description('faults Gantry has injected that are still in the cluster (their undo records)')
    .action(async (_flags: unknown, cmd: Command) => {
      const g = globals(cmd);
      const active = await listActive(await g.kube());
      if (g.format === 'json') printJson({ active });
      else {
        process.stdout.write(
          active.length
            ? active.map((a) => describeActive(a)).join('\n') + '\n'
            : 'no active faults\n',
        );
      }
    });

  chaos
    .command('abort')
    .description(
      'revert everything Gantry injected in the cluster, whichever experiment it belongs to',
    )
    .action(async (_flags: unknown, cmd: Command) => {
      const g = globals(cmd);
      const r = await abort(await g.kube(), progress(g.format === 'text'));
      if (g.format === 'json') printJson(r);
      else process.stdout.write(describeRecover('aborted', r));
    });

  chaos
    .command('recover')
    .description('revert what undo records still list (after a killed gantry or helper)')
    .option('--experiment <name>', 'only the records of this experiment run')
    .option('-f, --file <path>', `only these services: ${FILE_HELP}`, collectFiles, [])
    .option('--helper-image <image>', 'helper image for the revert helpers (other clusters)')
    .action(
      async (
        flags: { experiment?: string; file: string[]; helperImage?: string },
        cmd: Command,
      ) => {
        const g = globals(cmd);
        const services = flags.file.length
          ? loadFleet(specFilesOf(flags.file).files).members.map((m) => ({
              namespace: m.spec.namespace,
              name: m.spec.name,
            }))
          : undefined;
        const r = await recover(await g.kube(), {
          ...(services ? { services } : {}),
          ...(flags.experiment ? { experiment: flags.experiment } : {}),
          ...(flags.helperImage ? { helperImage: flags.helperImage } : {}),
          ...progress(g.format === 'text'),
        });
        if (g.format === 'json') printJson(r);
        else process.stdout.write(describeRecover('recovered', r));
      },
    );
}

function describeActive(a: ActiveRecord): string {
  const r = a.record;
  return (
    `${r.id}  ${r.kind}  ${r.namespace}/${r.service}  ${r.state}  helper ${a.helper}` +
    `  expires ${r.expiresAt}${a.overdue ? '  OVERDUE (gantry chaos recover)' : ''}`
  );
}

function progress(text: boolean): { emit?: (m: string) => void } {
  return text ? { emit: (m: string) => process.stderr.write(`  ${m}\n`) } : {};
}

function describeRecover(verb: string, r: RecoverReport): string {
  const lines = [
    `${verb}: ${r.reverted.length} reverted, ${r.active.length} still active, ${r.failed.length} failed, ${r.cleaned.length} helpers removed`,
    ...r.reverted.map((id) => `  reverted ${id}`),
    ...r.active.map((id) => `  active ${id} (its helper runs; it ends at its expiry)`),
    ...r.failed.map((f) => `  FAILED ${f.id}: ${f.reason}`),
  ];
  return lines.join('\n') + '\n';
}

async function gameday(
  exps: Experiment[],
  kube: Kube,
  flags: RunFlags,
  json: boolean,
): Promise<number> {
  const runs: Journal[] = [];
  for (const [i, exp] of exps.entries()) {
    if (!json) process.stderr.write(`[${i + 1}/${exps.length}] ${exp.name} (${exp.file})\n`);
    const j = await runWithSignals(exp, kube, flags, !json);
    runs.push(j);
    if (flags.report) writeReport(join(flags.report, exp.name), j);
    if (!json) process.stdout.write(printJournal(j));
    if (j.verdict === 'aborted') break;
  }
  const score = gamedayScore(runs);
  const passed = runs.filter((r) => r.verdict === 'passed' || r.verdict === 'dry-run').length;
  if (json) {
    printJson({ score, passed, total: exps.length, runs });
  } else {
    process.stdout.write(
      (runs.every((r) => r.verdict === 'dry-run')
        ? `\ngameday (dry run): ${runs.length} experiments planned, nothing injected\n`
        : `\ngameday: ${passed}/${exps.length} passed, resilience score ${score}/100\n`) +
        runs
          .map((r) => `  ${r.experiment.padEnd(24)} ${r.verdict.padEnd(12)} ${r.score}`)
          .join('\n') +
        '\n' +
        (flags.report ? `  reports under ${flags.report}/<experiment>/report.html\n` : ''),
    );
  }
  return passed === exps.length ? ExitCode.Ok : ExitCode.DeployFailed;
}
