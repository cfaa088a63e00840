// gantry alerts: the service's Prometheus alerting rules — render them, put them in
// front of a Prometheus that loads a rules directory, remove them, and show what fires.
import type { Command } from 'commander';
import { prometheusUrl } from '../../analysis/prometheus.js';
import {
  applyAlertRules,
  prometheusRuleObject,
  removeAlertRules,
  renderAlertRules,
  rulesYaml,
  serviceAlerts,
} from '../../monitor/index.js';
import type { RulesTarget } from '../../monitor/index.js';
import { loadSpecFile } from '../../spec/index.js';
import type { ServiceSpec } from '../../spec/index.js';
import { parseFormat, printJson, UsageError } from '../output.js';

interface TargetOpts {
  file: string;
  rulesDir?: string;
  prometheus?: string;
}

const SPEC_HELP = `
The rules come from the spec's monitoring section (defaults in brackets):
  alerts.errorRate    errors over requests above [1%] for [2m], rate window [5m]
  alerts.latencyP99   P99 from the latency histogram above [600ms] for [5m]
  alerts.cpu          a pod's CPU above [80%] of its limit (or request) for [5m]
  alerts.memory       a pod's working set above [85%] of its limit (or request) for [5m]
  alerts.down         no pod scraped successfully for [1m]
  slo                 availability (e.g. 0.999) and windowDays [30]: burn-rate alerts,
                      page at 2% of the budget in 1h or 5% in 6h, ticket at 10% in 3d
  labels              added to every alert (route them in Alertmanager)
Set an alert to false to leave it out. Request metrics are release.analysis.requests
and release.analysis.latency; CPU and memory are cAdvisor's (the kubelet's).
`;

export function registerAlertCommands(program: Command): void {
  const alerts = program
    .command('alerts')
    .description("the service's Prometheus alerting rules: render, apply, remove, status")
    .addHelpText('after', SPEC_HELP);

  alerts
    .command('render')
    .description('print the rule file (or a Prometheus Operator PrometheusRule); touches nothing')
    .option('-f, --file <path>', 'spec file', 'gantry.yaml')
    .option(
      '--format <kind>',
      'rules (a Prometheus rule file) or operator (PrometheusRule)',
      'rules',
    )
    .addHelpText(
      'after',
      `
Examples:
  gantry alerts render -f deploy/user-service/gantry.yaml > user-service.rules.yml
  promtool check rules user-service.rules.yml
  gantry alerts render -f deploy/user-service/gantry.yaml --format operator | kubectl apply -f -
`,
    )
    .action((opts: { file: string; format: string }, cmd: Command) => {
      if (opts.format !== 'rules' && opts.format !== 'operator') {
        throw new UsageError(`--format must be rules or operator, not "${opts.format}"`);
      }
      const spec = loadSpecFile(opts.file);
      const rendered = renderAlertRules(spec);
      const doc = opts.format === 'operator' ? prometheusRuleObject(spec, rendered) : rendered.file;
      if (json(cmd)) printJson({ ...rendered, document: doc });
      else process.stdout.write(rulesYaml(doc));
      for (const n of rendered.notes) process.stderr.write(`note: ${n}\n`);
    });

  alerts
    .command('apply')
    .description("write the rule file into Prometheus' rules directory, reload, and confirm")
    .option('-f, --file <path>', 'spec file', 'gantry.yaml')
    .option(
      '--rules-dir <dir>',
      "a directory in Prometheus' rule_files (default: $GANTRY_PROMETHEUS_RULES_DIR)",
    )
    .option(
      '--prometheus <url>',
      'Prometheus base URL (default: release.analysis.prometheus, $GANTRY_PROMETHEUS_URL, http://127.0.0.1:9090)',
    )
    .addHelpText(
      'after',
      `
Prometheus must read rule files from that directory (rule_files: ["<dir>/*.yml"]) and
allow /-/reload (--web.enable-lifecycle). The local cluster's Prometheus does both, and
hack/cluster/cluster env exports GANTRY_PROMETHEUS_RULES_DIR. A rule file Prometheus
refuses is replaced by the one before. With the Prometheus Operator, use
gantry alerts render --format operator instead.

Examples:
  eval "$(hack/cluster/cluster env)"
  gantry alerts apply -f deploy/user-service/gantry.yaml
  gantry alerts apply -f gantry.yaml --rules-dir /etc/prometheus/rules.d --prometheus http://prom:9090
`,
    )
    .action(async (opts: TargetOpts, cmd: Command) => {
      const spec = loadSpecFile(opts.file);
      const rendered = renderAlertRules(spec);
      for (const n of rendered.notes) process.stderr.write(`note: ${n}\n`);
      const r = await applyAlertRules(spec, rendered, target(spec, opts, cmd));
      if (json(cmd)) printJson({ ...r, notes: rendered.notes });
      else
        process.stdout.write(
          `${r.rules} rules of ${spec.namespace}/${spec.name} loaded by Prometheus from ${r.file}\n`,
        );
    });

  alerts
    .command('delete')
    .description("remove the service's rule file and reload Prometheus")
    .option('-f, --file <path>', 'spec file (for name and namespace)', 'gantry.yaml')
    .option('--rules-dir <dir>', 'the rules directory (default: $GANTRY_PROMETHEUS_RULES_DIR)')
    .option('--prometheus <url>', 'Prometheus base URL')
    .action(async (opts: TargetOpts, cmd: Command) => {
      const spec = loadSpecFile(opts.file);
      const r = await removeAlertRules(spec, target(spec, opts, cmd));
      if (json(cmd)) printJson(r);
      else process.stdout.write(r.removed ? `removed ${r.file}\n` : `no rule file at ${r.file}\n`);
    });

  alerts
    .command('status')
    .description("the service's pending and firing alerts, as Prometheus evaluates them now")
    .option('-f, --file <path>', 'spec file (for name and namespace)', 'gantry.yaml')
    .option('--prometheus <url>', 'Prometheus base URL')
    .addHelpText(
      'after',
      '\nExample:\n  gantry alerts status -f deploy/user-service/gantry.yaml -o json\n',
    )
    .action(async (opts: { file: string; prometheus?: string }, cmd: Command) => {
      const spec = loadSpecFile(opts.file);
      const url = prometheusUrl(spec.release.analysis, opts.prometheus);
      const list = await serviceAlerts(spec, url);
      if (json(cmd)) {
        printJson({ service: spec.name, namespace: spec.namespace, alerts: list });
        return;
      }
      if (!list.length) {
        process.stdout.write(`${spec.namespace}/${spec.name}: no alert pending or firing\n`);
        return;
      }
      for (const a of list) {
        process.stdout.write(
          `${a.state.padEnd(7)} ${a.alertname} since ${a.activeAt}${a.summary ? `: ${a.summary}` : ''}\n`,
        );
      }
    });
}

function json(cmd: Command): boolean {
  return parseFormat(cmd.optsWithGlobals<{ output?: string }>().output) === 'json';
}

function target(spec: ServiceSpec, opts: TargetOpts, cmd: Command): RulesTarget {
  const rulesDir = opts.rulesDir ?? process.env.GANTRY_PROMETHEUS_RULES_DIR;
  if (!rulesDir) {
    throw new UsageError(
      "no rules directory: give --rules-dir (a directory in Prometheus' rule_files) or set $GANTRY_PROMETHEUS_RULES_DIR",
    );
  }
  const text = !json(cmd);
  return {
    rulesDir,
    prometheusUrl: prometheusUrl(spec.release.analysis, opts.prometheus),
    ...(text ? { onProgress: (m: string) => process.stderr.write(`  ${m}\n`) } : {}),
  };
}
