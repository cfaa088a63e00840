// gantry deploy / rollback / history on the real local cluster.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { eventually, kubectl } from '../../../../hack/cluster/test/cluster-env.js';
import type { ClusterEnv } from '../../../../hack/cluster/test/cluster-env.js';
import { clusterSuite } from '../../../../hack/cluster/test/suite.js';
import { gantryBin, runGantry } from '../gantry-cli.js';
import type { CliResult } from '../gantry-cli.js';

let env: ClusterEnv;
let work: string;
let image: string;
const suite = clusterSuite('gantry-it', {
  echoTags: ['1'],
  setup: (s) => void ({ env, work, image } = s),
});
const { skip, ns } = suite;

function gantry(args: string[], extraEnv: Record<string, string> = {}): CliResult {
  return runGantry(args, { ...env, ECHO_TOKEN: 's3cret-token', ...extraEnv });
}

function writeSpec(
  name: string,
  fields: { image?: string; greeting?: string; readyDelay?: number },
) {
  const file = join(work, `${name}.yaml`);
  writeFileSync(
    file,
    `apiVersion: gantry.dev/v1alpha1
name: ${name}
namespace: ${ns}
image: ${fields.image ?? image}
replicas: 2
env: { NAME: ${name} }
config: { GREETING: ${fields.greeting ?? 'hello'} }
secrets: { TOKEN: { fromEnv: ECHO_TOKEN } }
probes:
  readiness: { path: /healthz, periodSeconds: 1, initialDelaySeconds: ${fields.readyDelay ?? 0} }
rollingUpdate: { maxSurge: 1, maxUnavailable: 0 }
terminationGracePeriodSeconds: 5
`,
  );
  return file;
}

interface Deployment {
  spec: {
    template: {
      metadata: { annotations: Record<string, string> };
      spec: { containers: { image: string }[] };
    };
  };
}
const liveDeployment = (name: string) =>
  JSON.parse(kubectl(env, ['-n', ns, 'get', 'deployment', name, '-o', 'json'])) as Deployment;

test(
  'deploy, config change, failed image with automatic return, rollback',
  { skip, timeout: 600_000 },
  () => {
    const spec = writeSpec('echo', {});
    const first = gantry(['deploy', '-f', spec, '-o', 'json']);
    assert.equal(first.status, 0, first.stderr + first.stdout);
    const r1 = JSON.parse(first.stdout) as { ok: boolean; revision: number };
    assert.deepEqual([r1.ok, r1.revision], [true, 1]);
    const rev1 = liveDeployment('echo');

    // A config change rolls the pods: a new config hash in the pod template.
    const changed = writeSpec('echo', { greeting: 'bonjour' });
    const second = gantry(['deploy', '-f', changed, '-o', 'json']);
    assert.equal(second.status, 0, second.stderr);
    const rev2 = liveDeployment('echo');
    const hash = (d: Deployment) => d.spec.template.metadata.annotations['gantry.dev/config-hash'];
    assert.notEqual(hash(rev2), hash(rev1));
    assert.equal(
      kubectl(env, [
        '-n',
        ns,
        'get',
        'configmap',
        'echo-config',
        '-o',
        'jsonpath={.data.GREETING}',
      ]),
      'bonjour',
    );

    // A bad image fails fast with the reason, and the service is back on revision 2.
    const bad = writeSpec('echo', {
      greeting: 'bonjour',
      image: `${env.GANTRY_REGISTRY}/gantry-it/missing:nope`,
    });
    const t0 = Date.now();
    const third = gantry(['deploy', '-f', bad, '--timeout', '3m']);
    const took = Date.now() - t0;
    assert.equal(third.status, 4, third.stdout + third.stderr);
    assert.match(third.stdout, /ErrImagePull|ImagePullBackOff/);
    assert.match(third.stdout, /back on revision 2/);
    assert.ok(
      took < 90_000,
      `a bad image should fail long before the 3 minute timeout (took ${took} ms)`,
    );
    assert.equal(liveDeployment('echo').spec.template.spec.containers[0]!.image, image);
    assert.equal(hash(liveDeployment('echo')), hash(rev2));

    // History records every attempt; secret values appear nowhere in it.
    const history = gantry(['history', '-f', changed, '-o', 'json']);
    assert.equal(history.status, 0, history.stderr);
    const records = (
      JSON.parse(history.stdout) as { revisions: { revision: number; status: string }[] }
    ).revisions;
    assert.deepEqual(
      records.map((r) => [r.revision, r.status]),
      [
        [3, 'failed'],
        [2, 'deployed'],
        [1, 'superseded'],
      ],
    );
    const stored = kubectl(env, [
      '-n',
      ns,
      'get',
      'secrets',
      '-l',
      'gantry.dev/release-of=echo',
      '-o',
      'json',
    ]);
    for (const blob of stored.match(/"release": "([^"]+)"/g) ?? []) {
      const b64 = blob.split('"')[3]!;
      const text = spawnSync('sh', ['-c', 'base64 -d | gunzip'], {
        input: b64,
        encoding: 'utf8',
      }).stdout;
      assert.doesNotMatch(text, /s3cret-token/);
      assert.doesNotMatch(text, new RegExp(Buffer.from('s3cret-token').toString('base64')));
    }

    // Rollback to revision 1 restores its objects exactly.
    const back = gantry(['rollback', '1', '-f', changed, '-o', 'json']);
    assert.equal(back.status, 0, back.stderr + back.stdout);
    const now = liveDeployment('echo');
    assert.deepEqual(now.spec.template, rev1.spec.template);
    assert.equal(
      kubectl(env, [
        '-n',
        ns,
        'get',
        'configmap',
        'echo-config',
        '-o',
        'jsonpath={.data.GREETING}',
      ]),
      'hello',
    );
    const status = gantry(['status', '-f', changed, '-o', 'json']);
    assert.equal(status.status, 0, status.stdout);
    assert.equal((JSON.parse(status.stdout) as { revision: number }).revision, 4);
  },
);

