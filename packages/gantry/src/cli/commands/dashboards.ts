// gantry dashboards render: Grafana dashboards as code, from the same panel
// definitions the console draws.
import type { Command } from 'commander';
import { loadSpecFile } from '../../spec/index.js';
import { stringifyYaml } from '../../render/yaml.js';
import { UsageError } from '../output.js';

export function registerDashboardCommands(program: Command): void {
  const dashboards = program
    .command('dashboards')
    .description('Grafana dashboards of a service, generated from its spec');
  dashboards
    .command('render')
    .description('print the Grafana dashboard JSON of a service, or a ConfigMap holding it')
    .option('-f, --file <path>', 'spec file', 'gantry.yaml')
    .option(
      '--format <kind>',
      'json (the dashboard model, for import or provisioning) or configmap (for the Grafana sidecar of kube-prometheus-stack)',
      'json',
    )
    .option('--configmap-namespace <ns>', "the ConfigMap's namespace (default: the service's)")
    .addHelpText(
      'after',
      `
The panels are gantry console's (request rate, error rate, P50/P99, CPU and memory
against limits; canary vs stable), each with the PromQL the console and the alert rules
use, thresholds from the spec's alert levels and limits. Template variables: datasource
(a Prometheus), namespace and service. Annotations: pods started (deploys, rollbacks,
release steps) and the service's firing alerts. The ConfigMap carries the label
grafana_dashboard: "1" that kube-prometheus-stack's sidecar loads by default.

Examples:
  gantry dashboards render -f deploy/user-service/gantry.yaml > user-service.json
  gantry dashboards render -f gantry.yaml --format configmap --configmap-namespace monitoring | kubectl apply -f -
`,
    )
    .action(async (opts: { file: string; format: string; configmapNamespace?: string }) => {
      if (opts.format !== 'json' && opts.format !== 'configmap')
        throw new UsageError(`unknown format "${opts.format}" (use json or configmap)`);
      const spec = loadSpecFile(opts.file);
      const { dashboardConfigMap, renderDashboard } = await import('../../dashboards/grafana.js');
      const dashboard = renderDashboard(spec);
      process.stdout.write(
        opts.format === 'json'
          ? `${JSON.stringify(dashboard, null, 2)}\n`
          : stringifyYaml(dashboardConfigMap(spec, dashboard, opts.configmapNamespace)),
      );
    });
}
