// The per-service lease lock on the real local cluster: refusal while held, takeover after
// expiry, and a release that removes only the lease its holder last wrote.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { V1Lease } from '@kubernetes/client-node';
import { Kube } from '../../src/kube/client.js';
import type { KubeObject } from '../../src/render/index.js';
import { spawn } from 'node:child_process';
import { LockedError, acquireLock, acquireLockWaiting } from '../../src/release/lock.js';
import { requireCluster } from '../../../../hack/cluster/test/cluster-env.js';
import type { ClusterEnv } from '../../../../hack/cluster/test/cluster-env.js';

const cluster = requireCluster();
const skip = typeof cluster === 'string' ? cluster : false;
const ns = `gantry-lock-${Date.now().toString(36)}`;
let kube: Kube;
// Lease times are MicroTime: six fractional digits.
const longAgo = new Date(Date.now() - 60_000)
  .toISOString()
  .replace(/\.(\d{3})Z$/, '.$1000Z') as unknown as Date;

const leaseOf = (service: string) =>
  kube.get<V1Lease>({
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name: `gantry-lock-${service}`, namespace: ns },
  });

before(async () => {
  if (typeof cluster === 'string') return;
  kube = Kube.load({ kubeconfig: cluster.KUBECONFIG });
  await kube.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
});

after(async () => {
  if (typeof cluster === 'string') return;
  await kube.delete({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
});

test('a held lock refuses a second holder; release frees it', { skip }, async () => {
  const a = await acquireLock(kube, ns, 'svc-a', 'holder-a');
  await assert.rejects(acquireLock(kube, ns, 'svc-a', 'holder-b'), (err: unknown) => {
    assert.ok(err instanceof LockedError);
    assert.equal(err.holder, 'holder-a');
    assert.match(err.message, /^locked by holder-a since \d{4}-\d\d-\d\dT/);
    return true;
  });
  await a.release();
  assert.equal(await leaseOf('svc-a'), undefined, 'the lease is gone after release');
  const b = await acquireLock(kube, ns, 'svc-a', 'holder-b');
  assert.equal(b.tookOverFrom, undefined);
  await b.release();
});

test('an expired lock is taken over, and the old holder cannot release it', { skip }, async () => {
  const a = await acquireLock(kube, ns, 'svc-b', 'holder-a', 2);
  // holder-a stalls past its 2 s lease (its renewals every second still run, so stop them
  // the way a stalled process would: the lease is rewritten to look expired).
  const lease = await leaseOf('svc-b');
  assert.ok(lease?.spec);
  lease.spec.renewTime = longAgo;
  await kube.replace(lease as unknown as KubeObject).catch(async () => {
    // a renewal raced us: retry once on the fresh object
    const fresh = await leaseOf('svc-b');
    assert.ok(fresh?.spec);
    fresh.spec.renewTime = longAgo;
    await kube.replace(fresh as unknown as KubeObject);
  });
  const b = await acquireLock(kube, ns, 'svc-b', 'holder-b', 30);
  assert.equal(b.tookOverFrom, 'holder-a');
  // holder-a's next renewal fails on the changed lease: it learns it lost the lock.
  for (let i = 0; i < 40 && !a.lost.aborted; i++) await sleep(100);
  assert.ok(a.lost.aborted, 'the old holder is told it lost the lock');
  await a.release();
  const after = await leaseOf('svc-b');
  assert.equal(after?.spec?.holderIdentity, 'holder-b', "the new holder's lease survives");
  await b.release();
  assert.equal(await leaseOf('svc-b'), undefined);
});

test(
  'a lock whose holder process is gone from this machine is taken over at once',
  { skip },
  async () => {
    // A real gantry process takes the lock, then is killed (SIGKILL: no release, no cleanup).
    const script = `
    import { Kube } from ${JSON.stringify(new URL('../../src/kube/client.ts', import.meta.url).href)};
    import { acquireLock } from ${JSON.stringify(new URL('../../src/release/lock.ts', import.meta.url).href)};
    const kube = Kube.load({ kubeconfig: process.env.KUBECONFIG });
    await acquireLock(kube, ${JSON.stringify(ns)}, 'svc-c', 'killed-holder', 60);
    console.log('held');
    setInterval(() => undefined, 1000);
  `;
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      {
        env: { ...process.env, KUBECONFIG: (cluster as ClusterEnv).KUBECONFIG },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const held = await new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), 30_000);
      child.stdout.on('data', (d: Buffer) => {
        if (String(d).includes('held')) {
          clearTimeout(t);
          resolve(true);
        }
      });
    });
    assert.ok(held, 'the child took the lock');
    // While it runs, it is a live holder: refused, with the lease's expiry named.
    await assert.rejects(acquireLock(kube, ns, 'svc-c', 'holder-d'), (err: unknown) => {
      assert.ok(err instanceof LockedError);
      assert.match(err.message, /the lease expires at \d{4}-.*--wait/);
      return true;
    });
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const t0 = Date.now();
    const d = await acquireLock(kube, ns, 'svc-c', 'holder-d');
    assert.ok(Date.now() - t0 < 5000, 'taken over without waiting for the 60 s lease');
    assert.equal(d.tookOverFrom, 'killed-holder');
    assert.equal(d.tookOverBecause, 'holder-gone');
    await d.release();
  },
);

test('a lease written elsewhere is never taken before it expires', { skip }, async () => {
  const a = await acquireLock(kube, ns, 'svc-e', 'holder-a', 30);
  // The same lease as another machine would have written it: a different boot id.
  const lease = await leaseOf('svc-e');
  assert.ok(lease?.metadata?.annotations);
  lease.metadata.annotations['gantry.dev/holder-boot-id'] = 'another-machine';
  lease.metadata.annotations['gantry.dev/holder-pid'] = '999999';
  await kube.replace(lease as unknown as KubeObject);
  await assert.rejects(acquireLock(kube, ns, 'svc-e', 'holder-b'), LockedError);
  await a.release();
});

test('--wait: a waiting holder gets the lock when its holder releases it', { skip }, async () => {
  const a = await acquireLock(kube, ns, 'svc-f', 'holder-a');
  const waited: string[] = [];
  const t0 = Date.now();
  setTimeout(() => void a.release(), 1500);
  const b = await acquireLockWaiting(kube, ns, 'svc-f', {
    holder: 'holder-b',
    waitMs: 20_000,
    pollMs: 250,
    onWait: (e) => waited.push(e.holder),
  });
  const took = Date.now() - t0;
  assert.deepEqual(waited, ['holder-a'], 'told once whom it waits for');
  assert.ok(took >= 1400 && took < 5000, `got the lock ${took} ms after asking`);
  assert.equal(b.tookOverFrom, undefined, 'a released lock, not a takeover');
  await b.release();
  // And a wait that runs out ends with the refusal.
  const c = await acquireLock(kube, ns, 'svc-f', 'holder-c');
  await assert.rejects(
    acquireLockWaiting(kube, ns, 'svc-f', { holder: 'holder-d', waitMs: 600, pollMs: 200 }),
    LockedError,
  );
  await c.release();
});
