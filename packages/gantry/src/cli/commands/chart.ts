// gantry chart: export a spec as a Helm v3 chart. Touches no cluster.
import type { Command } from 'commander';
import {
  ChartDirError,
  DEFAULT_CHART_VERSION,
  isChartVersion,
  renderChart,
  writeChart,
} from '../../render/chart.js';
import { loadSpecFile } from '../../spec/index.js';
import { VersionError } from '../../version/index.js';
import { imageFlag } from '../context.js';
import { parseFormat, printJson, UsageError } from '../output.js';

interface ChartOpts {
  file: string;
  out: string;
  image?: string;
  chartVersion: string;
  appVersion?: string;
}

export function registerChartCommands(program: Command): void {
  program
    .command('chart')
    .description(
      'write a Helm v3 chart whose templates render the same objects as gantry render (default values)',
    )
    .option('-f, --file <path>', 'spec file', 'gantry.yaml')
    .requiredOption('-d, --out <dir>', 'chart directory (new, empty, or an earlier export)')
    .option('--image <ref>', 'image to run (overrides the spec)', imageFlag)
    .option('--chart-version <semver>', 'chart version', DEFAULT_CHART_VERSION)
    .option(
      '--app-version <version>',
      'chart appVersion and version label (default: the image tag)',
    )
    .addHelpText(
      'after',
      `
Values a Helm user overrides: image (repository, tag, digest, pullPolicy), replicas,
autoscaling (enabled, min/max, CPU target), rollingUpdate, env, config, resources,
probes, service (type, ports) and disruptionBudget. Secret values are never written:
each secret key is required at install (--set secrets.KEY=VALUE or --set-file).

Examples:
  gantry chart -f deploy/user-service/gantry.yaml --out charts/user-service
  helm install user-service charts/user-service --set secrets.DATABASE_URL=postgres://...
`,
    )
    .action((opts: ChartOpts, cmd: Command) => {
      const format = parseFormat(cmd.optsWithGlobals<{ output?: string }>().output);
      if (!isChartVersion(opts.chartVersion)) {
        throw new VersionError(
          `--chart-version "${opts.chartVersion}" is not SemVer 2 (e.g. 0.1.0)`,
        );
      }
      const spec = loadSpecFile(opts.file);
      const chart = renderChart(spec, {
        chartVersion: opts.chartVersion,
        ...(opts.image ? { image: opts.image } : {}),
        ...(opts.appVersion ? { appVersion: opts.appVersion } : {}),
      });
      try {
        writeChart(chart, opts.out);
      } catch (err) {
        if (err instanceof ChartDirError) throw new UsageError(`--out: ${err.message}`);
        throw err;
      }
      const secrets = Object.keys(spec.secrets).sort();
      if (format === 'json') {
        printJson({
          chart: chart.name,
          version: chart.version,
          appVersion: chart.appVersion ?? null,
          dir: opts.out,
          files: chart.files.map((f) => f.path),
          requiredValues: secrets.map((k) => `secrets.${k}`),
        });
        return;
      }
      const sets = secrets.map((k) => ` --set secrets.${k}=...`).join('');
      process.stdout.write(
        `wrote chart ${chart.name} ${chart.version}` +
          `${chart.appVersion ? ` (appVersion ${chart.appVersion})` : ''} to ${opts.out}: ` +
          `${chart.files.length} files\n` +
          `install: helm install ${spec.name} ${opts.out} --namespace ${spec.namespace}${sets}\n`,
      );
    });
}
