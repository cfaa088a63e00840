// Kubernetes-level fixes against a recording stand-in for the Kube client (no cluster):
// patches go out as patches with the object's uid (gone and replaced objects told
// apart), node-drain evicts through the Eviction API and a PodDisruptionBudget's 429
// fails the drain with the budget's words after its retries (the node uncordoned, no
// pod deleted), and the helper's pod-reader Role/RoleBinding goes when the last fault
// needing it in its namespace ended (and comes back when one started meanwhile).
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Kube, ObjectRef } from '../../src/kube/client.js';
import { KubeApiError } from '../../src/kube/client.js';
import { RECORD_KEY } from '../../src/chaos/agent/record.js';
import type { FaultContext, ResolvedTarget } from '../../src/chaos/fault.js';
import { faultByKind } from '../../src/chaos/faults/index.js';
import {
  FALLBACK_PAUSE_IMAGE,
  localInjectK8sFault,
  patchObject,
  useK8sInjector,
} from '../../src/chaos/faults/k8s.js';
import {
  HELPER_LABEL,
  RECORD_LABEL,
  SERVICE_ACCOUNT,
  ensurePodReader,
  helperPod,
  helperPodName,
  releasePodReader,
  sweepPodReaders,
} from '../../src/chaos/helper/resources.js';
import type { UndoRecord } from '../../src/chaos/undo.js';
import { CHAOS_NAMESPACE } from '../../src/chaos/undo.js';
import { parseSpec } from '../../src/spec/load.js';

type Obj = Record<string, unknown> & {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; uid?: string };
};

/** Objects by kind/namespace/name; every call recorded. */
class FakeKube {
  objects = new Map<string, Obj>();
  calls: string[] = [];
  patches: { ref: string; patch: unknown; type?: string; uid?: string }[] = [];
  /** Answers evict(): 'evicted', or a status to throw. */
  evictAnswer: 'evicted' | number = 'evicted';
  /** Called after each list (a concurrent writer). */
  afterList?: () => void;

  static key(r: ObjectRef) {
    return `${r.kind}/${r.metadata.namespace ?? ''}/${r.metadata.name}`;
  }

  put(o: Obj) {
    this.objects.set(FakeKube.key(o), o);
  }

  get(ref: ObjectRef) {
    this.calls.push(`get ${FakeKube.key(ref)}`);
    return Promise.resolve(this.objects.get(FakeKube.key(ref)));
  }

  patch(ref: ObjectRef, patch: Record<string, unknown>, opts: { type?: string; uid?: string }) {
    const k = FakeKube.key(ref);
    this.calls.push(`patch ${k}`);
    this.patches.push({ ref: k, patch, ...opts });
    const o = this.objects.get(k);
    if (!o) return Promise.resolve(undefined);
    if (opts.uid && o.metadata.uid !== opts.uid)
      return Promise.reject(
        new KubeApiError(422, `${k} is invalid: metadata.uid: Invalid value: field is immutable`),
      );
    return Promise.resolve(o);
  }

  apply(o: Obj) {
    this.calls.push(`apply ${FakeKube.key(o)}`);
    this.put(o);
    return Promise.resolve(o);
  }

  delete(ref: ObjectRef) {
    const k = FakeKube.key(ref);
    this.calls.push(`delete ${k}`);
    return Promise.resolve(this.objects.delete(k));
  }

  list(
    _apiVersion: string,
    kind: string,
    namespace: string | undefined,
    sel: { fieldSelector?: string } = {},
  ) {
    const name = /^metadata\.name=(.*)$/.exec(sel.fieldSelector ?? '')?.[1];
    const items = [...this.objects.values()].filter(
      (o) =>
        o.kind === kind &&
        (namespace === undefined || o.metadata.namespace === namespace) &&
        (name === undefined || o.metadata.name === name),
    );
    this.afterList?.();
    return Promise.resolve(items);
  }

  evict(namespace: string, name: string) {
    this.calls.push(`evict ${namespace}/${name}`);
    if (this.evictAnswer === 'evicted') return Promise.resolve('evicted' as const);
    return Promise.reject(
      new KubeApiError(
        this.evictAnswer,
        `evict Pod ${namespace}/${name}: Cannot evict pod as it would violate the pod's disruption budget. The disruption budget web needs 1 healthy pods and has 1 currently`,
      ),
    );
  }

  asKube() {
    return this as unknown as Kube;
  }
}

const node = (unschedulable = false): Obj => ({
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name: 'n1', uid: 'node-uid' },
  spec: unschedulable ? { unschedulable: true } : {},
});

function ctxOf(kube: FakeKube, events: string[] = []): FaultContext {
  return {
    kube: kube.asKube(),
    spec: parseSpec('apiVersion: gantry.dev/v1alpha1\nname: web\nnamespace: shop\nimage: x:1\n'),
    experiment: 'unit',
    emit: (m) => events.push(m),
  };
}

