// build, ship and up: the whole flow from source to a verified deploy.
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import type { ServiceSpec } from '../../spec/index.js';
import { loadSpecFile, resolveSecretValues } from '../../spec/index.js';
import type { BuiltImage } from '../../ship/ship.js';
import type { PipelineEvent } from '../../ship/pipeline.js';
import { sourceVersion } from '../../version/index.js';
import type { SourceVersion } from '../../version/index.js';
import { ExitCode } from '../exit-codes.js';
import { parseFormat, printJson, UsageError } from '../output.js';
import type { OutputFormat } from '../output.js';

interface GlobalOpts {
  output?: string;
  kubeconfig?: string;
  context?: string;
}

/** Builds the spec's image (and pushes it unless an output path is given). */
async function buildFor(
  spec: ServiceSpec,
  specFile: string,
  version: SourceVersion,
  opts: { output?: string; format: OutputFormat },
): Promise<BuiltImage> {
  if (!spec.build) {
    throw new UsageError(`${specFile} has no build section: add build.kind and build.context`);
  }
  const { buildServiceImage } = await import('../../image/service.js');
  return buildServiceImage(spec, {
    specDir: dirname(resolve(specFile)),
    version,
    ...(opts.output ? { output: opts.output } : {}),
    onProgress: (m) => {
      if (opts.format === 'text') process.stderr.write(`    ${m}\n`);
    },
  });
}

function pipelinePrinter(format: OutputFormat): (e: PipelineEvent) => void {
  return (e) => {
    if (format === 'json') return;
    if (e.type === 'start') process.stderr.write(`[${e.index + 1}/${e.total}] ${e.stage}\n`);
    else if (e.type === 'done') {
      const mark = e.result.ok ? 'ok' : 'FAILED';
      process.stderr.write(
        `      ${mark} in ${(e.result.ms / 1000).toFixed(1)}s: ${e.result.summary}\n`,
      );
    } else process.stderr.write(`      skipped ${e.stage}\n`);
  };
}

export function registerShipCommands(program: Command): number[] {
  const exit: number[] = [];

  program
    .command('build')
    .description(
      "build the spec's image without a Docker daemon and push it (or write it with --out)",
    )
    .option('-f, --file <path>', 'spec file', 'gantry.yaml')
    .option('--out <path>', 'write an OCI layout directory (or a .tar) instead of pushing')
    .addHelpText(
      'after',
      `
The image is tagged with the source version (gantry version) and labelled with the
org.opencontainers.image.* annotations. Dependencies and code are separate layers, so a
code-only change pushes only the small code layer. Same inputs give the same digest.

Examples:
  gantry build -f deploy/user-service/gantry.yaml
  gantry build -f deploy/user-service/gantry.yaml --out /tmp/user-service.tar
`,
    )
    .action(async (opts: { file: string; out?: string }, cmd: Command) => {
      const format = parseFormat(cmd.optsWithGlobals<GlobalOpts>().output);
      const spec = loadSpecFile(opts.file);
      const version = sourceVersion(dirname(resolve(opts.file)));
      const image = await buildFor(spec, opts.file, version, {
        format,
        ...(opts.out ? { output: opts.out } : {}),
      });
      if (format === 'json') printJson({ ...image, version: version.version });
      else
        process.stdout.write(
          `${image.ref}@${image.digest} (${version.version}; ${(image.bytesPushed / 1024).toFixed(0)} KiB pushed)\n`,
        );
    });

  program
    .command('ship')
    .description(
      'the whole pipeline: test, build and push the image, deploy, verify through the Service',
    )
    .option('-f, --file <path>', 'spec file', 'gantry.yaml')
    .option('--skip-tests', "don't run the spec's build.test command")
    .option('--timeout <seconds>', 'rollout timeout in seconds', '300')
    .addHelpText(
      'after',
      `
Stops at the first failing stage and says why. A failed deploy returns the service to its
last good release (see gantry deploy).

Example:
  gantry ship -f deploy/user-service/gantry.yaml
`,
    )
    .action(async (opts: { file: string; skipTests?: boolean; timeout: string }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOpts>();
      const format = parseFormat(g.output);
      const r = await shipFile(opts.file, {
        format,
        kube: g,
        skipTests: !!opts.skipTests,
        timeoutMs: Number(opts.timeout) * 1000,
      });
      exit.push(r.ok ? ExitCode.Ok : ExitCode.DeployFailed);
    });

  program
    .command('up')
    .description('bring up the local cluster (unless KUBECONFIG is set) and ship the service to it')
    .option(
      '-f, --file <path>',
      'spec file; repeat to ship several services in order (default: deploy/user-service/gantry.yaml)',
      (v: string, prev: string[] | undefined) => [...(prev ?? []), v],
    )
    .option('--skip-tests', "don't run the spec's build.test command")
    .addHelpText(
      'after',
      `
Without KUBECONFIG (or --kubeconfig), gantry up starts the local single-node cluster from
this checkout (hack/cluster/cluster up: Kubernetes, registry, Prometheus, gateway), then
ships each service in the order given, loads its alerting rules into that Prometheus (gantry
alerts apply; whenever $GANTRY_PROMETHEUS_RULES_DIR is set) and prints where to reach it. It
stops at the first service that fails to ship. With KUBECONFIG set it ships to that cluster
instead; the image goes to the registry named in the spec's image.

Examples:
  gantry up
  gantry up -f deploy/alert-relay/gantry.yaml -f deploy/user-service/gantry.yaml
`,
    )
    .action(async (opts: { file?: string[]; skipTests?: boolean }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOpts>();
      const format = parseFormat(g.output);
      const local = !g.kubeconfig && !process.env.KUBECONFIG;
      if (local) {
        const { gantryRepo, localClusterUp } = await import('../../up/local-cluster.js');
        const repo = gantryRepo();
        if (!repo) {
          throw new UsageError(
            'no KUBECONFIG is set and this gantry does not run from a checkout with hack/cluster',
          );
        }
        Object.assign(process.env, localClusterUp(repo));
      }
      let ok = true;
      for (const file of opts.file ?? ['deploy/user-service/gantry.yaml']) {
        const r = await shipFile(file, {
          format,
          kube: g,
          skipTests: !!opts.skipTests,
          timeoutMs: 300_000,
        });
        if (!r.ok) {
          ok = false;
          break;
        }
        const spec = loadSpecFile(file);
        const alerts = await loadAlerts(spec, file, format);
        await printEndpoints(spec, format, local, alerts);
      }
      exit.push(ok ? ExitCode.Ok : ExitCode.DeployFailed);
    });

  return exit;
}