test(
  'a second concurrent deploy is refused with the lock holder',
  { skip, timeout: 300_000 },
  async () => {
    // The readiness delay keeps the first deploy (and its lock) busy for a while.
    const spec = writeSpec('locked', { readyDelay: 8 });
    const first = spawn(process.execPath, [gantryBin, 'deploy', '-f', spec], {
      env: { ...process.env, ...env, ECHO_TOKEN: 'x' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let firstErr = '';
    first.stderr.on('data', (d: Buffer) => (firstErr += d.toString()));
    const firstDone = new Promise<number | null>((resolve) => first.on('exit', resolve));
    await eventually(
      'the first deploy to hold the lock',
      60_000,
      () => (/waiting for the rollout|applying/.test(firstErr) ? true : undefined),
      100,
    );
    const second = gantry(['deploy', '-f', spec], { ECHO_TOKEN: 'x' });
    assert.equal(second.status, 5, second.stderr);
    assert.match(second.stderr, /locked by .+ since \d{4}-.*; the lease expires at \d{4}-.*--wait/);
    // --wait waits for the holder to finish instead.
    const third = gantry(['deploy', '-f', spec, '--wait=2m'], { ECHO_TOKEN: 'x' });
    assert.equal(third.status, 0, third.stderr);
    assert.match(third.stderr, /waiting for the lock: locked by/);
    assert.equal(await firstDone, 0, firstErr);
  },
);

test('a gantry killed mid-deploy leaves nothing stuck', { skip, timeout: 300_000 }, async () => {
  const spec = writeSpec('killed', {});
  const victim = spawn(process.execPath, [gantryBin, 'deploy', '-f', spec], {
    env: { ...process.env, ...env, ECHO_TOKEN: 'x' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  victim.stderr.on('data', (d: Buffer) => (err += d.toString()));
  await eventually(
    'the deploy to start applying',
    60_000,
    () => (/applied Deployment/.test(err) ? true : undefined),
    50,
  );
  victim.kill('SIGKILL');
  await new Promise((resolve) => victim.on('exit', resolve));
  await sleep(200);

  // The dead holder ran on this machine: the next command takes its lock over at once (no
  // waiting out the 15 s lease) and reconciles.
  const next = gantry(['deploy', '-f', spec], { ECHO_TOKEN: 'x' });
  assert.equal(next.status, 0, next.stderr + next.stdout);
  assert.match(
    next.stderr,
    /took over the lock held by .*: that process is gone from this machine/,
  );
  assert.match(next.stderr, /revision 1 was interrupted/);
  const history = (
    JSON.parse(gantry(['history', '-f', spec, '-o', 'json']).stdout) as {
      revisions: { revision: number; status: string }[];
    }
  ).revisions;
  assert.deepEqual(
    history.map((r) => [r.revision, r.status]),
    [
      [2, 'deployed'],
      [1, 'interrupted'],
    ],
  );
});
