// The one-line form of every fault kind, generated from the registry:
//   gantry chaos KIND -f gantry.yaml [--PARAM VALUE ...] [--duration 60s]
//                     [--count N | --percent P] [--container C] [--node N] [--max-percent P]
//                     [--dry-run] [--report DIR] [--helper-image IMAGE]
// Each is a one-step experiment run by the same runner as experiment files (so Ctrl-C
// reverts, and --report writes the same journal and report).
import type { Command } from 'commander';
import { ExperimentError } from '../../../chaos/experiment/load.js';
import { durationMs, parseFaultParams } from '../../../chaos/experiment/params.js';
import type { Experiment } from '../../../chaos/experiment/types.js';
import type { FaultDefinition, FaultParam, TargetSelector } from '../../../chaos/fault.js';
import { faults } from '../../../chaos/faults/index.js';
import type { SpecProblem } from '../../../spec/errors.js';
import { loadSpecFile } from '../../../spec/index.js';
import { globals } from '../../context.js';
import { report, runWithSignals } from './run.js';
import type { RunFlags } from './run.js';

/** Flags every one-line form has; a parameter of the same name would collide. */
const RESERVED = new Set([
  'file',
  'duration',
  'count',
  'percent',
  'container',
  'node',
  'max-percent',
  'dry-run',
  'report',
  'helper-image',
  'prometheus',
  'output',
  'help',
]);

const camel = (s: string) => s.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** A default as a user would type it: durations are kept in ms, shown as 400ms or 30s. */
function shownDefault(p: FaultParam): string {
  const v = p.default;
  if (p.type === 'duration' && typeof v === 'number')
    return v >= 1000 && v % 1000 === 0 ? `${v / 1000}s` : `${v}ms`;
  return String(v);
}

function example(p: FaultParam): string {
  switch (p.type) {
    case 'duration':
      return '200ms';
    case 'number':
      return String(p.min ?? 1);
    case 'percent':
      return '30';
    case 'bytes':
      return '256Mi';
    case 'string[]':
      return 'a,b';
    case 'boolean':
      return '';
    case 'string':
      return p.enum?.[0] ?? 'VALUE';
  }
}

/**
 * The flags of each kind's --help examples: a drill a team would run (values a reader can
 * copy), each parsed like the command line in a test (test/cli/chaos-help.test.ts).
 */
export const FAULT_EXAMPLES: Record<string, string> = {
  'pod-failure': '',
  'service-down': '--mode no-endpoints',
  'node-cordon': '',
  'node-drain': '--eviction-timeout 60s',
  'node-taint': '--effect NoSchedule',
  'container-kill': '',
  'process-kill': '--process node --signal SIGTERM',
  'process-stop': '--process node',
  'container-pause': '',
  'network-partition': '--direction egress --peers 10.96.0.0/12',
  'packet-loss': '--loss 10 --direction inbound',
  bandwidth: '--rate 1mbit --direction egress',
  'dependency-down': '--dependency 10.96.0.20:5432 --mode drop',
  'network-delay': '--latency 200ms --jitter 50ms',
  'http-error': '--status 503 --percent 20 --paths /api',
  'http-delay': '--latency 800ms --paths /api/users',
  'http-abort': '--percent 10',
  'dns-error': '--patterns "db.*" --error nxdomain',
  'dns-timeout': '--patterns "*.example.com"',
  'cpu-hog': '--load 80',
  'memory-hog': '--percent-of-limit 80',
  'io-stress': '--mode write --workers 1 --size 256Mi',
  'disk-fill': '--fill-percent 90',
};

function helpText(def: FaultDefinition): string {
  const shown = def.params.filter((p) => p.required || p.type !== 'boolean').slice(0, 3);
  const args =
    FAULT_EXAMPLES[def.kind] ??
    shown.map((p) => `--${p.name}${p.type === 'boolean' ? '' : ` ${example(p)}`}`).join(' ');
  const scope =
    def.family === 'node'
      ? 'the node of the first chosen pod (or --node)'
      : def.family === 'service'
        ? 'the whole service'
        : '--count pods (default 1) or --percent of them, at most --max-percent (50) of the ready ones';
  return `
Target: ${scope}.
The fault ends by its own expiry after --duration; Ctrl-C reverts it at once.
--dry-run prints what would be done to which objects and touches nothing.
Exit 0 done and reverted, 4 refused or failed, 3 invalid flag value.

Examples:
  gantry chaos ${def.kind} -f gantry.yaml ${args ? `${args} ` : ''}--duration 30s --dry-run
  gantry chaos ${def.kind} -f deploy/user-service/gantry.yaml ${args ? `${args} ` : ''}--duration 60s --report out/${def.kind}
`;
}

