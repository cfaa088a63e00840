// Releases that outlive the terminal, on the real cluster: `gantry release start --detach`
// hands a canary of the echo fixture (behind the real gateway, judged from the real
// Prometheus under a bounded loopback load) to a driver Deployment in the service's
// namespace. The release promotes with no CLI running (the state object is polled, not the
// CLI); a follower killed or interrupted changes nothing; a deleted driver pod is replaced
// and its successor takes the release over from the stored state with one lease holder at
// a time; a second --detach start is refused with the reason; and nothing of the driver
// (Deployment, Secret, Role, RoleBinding, ServiceAccount) is left when the release ends.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { gunzipSync } from 'node:zlib';
import {
  eventually,
  kubectl,
  pushEchoImage,
  requireCluster,
  run,
} from '../../../../hack/cluster/test/cluster-env.js';
import type { ClusterEnv } from '../../../../hack/cluster/test/cluster-env.js';
import { Load, once } from '../../../../hack/cluster/test/load.js';
import { gantryBin } from '../gantry-cli.js';
import { parseSpec } from '../../src/spec/index.js';
import {
  driverName,
  renderDriverAccess,
  renderDriverDeployment,
} from '../../src/progressive/detach/index.js';

const cluster = requireCluster();
const skip = typeof cluster === 'string' ? cluster : false;
const env = cluster as ClusterEnv & { GANTRY_DRIVER_PROMETHEUS_URL?: string };
const ns = `detach-it-${Date.now().toString(36)}`;
const host = `echo.${ns}.test`;
const GATEWAY = 'http://127.0.0.1:8000';
const DRIVER = 'gantry-driver-echo';
const SELECTOR = 'gantry.dev/release-driver-of=echo';
/** A secret value the release needs: it must reach the driver, and never any output. */
const TOKEN = `detach-token-${Math.random().toString(36).slice(2)}`;
const work = mkdtempSync(join(tmpdir(), 'gantry-detach-'));
let image = '';

function writeSpec(name: string, release: string): string {
  const file = join(work, `echo-${name}.yaml`);
  writeFileSync(
    file,
    `apiVersion: gantry.dev/v1alpha1
name: echo
namespace: ${ns}
image: ${image}
replicas: 1
env: { NAME: ${name} }
ports: [{ name: http, containerPort: 8080, servicePort: 80 }]
secrets: { TOKEN: { fromEnv: DETACH_IT_TOKEN } }
resources: { requests: { cpu: 10m, memory: 16Mi } }
probes:
  readiness: { path: /healthz, periodSeconds: 1 }
metrics: { path: /metrics }
terminationGracePeriodSeconds: 2
routes: [{ hostnames: [${host}], gateway: gantry-system/gantry }]
release:
  strategy: canary
  ${release}
  analysis: { interval: 2s, minStepDuration: 4s, maxStepDuration: 20s, latency: { slowThreshold: 100ms } }
`,
  );
  return file;
}

interface Cli {
  child: ChildProcess;
  out: { stdout: string; stderr: string };
  result: Promise<{ status: number | null; signal: string | null; stdout: string; stderr: string }>;
}