const target: ResolvedTarget = {
  namespace: 'shop',
  service: 'web',
  node: 'n1',
  pods: [{ name: 'web-1', uid: 'pod-uid', node: 'n1', container: 'web' }],
};

afterEach(() => useK8sInjector(undefined));

test('patchObject: one patch with the uid; gone and replaced objects are not touched', async () => {
  const kube = new FakeKube();
  kube.put({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'web', namespace: 'shop', uid: 'u1' },
  });
  const u = {
    apiVersion: 'v1',
    kind: 'Service',
    namespace: 'shop',
    name: 'web',
    patchType: 'merge' as const,
    uid: 'u1',
  };
  assert.equal(await patchObject(kube.asKube(), u, { spec: { selector: { a: null } } }), 'patched');
  assert.deepEqual(kube.patches[0], {
    ref: 'Service/shop/web',
    patch: { spec: { selector: { a: null } } },
    type: 'merge',
    uid: 'u1',
  });
  assert.equal(await patchObject(kube.asKube(), { ...u, uid: 'other' }, {}), 'replaced');
  assert.equal(await patchObject(kube.asKube(), { ...u, name: 'gone' }, {}), 'gone');
  assert.ok(!kube.calls.some((c) => c.startsWith('get')), 'no read-modify-write');
});

test('a patching fault whose object was replaced meanwhile fails, naming it', async () => {
  useK8sInjector(localInjectK8sFault);
  const kube = new FakeKube();
  kube.put({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'web', namespace: 'shop', uid: 'u1' },
    spec: { selector: { app: 'web' } },
  });
  const d = faultByKind('service-down')!;
  const orig = kube.patch.bind(kube);
  // The Service is replaced between the read and the patch.
  kube.patch = (ref, patch, opts) => orig(ref, patch, { ...opts, uid: `${opts.uid}-old` });
  await assert.rejects(
    d.inject(ctxOf(kube), { mode: 'no-endpoints' }, target, 60_000),
    /Service shop\/web is replaced/,
  );
});

test("pod-failure: the node's pause image, else a well-known one where the node lists none", async () => {
  useK8sInjector(localInjectK8sFault);
  const imageOf = async (images: { names: string[] }[]) => {
    const kube = new FakeKube();
    kube.put({ ...node(), status: { images } });
    kube.put({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'web-1', namespace: 'shop', uid: 'pod-uid' },
      spec: { containers: [{ name: 'web', image: 'x:1' }] },
    });
    const d = faultByKind('pod-failure')!;
    assert.deepEqual(await d.preflight(ctxOf(kube), {}, target), []);
    const fault = await d.inject(ctxOf(kube), {}, target, 60_000);
    const sent = kube.patches[0]!.patch as { spec: { containers: { image: string }[] } };
    await fault.revert();
    assert.deepEqual(kube.patches.at(-1)!.patch, {
      spec: { containers: [{ name: 'web', image: 'x:1' }] },
    });
    return sent.spec.containers[0]!.image;
  };
  const own = 'registry.local:5000/gantry/pause:3.10-gantry';
  assert.equal(
    await imageOf([{ names: ['big/app:1'] }, { names: [`${own}@sha256:ab`, own] }]),
    own,
  );
  // A busy node: the kubelet's 50 largest images, none of them the pause image.
  assert.equal(await imageOf([{ names: ['big/app:1'] }]), FALLBACK_PAUSE_IMAGE);
});

test('node-drain evicts (a PodDisruptionBudget respected), never deletes; uncordoned at the end', async () => {
  useK8sInjector(localInjectK8sFault);
  const kube = new FakeKube();
  kube.put(node());
  const d = faultByKind('node-drain')!;
  const fault = await d.inject(ctxOf(kube), { 'allow-single-node': true }, target, 60_000);
  assert.deepEqual(
    kube.calls.filter((c) => !c.startsWith('get')),
    ['patch Node//n1', 'evict shop/web-1'],
  );
  assert.deepEqual(kube.patches[0]!.patch, { spec: { unschedulable: true } });
  await fault.revert();
  assert.deepEqual(kube.patches.at(-1)!.patch, { spec: { unschedulable: null } });
  assert.ok(!kube.calls.some((c) => c.startsWith('delete')));
});