async function shipFile(
  file: string,
  opts: { format: OutputFormat; kube: GlobalOpts; skipTests: boolean; timeoutMs: number },
) {
  const spec = loadSpecFile(file);
  const specDir = dirname(resolve(file));
  const secretValues = resolveSecretValues(spec, specDir);
  const version = sourceVersion(specDir);
  const { Kube } = await import('../../kube/client.js');
  const { ship } = await import('../../ship/ship.js');
  const kube = Kube.load({
    ...(opts.kube.kubeconfig ? { kubeconfig: opts.kube.kubeconfig } : {}),
    ...(opts.kube.context ? { context: opts.kube.context } : {}),
  });
  const repoDir = (await import('../../up/local-cluster.js')).gantryRepo() ?? process.cwd();
  if (opts.format === 'text') {
    process.stderr.write(
      `shipping ${spec.namespace}/${spec.name} ${version.version} to ${kube.server}\n`,
    );
  }
  const r = await ship({
    kube,
    spec,
    version,
    repoDir,
    secretValues,
    timeoutMs: opts.timeoutMs,
    skipTests: opts.skipTests,
    build: (s, v) => buildFor(s, file, v, { format: opts.format }),
    onEvent: pipelinePrinter(opts.format),
    onDeployEvent: (e) => {
      if (opts.format === 'text' && (e.type === 'progress' || e.type === 'warning')) {
        process.stderr.write(`      ${e.type === 'warning' ? 'warning: ' : ''}${e.message}\n`);
      }
    },
  });
  if (opts.format === 'json') printJson({ ...r, version: version.version });
  else if (r.ok)
    process.stdout.write(
      `shipped ${spec.name} ${version.version} as revision ${r.revision ?? '?'}\n`,
    );
  else process.stdout.write(`ship FAILED: ${r.error ?? 'unknown error'}\n`);
  return r;
}

/**
 * Loads the service's alerting rules when a Prometheus rules directory is known (the
 * local cluster exports it). The service is up either way: a failure is a warning.
 */
async function loadAlerts(
  spec: ServiceSpec,
  file: string,
  format: OutputFormat,
): Promise<string | undefined> {
  const rulesDir = process.env.GANTRY_PROMETHEUS_RULES_DIR;
  if (!rulesDir) return undefined;
  const { applyAlertRules, renderAlertRules } = await import('../../monitor/index.js');
  const { prometheusUrl } = await import('../../analysis/prometheus.js');
  const rendered = renderAlertRules(spec);
  try {
    const r = await applyAlertRules(spec, rendered, {
      rulesDir,
      prometheusUrl: prometheusUrl(spec.release.analysis),
    });
    return `${r.rules} rules loaded (gantry alerts status -f ${file})`;
  } catch (err) {
    if (format === 'text')
      process.stderr.write(`warning: alerting rules not loaded: ${(err as Error).message}\n`);
    return undefined;
  }
}

