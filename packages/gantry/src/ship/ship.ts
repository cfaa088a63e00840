// gantry ship: the seed's pipeline run from one command.
//   test -> build and push the image -> deploy -> verify through the Service
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kube } from '../kube/client.js';
import { deploy } from '../release/deploy.js';
import type { DeployEvent } from '../release/deploy.js';
import type { ServiceSpec } from '../spec/index.js';
import type { SourceVersion } from '../version/index.js';
import { runPipeline } from './pipeline.js';
import type { PipelineEvent, PipelineResult, Stage } from './pipeline.js';

export interface BuiltImage {
  /** Repository and tag, e.g. 127.0.0.1:5000/gantry/user-service:1.4.0-dev.3-abc1234 */
  ref: string;
  /** Manifest digest; deploys pin the image by it. */
  digest: string;
  bytesPushed: number;
}

export type ImageBuilder = (spec: ServiceSpec, version: SourceVersion) => Promise<BuiltImage>;

export interface ShipOptions {
  kube: Kube;
  spec: ServiceSpec;
  version: SourceVersion;
  /** Working directory of the test command (the repository root). */
  repoDir: string;
  build: ImageBuilder;
  secretValues: Readonly<Record<string, string>>;
  timeoutMs: number;
  skipTests?: boolean;
  onEvent?: (e: PipelineEvent) => void;
  onDeployEvent?: (e: DeployEvent) => void;
}

interface ShipContext {
  image?: BuiltImage;
  revision?: number;
}

export async function ship(
  opts: ShipOptions,
): Promise<PipelineResult & { image?: BuiltImage; revision?: number }> {
  const { spec } = opts;
  const stages: Stage<ShipContext>[] = [];
  if (spec.build?.test && !opts.skipTests) {
    const command = spec.build.test;
    stages.push({ name: 'test', run: () => runShell(command, opts.repoDir) });
  }
  stages.push({
    name: 'build',
    run: async (ctx) => {
      ctx.image = await opts.build(spec, opts.version);
      const kib = (ctx.image.bytesPushed / 1024).toFixed(0);
      return `${ctx.image.ref}@${ctx.image.digest.slice(0, 19)}… (${kib} KiB pushed)`;
    },
  });
  stages.push({
    name: 'deploy',
    run: async (ctx) => {
      const image = ctx.image!;
      const repo = image.ref.replace(/:[^/:]+$/, '');
      const r = await deploy(opts.kube, spec, {
        image: `${repo}@${image.digest}`,
        version: opts.version.version,
        secretValues: opts.secretValues,
        timeoutMs: opts.timeoutMs,
        ...(opts.onDeployEvent ? { onEvent: opts.onDeployEvent } : {}),
      });
      ctx.revision = r.revision;
      if (!r.ok) {
        const back = r.rolledBackTo !== undefined ? `; back on revision ${r.rolledBackTo}` : '';
        const d = r.rollout && !r.rollout.ok ? r.rollout.detail : undefined;
        const logs = d?.logs.trim()
          ? `\n  last log lines of ${d.pod}:\n${d.logs
              .trimEnd()
              .split('\n')
              .slice(-8)
              .map((l) => `    ${l}`)
              .join('\n')}`
          : '';
        throw new Error(`revision ${r.revision} failed: ${r.message}${back}${logs}`);
      }
      return `revision ${r.revision}: ${r.message}`;
    },
  });
  if (spec.service.type !== 'None') {
    stages.push({ name: 'verify', run: () => verify(opts.kube, spec) });
  }
  const ctx: ShipContext = {};
  const result = await runPipeline(stages, ctx, opts.onEvent);
  return {
    ...result,
    ...(ctx.image ? { image: ctx.image } : {}),
    ...(ctx.revision !== undefined ? { revision: ctx.revision } : {}),
  };
}

/** Health check through the Service (API server proxy): readiness path, else "/". */
async function verify(kube: Kube, spec: ServiceSpec): Promise<string> {
  const port = spec.ports[0]!;
  const path = spec.probes.readiness?.path ?? spec.probes.liveness?.path ?? '/';
  let last = '';
  for (let i = 0; i < 10; i++) {
    try {
      await kube.serviceGet(spec.namespace, spec.name, port.name, path);
      return `GET ${path} through Service ${spec.namespace}/${spec.name} answered`;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await sleep(500);
  }
  throw new Error(`health check failed: ${last}`);
}

/** Runs a shell command; output goes to a log file whose tail is shown on failure. */
function runShell(command: string, cwd: string): Promise<string> {
  const dir = join(tmpdir(), 'gantry-ship');
  mkdirSync(dir, { recursive: true });
  const logFile = join(dir, `test-${Date.now()}.log`);
  const log = createWriteStream(logFile);
  let tail = '';
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', command], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const onData = (d: Buffer) => {
      log.write(d);
      tail = (tail + d.toString()).slice(-4000);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('close', (code) => {
      log.end();
      if (code === 0) resolve(`\`${command}\` passed (log: ${logFile})`);
      else {
        const lines = tail
          .trimEnd()
          .split('\n')
          .slice(-15)
          .map((l) => `    ${l}`)
          .join('\n');
        reject(
          new Error(
            `\`${command}\` exited with ${code}; last lines:\n${lines}\n  full log: ${logFile}`,
          ),
        );
      }
    });
  });
}