test('node-drain refused by a PodDisruptionBudget (429): retried, then a clear error; node uncordoned', async () => {
  useK8sInjector(localInjectK8sFault);
  const kube = new FakeKube();
  kube.put(node());
  kube.evictAnswer = 429;
  const events: string[] = [];
  const d = faultByKind('node-drain')!;
  const t0 = Date.now();
  await assert.rejects(
    d.inject(
      ctxOf(kube, events),
      { 'allow-single-node': true, 'eviction-timeout': 1500 },
      target,
      60_000,
    ),
    (err: Error) => {
      assert.match(err.message, /PodDisruptionBudget refuses the eviction of shop\/web-1/);
      assert.match(err.message, /HTTP 429/);
      assert.match(err.message, /disruption budget web needs 1 healthy pods/);
      assert.match(err.message, /the node is uncordoned/);
      return true;
    },
  );
  assert.ok(Date.now() - t0 >= 900, 'retried before giving up');
  assert.ok(kube.calls.filter((c) => c === 'evict shop/web-1').length >= 2);
  assert.ok(!kube.calls.some((c) => c.startsWith('delete')), 'no pod deleted');
  assert.deepEqual(kube.patches.at(-1)!.patch, { spec: { unschedulable: null } }, 'uncordoned');
  assert.match(events.join('\n'), /refused by a PodDisruptionBudget, retrying/);
});

function recordCm(rec: Partial<UndoRecord> & { id: string; namespace: string }): Obj {
  const full: UndoRecord = {
    kind: 'cpu-hog',
    experiment: 'unit',
    service: 'web',
    createdAt: new Date().toISOString(),
    expiresAt: new Date().toISOString(),
    state: 'injected',
    k8s: [],
    node: { name: 'n1', ops: [{ op: 'cpu-hog', podUid: 'p', container: 'web', args: {} }] },
    ...rec,
  };
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: rec.id, namespace: CHAOS_NAMESPACE },
    data: { [RECORD_KEY]: JSON.stringify(full), state: full.state },
  };
}

const readerKeys = (kube: FakeKube, ns: string) =>
  ['Role', 'RoleBinding'].filter((k) => kube.objects.has(`${k}/${ns}/${SERVICE_ACCOUNT}`));

test('the pod reader goes with the last fault that needs it in its namespace', async () => {
  const kube = new FakeKube();
  await ensurePodReader(kube.asKube(), 'shop');
  await ensurePodReader(kube.asKube(), 'other');
  // The chaos namespace's own Role of the same name is never touched.
  kube.put({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: { name: SERVICE_ACCOUNT, namespace: CHAOS_NAMESPACE },
  });
  kube.put(recordCm({ id: 'cpu-1', namespace: 'shop' }));
  // A record of a network fault (no container op) does not need it.
  kube.put(
    recordCm({
      id: 'net-1',
      namespace: 'other',
      node: { name: 'n1', ops: [{ op: 'iptables-chain', podUid: 'p', args: {} }] },
    }),
  );
  assert.equal(await releasePodReader(kube.asKube(), 'shop'), false, 'cpu-1 still needs it');
  assert.deepEqual(readerKeys(kube, 'shop'), ['Role', 'RoleBinding']);
  kube.objects.delete(`ConfigMap/${CHAOS_NAMESPACE}/cpu-1`);
  assert.equal(await releasePodReader(kube.asKube(), 'shop'), true);
  assert.deepEqual(readerKeys(kube, 'shop'), []);
  // recover's sweep: every namespace no record needs it in.
  assert.deepEqual(await sweepPodReaders(kube.asKube()), ['other']);
  assert.deepEqual(readerKeys(kube, 'other'), []);
  assert.ok(kube.objects.has(`Role/${CHAOS_NAMESPACE}/${SERVICE_ACCOUNT}`));
});

test('a fault starting while the reader is removed gets it back', async () => {
  const kube = new FakeKube();
  await ensurePodReader(kube.asKube(), 'shop');
  let lists = 0;
  // The new fault's record lands between the first read of the records and the removal.
  kube.afterList = () => {
    if (++lists === 1) kube.put(recordCm({ id: 'mem-2', namespace: 'shop' }));
  };
  assert.equal(await releasePodReader(kube.asKube(), 'shop'), false);
  assert.deepEqual(readerKeys(kube, 'shop'), ['Role', 'RoleBinding'], 'applied again');
});

test('a standby helper: a node helper without a record, waiting under its own name', () => {
  const p = helperPod({
    id: 'abcd1234',
    mode: 'standby',
    image: 'reg/helper@sha256:x',
    experiment: 'standby',
    node: 'n1',
    durationMs: 0,
  });
  assert.equal(p.metadata.name, 'gantry-chaos-sb-abcd1234');
  assert.equal(p.metadata.labels[HELPER_LABEL], 'standby');
  assert.ok(!(RECORD_LABEL in p.metadata.labels), 'no record until a fault claims it');
  assert.deepEqual(p.spec.containers[0]!.args, ['standby', 'gantry-chaos-sb-abcd1234']);
  assert.equal(p.spec.hostPID, true);
  assert.ok(p.spec.activeDeadlineSeconds >= 3600, 'a claim lowers it to the fault’s');
  assert.equal(helperPodName('x', 'node'), 'gantry-chaos-x');
});