async function printEndpoints(
  spec: ServiceSpec,
  format: OutputFormat,
  local: boolean,
  alerts?: string,
): Promise<void> {
  if (format === 'json') return;
  const { Kube } = await import('../../kube/client.js');
  const kube = Kube.load();
  const svc = await kube.get<{
    spec?: { clusterIP?: string; ports?: { port: number; nodePort?: number }[] };
  }>({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: spec.name, namespace: spec.namespace },
  });
  // Where a person on this machine reaches the service first (the gateway, a node port on
  // loopback); the Service's own address is for pods, so it is labelled as in-cluster.
  const lines = [`${spec.name} is up.`];
  const svcPort = svc?.spec?.ports?.[0]?.port ?? 80;
  const portSuffix = svcPort === 80 ? '' : `:${svcPort}`;
  const host = spec.routes[0]?.hostnames[0];
  const gateway = process.env.GANTRY_GATEWAY_URL;
  if (host && gateway) {
    lines.push(`  via gateway  curl -H 'Host: ${host}' ${gateway}/`);
  }
  // A node port the spec fixes is the address it is given for (the host reaches it; the
  // local cluster, whose env names its node address, serves node ports on loopback too).
  const nodePort = spec.ports[0]!.nodePort && svc?.spec?.ports?.[0]?.nodePort;
  if (nodePort) {
    const onHost = local || process.env.GANTRY_NODE_IP !== undefined;
    lines.push(
      `  node port    ${onHost ? `http://127.0.0.1:${nodePort}/` : `${nodePort} on every node`}`,
    );
  }
  const ip = svc?.spec?.clusterIP;
  if (ip && ip !== 'None') {
    lines.push(
      `  in cluster   http://${spec.name}.${spec.namespace}.svc${portSuffix}/ (Service IP ${ip})`,
    );
    const paths: string[] = [];
    const ready = spec.probes.readiness?.path;
    if (ready) paths.push(`readiness ${ready}`);
    if (spec.metrics) paths.push(`metrics ${spec.metrics.path}`);
    // Services that publish an OpenAPI document usually serve their docs beside it.
    const openapi = await kube
      .serviceGet(spec.namespace, spec.name, spec.ports[0]!.name, '/openapi.json')
      .then((text) => JSON.parse(text) as { paths?: Record<string, unknown> })
      .catch(() => undefined);
    if (openapi?.paths) {
      paths.push(`OpenAPI /openapi.json (${Object.keys(openapi.paths).length} paths)`);
      const api = Object.keys(openapi.paths).find((p) => p.startsWith('/api/'));
      if (api) paths.push(`API ${api}`);
    }
    if (paths.length > 0) lines.push(`  paths        ${paths.join(' · ')}`);
  }
  if (local || process.env.PROMETHEUS_URL) {
    lines.push(
      `  Prometheus   ${process.env.PROMETHEUS_URL ?? 'http://127.0.0.1:9090'}`,
      `  kubectl      export KUBECONFIG=${process.env.KUBECONFIG ?? ''}`,
    );
  }
  if (alerts) lines.push(`  alerts       ${alerts}`);
  process.stdout.write(lines.join('\n') + '\n');
}

export function registerCodegenCommands(program: Command): void {
  program
    .command('dockerfile')
    .description('print a Dockerfile equivalent to what gantry build makes, for docker users')
    .option('-f, --file <path>', 'spec file', 'gantry.yaml')
    .addHelpText(
      'after',
      '\nExample:\n  gantry dockerfile -f deploy/user-service/gantry.yaml > services/user-service/Dockerfile\n',
    )
    .action(async (opts: { file: string }) => {
      const { dockerfileFor } = await import('../../image/dockerfile.js');
      process.stdout.write(
        dockerfileFor(loadSpecFile(opts.file), { specDir: dirname(resolve(opts.file)) }),
      );
    });

  program
    .command('pipeline <system>')
    .description('write CI configuration (github or gitlab) that runs gantry ship')
    .option('-f, --file <path>', 'spec file the pipeline ships', 'gantry.yaml')
    .option('--stdout', 'print instead of writing the file')
    .addHelpText(
      'after',
      '\nExamples:\n  gantry pipeline github -f deploy/user-service/gantry.yaml\n  gantry pipeline gitlab --stdout\n',
    )
    .action(async (system: string, opts: { file: string; stdout?: boolean }, cmd: Command) => {
      if (system !== 'github' && system !== 'gitlab')
        throw new UsageError(`unknown CI system "${system}" (use github or gitlab)`);
      const { ciConfig } = await import('../../ship/ci-config.js');
      const { path, content } = ciConfig(system, opts.file);
      if (opts.stdout) {
        process.stdout.write(content);
        return;
      }
      const { mkdirSync, writeFileSync } = await import('node:fs');
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, content);
      if (parseFormat(cmd.optsWithGlobals<GlobalOpts>().output) === 'json') printJson({ path });
      else process.stdout.write(`wrote ${path}\n`);
    });
}
