// The per-service lease lock on the real local cluster: refusal while held, takeover after
// expiry, and a release that removes only the lease its holder last wrote.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { V1Lease } from '@kubernetes/client-node';
import { Kube } from '../../src/kube/client.js';
import type { KubeObject } from '../../src/render/index.js';
import { LockedError, acquireLock } from '../../src/release/lock.js';
import { requireCluster } from '../../../../hack/cluster/test/cluster-env.js';

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
