// See run.sh. Every contender deploys its own copy of the same service (names differ so that
// field ownership never mixes) with the same change each round: a new env value, which rolls
// all pods. Contenders alternate within each round.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Deployment } from '@kubernetes/client-node';
import { Kube } from '../../packages/gantry/src/kube/client.js';
import { renderService, toYaml } from '../../packages/gantry/src/render/index.js';
import { parseSpec } from '../../packages/gantry/src/spec/index.js';

const runs = Number(process.env.BENCH_RUNS ?? 10);
const replicas = Number(process.env.BENCH_REPLICAS ?? 3);
const root = new URL('../../', import.meta.url).pathname;
const gantry = join(root, 'packages/gantry/bin/gantry.js');
const ns = `bench-deploy-${Date.now().toString(36)}`;
const work = mkdtempSync(join(tmpdir(), 'bench-deploy-'));
const helm = process.env.HELM && process.env.HELM.length > 0 ? process.env.HELM : undefined;

function sh(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: Record<string, string> } = {},
): string {
  return execFileSync(cmd, args, {
    encoding: 'utf8',
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 32 << 20,
  });
}

// The workload: the echo fixture (starts in milliseconds, so tool overhead is visible).
mkdirSync(join(work, 'rootfs'));
sh('go', ['build', '-trimpath', '-ldflags=-s -w', '-o', join(work, 'rootfs/echo'), '.'], {
  cwd: join(root, 'hack/cluster/test/fixtures/echo'),
  env: { CGO_ENABLED: '0' },
});
const digest = sh(join(root, 'hack/cluster/cluster'), [
  'push-image',
  'bench/echo:1',
  join(work, 'rootfs'),
  '{"Entrypoint":["/echo"],"User":"65532:65532"}',
]).trim();
const image = `${process.env.GANTRY_REGISTRY}/bench/echo@${digest}`;

function specText(name: string, round: string): string {
  return `apiVersion: gantry.dev/v1alpha1
name: ${name}
namespace: ${ns}
image: ${image}
replicas: ${replicas}
env: { NAME: ${name}, ROUND: "${round}" }
probes:
  readiness: { path: /healthz, periodSeconds: 1 }
rollingUpdate: { maxSurge: 2, maxUnavailable: 1 }
terminationGracePeriodSeconds: 5
`;
}

const kube = Kube.load();

/** The limit: apply the rendered objects ourselves, then watch until the rollout is complete. */
async function limitDeploy(round: string): Promise<void> {
  const spec = parseSpec(specText('bench-limit', round));
  const objects = renderService(spec);
  await ensureNs();
  let generation = 0;
  for (const o of objects) {
    const out = await kube.apply(o);
    if (o.kind === 'Deployment')
      generation = (out.metadata as { generation?: number }).generation ?? 0;
  }
  await new Promise<void>((resolve, reject) => {
    let stop: (() => void) | undefined;
    const check = (d: V1Deployment) => {
      const s = d.status ?? {};
      if (
        (s.observedGeneration ?? 0) >= generation &&
        s.updatedReplicas === replicas &&
        s.replicas === replicas &&
        s.availableReplicas === replicas
      ) {
        stop?.();
        resolve();
      }
    };
    kube
      .watch<V1Deployment>(
        `/apis/apps/v1/namespaces/${ns}/deployments`,
        { fieldSelector: 'metadata.name=bench-limit' },
        (_t, d) => check(d),
        (err) => reject(new Error(String(err))),
      )
      .then((s) => (stop = s), reject);
  });
}

async function ensureNs(): Promise<void> {
  const o = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } };
  if (!(await kube.get(o))) await kube.apply(o);
}

const contenders: Record<string, (round: string) => Promise<void> | void> = {
  gantry: (round) => {
    const file = join(work, 'gantry.yaml');
    writeFileSync(file, specText('bench-gantry', round));
    sh(process.execPath, [gantry, 'deploy', '-f', file, '--timeout', '3m']);
  },
  kubectl: (round) => {
    const file = join(work, 'kubectl.yaml');
    writeFileSync(file, toYaml(renderService(parseSpec(specText('bench-kubectl', round)))));
    sh('kubectl', ['apply', '-f', file]);
    sh('kubectl', ['-n', ns, 'rollout', 'status', 'deployment/bench-kubectl', '--timeout=3m']);
  },
  limit: limitDeploy,
};
if (helm) {
  const chartSpec = join(work, 'helm.yaml');
  writeFileSync(chartSpec, specText('bench-helm', '0'));
  sh(process.execPath, [gantry, 'chart', '-f', chartSpec, '--out', join(work, 'chart')]);
  contenders.helm = (round) => {
    sh(helm, [
      'upgrade',
      '--install',
      'bench-helm',
      join(work, 'chart'),
      '-n',
      ns,
      '--wait',
      '--timeout',
      '3m',
      '--set-string',
      `env.ROUND=${round}`,
    ]);
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function main(): Promise<void> {
  await ensureNs();
  const names = Object.keys(contenders);
  const times: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  // Round 0 creates everything; it is not timed.
  for (const n of names) await contenders[n]!('0');
  for (let i = 1; i <= runs; i++) {
    const order = i % 2 ? names : [...names].reverse();
    for (const n of order) {
      const t0 = performance.now();
      await contenders[n]!(String(i));
      times[n]!.push(performance.now() - t0);
    }
    process.stderr.write(
      `round ${i}/${runs}: ${order.map((n) => `${n} ${(times[n]!.at(-1)! / 1000).toFixed(2)}s`).join('  ')}\n`,
    );
  }
  const med = Object.fromEntries(names.map((n) => [n, median(times[n]!)]));
  const cpu = sh('sh', ['-c', "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"]).trim();
  console.log(
    `\nbench/deploy — ${new Date().toISOString()} — ${runs} rounds, ${replicas} replicas, ${cpu}, ${sh('nproc', []).trim()} cores`,
  );
  console.log('contender   median wall time');
  for (const n of names) console.log(`${n.padEnd(12)}${(med[n]! / 1000).toFixed(2)} s`);
  const g = med.gantry!;
  console.log(
    `\ngantry - limit           = ${((g - med.limit!) / 1000).toFixed(2)} s   (target <= 0.50 s)`,
  );
  console.log(`gantry / kubectl         = ${(g / med.kubectl!).toFixed(2)}`);
  if (med.helm)
    console.log(`gantry / helm            = ${(g / med.helm).toFixed(2)}   (target <= 0.60)`);
  else console.log('helm: not built (hack/tools/build-helm.sh missing); skipped');
  spawnSync('kubectl', ['delete', 'namespace', ns, '--wait=false'], { stdio: 'ignore' });
}

await main();