/** gantry as a child process (this process keeps the load running meanwhile), at most 240 s. */
function gantry(args: string[]): Cli {
  const child = spawn(process.execPath, [gantryBin, ...args], {
    env: { ...process.env, ...env, DETACH_IT_TOKEN: TOKEN },
  });
  const out = { stdout: '', stderr: '' };
  child.stdout?.on('data', (d: Buffer) => (out.stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out.stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
  return {
    child,
    out,
    result: new Promise((resolve) =>
      child.on('exit', (status, signal) => {
        clearTimeout(timer);
        resolve({ status, signal, ...out });
      }),
    ),
  };
}

interface StoredState {
  phase: string;
  stepIndex: number;
  startedAt: string;
  traffic: string;
  driver?: { deployment: string };
  message?: string;
  finishedAt?: string;
}

/** The release state as stored in the cluster (the Secret the driver writes), not through the CLI. */
function storedState(): StoredState | undefined {
  const r = run(
    'kubectl',
    ['-n', ns, 'get', 'secret', 'gantry.rollout.echo', '-o', 'jsonpath={.data.state}'],
    env,
  );
  if (r.status !== 0 || !r.stdout) return undefined;
  return JSON.parse(gunzipSync(Buffer.from(r.stdout, 'base64')).toString('utf8')) as StoredState;
}

function leaseHolder(): string {
  const r = run(
    'kubectl',
    ['-n', ns, 'get', 'lease', 'gantry-lock-echo.release', '-o', 'jsonpath={.spec.holderIdentity}'],
    env,
  );
  return r.status === 0 ? r.stdout.trim() : '';
}

interface DriverPod {
  name: string;
  running: boolean;
  deleting: boolean;
}

function driverPods(): DriverPod[] {
  const out = kubectl(env, ['-n', ns, 'get', 'pods', '-l', SELECTOR, '-o', 'json']);
  const list = JSON.parse(out) as {
    items: {
      metadata: { name: string; deletionTimestamp?: string };
      status: { phase?: string };
    }[];
  };
  return list.items.map((p) => ({
    name: p.metadata.name,
    running: p.status.phase === 'Running',
    deleting: p.metadata.deletionTimestamp !== undefined,
  }));
}

/** Every driver object of the service that exists (by label and by name). */
function driverObjects(): string[] {
  const r = run(
    'kubectl',
    [
      '-n',
      ns,
      'get',
      'deployments,replicasets,pods,secrets,roles,rolebindings,serviceaccounts',
      '-l',
      SELECTOR,
      '-o',
      'name',
    ],
    env,
  );
  return r.stdout.split('\n').filter(Boolean);
}

function echoLoad(maxMs: number): Load {
  return new Load({ url: `${GATEWAY}/`, host, rps: 60, maxDurationMs: maxMs }).start();
}

before(
  async () => {
    if (skip) return;
    const t0 = Date.now();
    image = pushEchoImage(env, 'gantry-it/detach-echo', '1');
    process.stdout.write(`detach: echo image pushed in ${Date.now() - t0} ms\n`);
    const first = await gantry(['deploy', '-f', writeSpec('v1', 'steps: [{ weight: 50 }]')]).result;
    assert.equal(first.status, 0, first.stderr + first.stdout);
    await eventually('the gateway to route to echo', 30_000, async () =>
      (await once(`${GATEWAY}/`, { host })).status === 200 ? true : undefined,
    );
  },
  { timeout: 120_000 },
);

after(() => {
  if (!skip) run('kubectl', ['delete', 'namespace', ns, '--wait=false'], env);
  rmSync(work, { recursive: true, force: true });
});

test(
  'a detached canary promotes with no CLI running; a follower killed or interrupted changes nothing',
  { skip, timeout: 150_000 },
  async () => {
    const load = echoLoad(120_000);
    const file = writeSpec('v2', 'steps: [{ weight: 50 }]');
    const started = Date.now();
    const r = await gantry([
      'release',
      'start',
      '-f',
      file,
      '--image',
      image,
      '--detach',
      '-o',
      'json',
    ]).result;
    const returnedMs = Date.now() - started;
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const handed = JSON.parse(r.stdout) as {
      handoverMs: number;
      alreadyDriven: boolean;
      driver: { deployment: string; holder: string };
    };
    assert.equal(handed.alreadyDriven, false);
    assert.equal(handed.driver.deployment, DRIVER);
    assert.match(handed.driver.holder, new RegExp(`^gantry release driver in pod ${DRIVER}-`));
    process.stdout.write(
      `detach: the driver held the lease ${handed.handoverMs} ms after the start (command returned after ${returnedMs} ms)\n`,
    );
    // The CLI is gone; a driver pod holds the lease.
    assert.equal(leaseHolder(), handed.driver.holder);

    // A follower killed mid-watch, then one stopped with Ctrl-C: neither changes the release.
    const killed = gantry(['release', 'status', '-f', file, '--watch']);
    await eventually('the follower to print a step', 60_000, () =>
      /step 1\/1: 50%/.test(killed.out.stderr) ? true : undefined,
    );
    killed.child.kill('SIGKILL');
    await killed.result;
    const interrupted = gantry(['release', 'status', '-f', file, '--watch']);
    await eventually('the second follower to start', 30_000, () =>
      /following the release/.test(interrupted.out.stderr) ? true : undefined,
    );
    interrupted.child.kill('SIGINT');
    const stopped = await interrupted.result;
    assert.equal(stopped.status, 0, stopped.stderr);
    assert.match(stopped.stderr, /stopped following; the release goes on/);

    // No CLI runs now: the stored state alone shows the release end.
    const end = await eventually(
      'the detached release to end',
      100_000,
      () => {
        const s = storedState();
        return s && ['promoted', 'aborted', 'failed'].includes(s.phase) ? s : undefined;
      },
      1000,
    );
    await load.stop();
    assert.equal(end.phase, 'promoted', JSON.stringify(end));
    process.stdout.write(
      `detach: the release ran ${((Date.parse(end.finishedAt ?? '') - Date.parse(end.startedAt)) / 1000).toFixed(1)} s in the cluster\n`,
    );
    // The gateway takes the route back to stable within a couple of seconds.
    await eventually('the gateway to answer from the promoted version', 20_000, async () =>
      (await once(`${GATEWAY}/`, { host })).status === 200 ? true : undefined,
    );
    await eventually('the driver to remove itself', 60_000, () =>
      driverObjects().length === 0 ? true : undefined,
    );
    for (const o of [r, killed.out, stopped]) {
      assert.ok(!`${o.stdout}${o.stderr}`.includes(TOKEN), 'the secret value never shows');
    }
  },
);

test(
  'a deleted driver pod is taken over from the stored state, one lease holder at a time; a second --detach start is refused',
  { skip, timeout: 180_000 },
  async () => {
    const load = echoLoad(150_000);
    const file = writeSpec('v3', 'steps: [{ weight: 50, gate: manual }]');
    const r = await gantry(['release', 'start', '-f', file, '--image', image, '--detach']).result;
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /handed to the driver in the cluster after/);
    assert.match(r.stdout, /gantry release status -f .* --watch/);
    const gate = await eventually(
      'the release to wait at its manual gate',
      90_000,
      () => {
        const s = storedState();
        return s?.phase === 'paused' ? s : undefined;
      },
      1000,
    );

    // A second detached start of the same service, with another version: refused, with why.
    const second = await gantry([
      'release',
      'start',
      '-f',
      writeSpec('v4', 'steps: [{ weight: 50 }]'),
      '--image',
      image,
      '--detach',
    ]).result;
    assert.equal(second.status, 5, second.stdout + second.stderr);
    assert.match(
      second.stderr,
      /another release of echo \(.*\) is in progress \(paused, step 1\/1\), driven by gantry release driver in pod gantry-driver-echo-/,
    );
    // The driver is not one of the services Gantry deploys: the fleet view leaves it out.
    const fleet = await gantry(['-o', 'json', 'status', '--all-namespaces']).result;
    const listed = (JSON.parse(fleet.stdout) as { services: { service: string }[] }).services;
    assert.ok(
      listed.some((x) => x.service === 'echo'),
      fleet.stdout,
    );
    assert.ok(!listed.some((x) => x.service.startsWith('gantry-driver-')), fleet.stdout);

    // Delete the driver pod; sample the lease holder and the driver pods until another pod holds it.
    const holder = leaseHolder();
    const [pod] = driverPods().filter((p) => p.running && !p.deleting);
    assert.ok(pod && holder.endsWith(pod.name), `${holder} / ${JSON.stringify(driverPods())}`);
    const samples: { t: number; holder: string; pods: DriverPod[] }[] = [];
    // The old pod's log to its end (the pod and its log go once it has stopped).
    const oldLog = spawn('kubectl', ['-n', ns, 'logs', '-f', pod.name], {
      env: { ...process.env, ...env },
    });
    let oldLines = '';
    oldLog.stdout.on('data', (d: Buffer) => (oldLines += d.toString()));
    const oldLogDone = new Promise((resolve) => oldLog.on('exit', resolve));
    await sleep(500);
    const deleted = Date.now();
    kubectl(env, ['-n', ns, 'delete', 'pod', pod.name, '--wait=false']);
    let takenOver = 0;
    for (let i = 0; i < 600 && Date.now() - deleted < 90_000; i++) {
      const s = { t: Date.now(), holder: leaseHolder(), pods: driverPods() };
      samples.push(s);
      if (s.holder && s.holder !== holder) {
        takenOver = s.t;
        break;
      }
      await sleep(100);
    }
    assert.ok(takenOver, `no other driver took the lease: ${JSON.stringify(samples.slice(-3))}`);
    process.stdout.write(
      `detach: a new driver pod held the lease ${takenOver - deleted} ms after the old one was deleted\n`,
    );
    // Never two driver pods running that are not being deleted; the lease goes from the old
    // pod to the new one (perhaps through no holder), never back.
    for (const s of samples) {
      const live = s.pods.filter((p) => p.running && !p.deleting);
      assert.ok(live.length <= 1, JSON.stringify(s));
    }
    const newHolder = samples.at(-1)!.holder;
    assert.match(newHolder, new RegExp(`^gantry release driver in pod ${DRIVER}-`));
    assert.ok(!newHolder.endsWith(pod.name));
    const holders = [...new Set(samples.map((s) => s.holder).filter(Boolean))];
    assert.ok(
      holders.every((h) => h === holder || h === newHolder),
      holders.join(', '),
    );
    // The new driver took the lease only after the old one gave it back (their logs' times).
    await Promise.race([oldLogDone, sleep(30_000)]);
    oldLog.kill();
    const newPod = newHolder.slice(newHolder.lastIndexOf(' ') + 1);
    // Its status may lag behind the container (the kubelet reports it within seconds).
    const newLines = await eventually('the new driver pod log', 30_000, () => {
      const l = run('kubectl', ['-n', ns, 'logs', newPod], env);
      return l.status === 0 && /holds the release lease/.test(l.stdout) ? l.stdout : undefined;
    });
    const at = (log: string, re: RegExp) => {
      const line = log.split('\n').find((l) => re.test(l));
      return line ? Date.parse(line.slice(0, line.indexOf(' '))) : NaN;
    };
    const released = at(oldLines, /released the release lease/);
    const held = at(newLines, /holds the release lease/);
    assert.ok(
      Number.isFinite(released) && Number.isFinite(held) && held >= released,
      `old driver:\n${oldLines}\nnew driver:\n${newLines}`,
    );
    // Taken over from the stored state: the same release, where it was.
    const after = storedState();
    assert.equal(after?.startedAt, gate.startedAt);
    assert.equal(after?.phase, 'paused');
    assert.equal(after?.stepIndex, gate.stepIndex);

    // The new driver obeys a resume through the stored state, and the release completes.
    const resumed = await gantry(['release', 'resume', '-f', file]).result;
    assert.equal(resumed.status, 0, resumed.stdout + resumed.stderr);
    assert.match(resumed.stderr, /asked the gantry driving this release to resume/);
    const end = await eventually(
      'the release to end',
      90_000,
      () => {
        const s = storedState();
        return s && ['promoted', 'aborted', 'failed'].includes(s.phase) ? s : undefined;
      },
      1000,
    );
    await load.stop();
    assert.equal(end.phase, 'promoted', JSON.stringify(end));
    await eventually(
      'no driver object, Secret or Role, and no lease holder, to be left',
      60_000,
      () => (driverObjects().length === 0 && leaseHolder() === '' ? true : undefined),
    );
    assert.equal(
      run('kubectl', ['-n', ns, 'get', 'role', DRIVER], env).status,
      1,
      'the Role is gone',
    );
    for (const o of [r, second, resumed]) {
      assert.ok(!`${o.stdout}${o.stderr}`.includes(TOKEN), 'the secret value never shows');
    }
  },
);

test("the driver's objects: a Role in the service's namespace, by name wherever Kubernetes allows; values only in its Secret", () => {
  const spec = parseSpec(`apiVersion: gantry.dev/v1alpha1
name: shop
namespace: web
image: registry.local/shop:1
secrets: { TOKEN: { fromEnv: TOKEN } }
routes: [{ hostnames: [shop.local], gateway: gw }]
release: { strategy: canary }
`);
  const input = {
    spec,
    image: 'registry.local/shop:2',
    values: { secretValues: { TOKEN: 'value-of-the-token' }, webhooks: [] },
    driverImage: 'registry.local/gantry/gantry@sha256:00',
    prometheusUrl: 'http://prometheus.monitoring.svc:9090',
    rolloutTimeoutMs: 300_000,
    actor: 'me@laptop',
    history: [],
  };
  const objects = [...renderDriverAccess(input), renderDriverDeployment(input, 1)];
  assert.deepEqual(
    objects.map((o) => `${o.kind} ${o.metadata.namespace}/${o.metadata.name}`),
    ['ServiceAccount', 'Role', 'RoleBinding', 'Secret', 'Deployment'].map(
      (k) => `${k} web/${driverName('shop')}`,
    ),
  );
  const role = objects.find((o) => o.kind === 'Role') as unknown as {
    rules: {
      apiGroups: string[];
      resources: string[];
      verbs: string[];
      resourceNames?: string[];
    }[];
  };
  const unnamed = role.rules
    .filter((r) => !r.resourceNames)
    .map((r) => `${r.resources.join()}:${r.verbs.join()}`)
    .sort();
  assert.deepEqual(unnamed, [
    'events:list',
    'leases:create',
    'pods/log:get',
    'pods:list,watch',
    'replicasets:get',
    'secrets:list',
  ]);
  for (const r of role.rules) {
    assert.ok(!r.verbs.includes('*') && !r.resources.includes('*'), JSON.stringify(r));
  }
  const named = (resource: string) =>
    role.rules.filter((r) => r.resources.includes(resource)).flatMap((r) => r.resourceNames ?? []);
  assert.deepEqual(
    new Set(named('deployments')),
    new Set(['shop', 'shop-canary', driverName('shop')]),
  );
  assert.ok(
    named('secrets').includes('shop-secrets') && named('secrets').includes('gantry.rollout.shop'),
  );
  assert.ok(named('httproutes').length > 0);
  // The secret value is in the driver's Secret only (base64), never in the Deployment or Role.
  const plain = JSON.stringify(objects.filter((o) => o.kind !== 'Secret'));
  assert.ok(!plain.includes('value-of-the-token'));
  assert.ok(!plain.includes(Buffer.from('value-of-the-token').toString('base64')));
});