export function registerFaultCommands(chaos: Command, exit: number[]): void {
  for (const def of faults) {
    if (def.kind === 'pod-kill') continue; // its own command, with rounds (chaos.ts)
    const c = chaos
      .command(def.kind)
      .description(def.summary)
      .option('-f, --file <path>', 'spec file of the target service', 'gantry.yaml')
      .option('--duration <duration>', 'how long the fault stays in effect', '60s')
      .option('--count <n>', 'pods by count (default 1)')
      .option('--percent <p>', 'pods by percent of the ready ones, rounded up')
      .option('--container <name>', "container (default: the service's main container)")
      .option('--node <name>', 'node (node faults; default the node of the first chosen pod)')
      .option('--max-percent <p>', "most of the service's ready pods one fault may touch", '50')
      .option('--dry-run', 'print the plan per target; touch nothing')
      .option('--report <dir>', 'write journal.json, report.md and report.html there')
      .option('--helper-image <image>', 'helper image for node-level faults (other clusters)')
      .option('--prometheus <url>', 'Prometheus base URL');
    for (const p of def.params) {
      if (RESERVED.has(p.name)) continue;
      const more = [
        p.enum ? `one of ${p.enum.join(', ')}` : '',
        p.default !== undefined && p.type !== 'boolean' ? `default ${shownDefault(p)}` : '',
        p.required ? 'required' : '',
      ]
        .filter(Boolean)
        .join('; ');
      const desc = more ? `${p.description} (${more})` : p.description;
      if (p.type === 'boolean') c.option(`--${p.name}`, desc);
      else c.option(`--${p.name} <${p.type === 'string[]' ? 'a,b' : p.type}>`, desc);
    }
    c.addHelpText('after', helpText(def)).action(
      async (flags: Record<string, string | boolean | undefined>, cmd: Command) => {
        const g = globals(cmd);
        const problems: SpecProblem[] = [];
        const bad = (flag: string, message: string) =>
          problems.push({
            file: '<command line>',
            line: 0,
            column: 0,
            field: `--${flag}`,
            message,
          });
        const raw: Record<string, unknown> = {};
        for (const p of def.params) {
          const v = flags[camel(p.name)];
          if (v !== undefined) raw[p.name] = v;
        }
        const { params, problems: pp } = parseFaultParams(def, raw);
        for (const p of pp) bad(p.param, p.message);
        const num = (flag: string, v: string | boolean | undefined, whole: boolean) => {
          if (v === undefined) return undefined;
          const n = Number(v);
          if (
            typeof v !== 'string' ||
            v.trim() === '' ||
            !Number.isFinite(n) ||
            (whole && !Number.isInteger(n))
          ) {
            bad(
              flag,
              `expected ${whole ? 'a whole number' : 'a number'}, got ${JSON.stringify(v)}`,
            );
            return undefined;
          }
          return n;
        };
        const target: TargetSelector = {};
        const count = num('count', flags.count, true);
        const percent = num(
          'percent',
          typeof flags.percent === 'string' ? flags.percent.replace(/%$/, '') : flags.percent,
          false,
        );
        const maxPercent = num(
          'max-percent',
          typeof flags.maxPercent === 'string' ? flags.maxPercent.replace(/%$/, '') : undefined,
          false,
        );
        if (count !== undefined) target.count = count;
        if (percent !== undefined) target.percent = percent;
        if (maxPercent !== undefined) target.maxPercent = maxPercent;
        if (typeof flags.container === 'string') target.container = flags.container;
        if (typeof flags.node === 'string') target.node = flags.node;
        if (count !== undefined && percent !== undefined)
          bad('percent', 'give --count or --percent, not both');
        const ms = durationMs(String(flags.duration));
        if (ms === undefined || ms <= 0)
          bad(
            'duration',
            `expected a duration such as 30s or 5m, got ${JSON.stringify(flags.duration)}`,
          );
        if (problems.length) throw new ExperimentError(problems);
        const file = String(flags.file);
        const spec = loadSpecFile(file);
        const exp: Experiment = {
          file: '',
          name: def.kind,
          spec,
          specFile: file,
          probes: [],
          method: [
            { type: 'fault', name: def.kind, fault: def.kind, params, target, durationMs: ms! },
          ],
          rollbacks: [],
        };
        const runFlags: RunFlags = {
          ...(flags.dryRun === true ? { dryRun: true } : {}),
          ...(typeof flags.report === 'string' ? { report: flags.report } : {}),
          ...(typeof flags.helperImage === 'string' ? { helperImage: flags.helperImage } : {}),
          ...(typeof flags.prometheus === 'string' ? { prometheus: flags.prometheus } : {}),
        };
        const j = await runWithSignals(exp, await g.kube(), runFlags, g.format === 'text');
        exit.push(report(j, runFlags, g.format === 'json'));
      },
    );
  }
}
