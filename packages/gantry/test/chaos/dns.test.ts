// DNS faults through the helper on the local cluster (CoreDNS as kube-system/kube-dns):
// while a fault is on, the target pod's own lookup (the echo fixture's /lookup, Go's
// resolver reading the kubelet's /etc/resolv.conf) of a matching name fails the
// configured way — SERVFAIL, NXDOMAIN or a timeout — and a non-matching name still
// resolves through the real cluster DNS; afterwards the pod's network namespace (every
// iptables table, qdiscs, links) is identical to before and the name resolves again.
// A pod that does not use the cluster DNS is refused, by the CLI's preflight (its spec)
// and by the agent on the node (its resolv.conf), with nothing touched.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  eventually,
  kubectl,
  requireCluster,
  run,
} from '../../../../hack/cluster/test/cluster-env.js';
import type { ClusterEnv } from '../../../../hack/cluster/test/cluster-env.js';
import { decide, errorReply, parseQuestion, patternRegExp } from '../../src/chaos/agent/ops/dns.js';
import type { ActiveFault, ResolvedTarget } from '../../src/chaos/fault.js';
import { faultByKind } from '../../src/chaos/faults/index.js';
import { listRecords } from '../../src/chaos/undo-store.js';
import { createFixture, get, median, netState, target } from './chaos-fixture.js';
import type { Fixture } from './chaos-fixture.js';

const cluster = requireCluster();
const skip = typeof cluster === 'string' ? cluster : false;
const ns = `gantry-chaosdns-${Date.now().toString(36)}`;
let f: Fixture;
let dbIP = '';
let echoIP = '';
const injectMs: number[] = [];
const revertMs: number[] = [];

interface Lookup {
  addrs: string[];
  error?: string;
  notFound: boolean;
  timeout: boolean;
  temporary: boolean;
  ms: number;
}

/** The echo pod's own lookup of `host` (through the NodePort on 127.0.0.1). */
async function lookup(host: string, timeoutMs = 4000): Promise<Lookup> {
  const q = `/lookup?host=${encodeURIComponent(host)}&timeoutMs=${timeoutMs}`;
  const a = await get(f.nodePort, q, timeoutMs + 3000);
  assert.ok(a.status === 200 || a.status === 502, `${q}: ${a.status} ${a.error ?? a.body}`);
  return JSON.parse(a.body ?? '{}') as Lookup;
}

const dbName = () => `db.${ns}.svc.cluster.local.`;
const echoName = () => `echo.${ns}.svc.cluster.local.`;

/** A query as a stub resolver sends it: id, RD, one question, optionally an EDNS OPT record. */
function query(name: string, id = 0x1234, edns = false): Buffer {
  const labels = name
    .replace(/\.$/, '')
    .split('.')
    .flatMap((l) => [Buffer.from([l.length]), Buffer.from(l)]);
  const opt = edns ? Buffer.from([0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]) : Buffer.alloc(0);
  const header = Buffer.from([id >> 8, id & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, edns ? 1 : 0]);
  return Buffer.concat([header, ...labels, Buffer.from([0, 0, 1, 0, 1]), opt]);
}

test('the responder: patterns, question parsing and its error answers', () => {
  const re = (p: string) => patternRegExp(p);
  assert.ok(re('db.*').test('db.shop.svc.cluster.local'));
  assert.ok(!re('db.*').test('mydb.shop.svc.cluster.local'));
  assert.ok(re('*.Example.COM.').test('a.b.example.com'));
  assert.ok(!re('*.example.com').test('example.com'));
  assert.ok(re('db?.x').test('db1.x') && !re('db?.x').test('db12.x'));
  assert.ok(!re('a.b').test('axb'), 'a dot is a dot');
  assert.deepEqual(parseQuestion(query('Db.Shop.svc.cluster.local.')), {
    name: 'db.shop.svc.cluster.local',
    end: 12 + 27 + 4,
  });
  assert.equal(parseQuestion(Buffer.from([1, 2, 3])), undefined);
  // A label running past the end, and a compression pointer: not read (forwarded as it is).
  assert.equal(
    parseQuestion(Buffer.concat([query('a.b').subarray(0, 12), Buffer.from([9, 97])])),
    undefined,
  );
  assert.equal(
    parseQuestion(Buffer.concat([query('a').subarray(0, 12), Buffer.from([0xc0, 12, 0, 1, 0, 1])])),
    undefined,
  );

  const q = query('db.shop.svc.cluster.local', 0xbeef, true);
  const d = decide(q, [re('db.*')], 'servfail');
  assert.ok('reply' in d);
  const r = d.reply;
  assert.equal(r.readUInt16BE(0), 0xbeef, 'same id');
  assert.equal(r.readUInt16BE(2), 0x8182, 'QR, RD, RA, SERVFAIL');
  assert.deepEqual(
    [r.readUInt16BE(4), r.readUInt16BE(6), r.readUInt16BE(8), r.readUInt16BE(10)],
    [1, 0, 0, 0],
  );
  assert.deepEqual(r.subarray(12), q.subarray(12, 12 + 27 + 4), 'the question, no OPT');
  assert.equal(errorReply(q, 12 + 27 + 4, 3).readUInt16BE(2) & 0x0f, 3, 'NXDOMAIN');
  assert.deepEqual(decide(q, [re('db.*')], 'drop'), {
    drop: true,
    name: 'db.shop.svc.cluster.local',
  });
  assert.deepEqual(decide(query('web.shop.svc.cluster.local'), [re('db.*')], 'drop'), {
    forward: true,
  });
});

before(
  async () => {
    if (skip) return;
    const env = cluster as ClusterEnv;
    f = await createFixture(env, ns);
    // A second name for the same pods: the one the faults match.
    kubectl(
      env,
      ['apply', '-f', '-'],
      `apiVersion: v1
kind: Service
metadata: { name: db, namespace: ${ns} }
spec:
  selector: { app.kubernetes.io/name: echo }
  ports: [{ port: 5432, targetPort: 8080 }]
`,
    );
    const ip = (svc: string) =>
      kubectl(env, ['-n', ns, 'get', 'svc', svc, '-o', 'jsonpath={.spec.clusterIP}']).trim();
    dbIP = ip('db');
    echoIP = ip('echo');
    // Both resolve before any fault (a new Service may be cached as NXDOMAIN for a moment).
    await eventually('db and echo resolved in the pod', 30_000, async () =>
      (await lookup(dbName())).addrs[0] === dbIP && (await lookup(echoName())).addrs[0] === echoIP
        ? true
        : undefined,
    );
  },
  { timeout: 180_000 },
);

after(() => {
  if (skip) return;
  if (injectMs.length)
    console.log(
      `# inject->in effect ms: ${injectMs.map(Math.round).join(', ')} (median ${Math.round(median(injectMs))}); ` +
        `revert()->reverted ms: ${revertMs.map(Math.round).join(', ')} (median ${Math.round(median(revertMs))})`,
    );
  for (const e of f?.events ?? []) console.log(`# ${e}`);
  run('kubectl', ['delete', 'namespace', ns, '--wait=false'], cluster as ClusterEnv);
});

async function inject(
  kind: string,
  params: Record<string, unknown>,
  t: ResolvedTarget = target(f),
  durationMs = 60_000,
): Promise<ActiveFault> {
  const def = faultByKind(kind);
  assert.ok(def, kind);
  assert.deepEqual(await def.preflight(f.ctx, params as never, t), []);
  const t0 = performance.now();
  const a = await def.inject(f.ctx, params as never, t, durationMs);
  injectMs.push(performance.now() - t0);
  return a;
}

async function revert(a: ActiveFault) {
  const t0 = performance.now();
  await a.revert();
  revertMs.push(performance.now() - t0);
  await a.ended;
}

/** Runs `during` with the fault on, then checks the netns is as before and db resolves again. */
async function withFault(
  kind: string,
  params: Record<string, unknown>,
  during: () => Promise<void>,
): Promise<void> {
  const uid = target(f).pods[0]!.uid;
  const beforeState = netState(uid);
  const a = await inject(kind, params);
  try {
    await during();
  } finally {
    await revert(a);
  }
  assert.equal(netState(uid), beforeState, "the pod's network namespace as before");
  const again = await lookup(dbName());
  assert.deepEqual(again.addrs, [dbIP], `db resolves again: ${JSON.stringify(again)}`);
  assert.deepEqual(
    (await listRecords(f.kube)).filter((r) => r.namespace === ns),
    [],
    'no undo record left',
  );
}

/** The non-matching name still resolves, through the real cluster DNS, while the fault is on. */
async function othersResolve() {
  const r = await lookup(echoName());
  assert.deepEqual(r.addrs, [echoIP], `echo still resolves: ${JSON.stringify(r)}`);
  const api = await lookup('kubernetes.default.svc.cluster.local');
  assert.deepEqual(api.addrs, ['10.96.0.1'], JSON.stringify(api));
}

test(
  'dns-error servfail: matching names fail (SERVFAIL), others resolve, netns as before',
  { skip, timeout: 120_000 },
  async (t) => {
    await withFault('dns-error', { patterns: ['db.*'] }, async () => {
      const r = await lookup(dbName());
      t.diagnostic(`during: ${JSON.stringify(r)}`);
      assert.deepEqual(r.addrs, []);
      assert.equal(r.notFound, false, 'not NXDOMAIN');
      assert.equal(r.timeout, false, 'answered, not timed out');
      assert.equal(r.temporary, true, 'SERVFAIL is a temporary failure');
      assert.match(r.error ?? '', /server misbehaving/);
      // The search path leads to the same names: the short form fails as well.
      assert.deepEqual((await lookup(`db.${ns}`)).addrs, []);
      await othersResolve();
    });
  },
);

test(
  'dns-error nxdomain: matching names do not exist, others resolve, netns as before',
  { skip, timeout: 120_000 },
  async (t) => {
    await withFault(
      'dns-error',
      { patterns: [`DB.${ns}.svc.cluster.local`], error: 'nxdomain' },
      async () => {
        const r = await lookup(dbName());
        t.diagnostic(`during: ${JSON.stringify(r)}`);
        assert.deepEqual(r.addrs, []);
        assert.equal(r.notFound, true, 'NXDOMAIN');
        await othersResolve();
      },
    );
  },
);

test(
  'dns-timeout: queries for matching names get no answer, others resolve, netns as before',
  { skip, timeout: 120_000 },
  async (t) => {
    await withFault('dns-timeout', { patterns: ['db.gantry-chaosdns-*'] }, async () => {
      const r = await lookup(dbName(), 2500);
      t.diagnostic(`during: ${JSON.stringify(r)}`);
      assert.deepEqual(r.addrs, []);
      assert.equal(r.timeout, true, 'timed out');
      assert.ok(r.ms >= 2400, `gave up after ${r.ms} ms`);
      await othersResolve();
    });
  },
);

test(
  'a pod without the cluster DNS is refused, by preflight and on the node, nothing touched',
  { skip, timeout: 120_000 },
  async () => {
    const env = cluster as ClusterEnv;
    const image = kubectl(env, [
      '-n',
      ns,
      'get',
      'deploy',
      'echo',
      '-o',
      'jsonpath={.spec.template.spec.containers[0].image}',
    ]);
    kubectl(
      env,
      ['apply', '-f', '-'],
      `apiVersion: v1
kind: Pod
metadata: { name: nodns, namespace: ${ns}, labels: { app: nodns } }
spec:
  terminationGracePeriodSeconds: 0
  dnsPolicy: Default
  containers: [{ name: echo, image: "${image}" }]
`,
    );
    kubectl(env, ['-n', ns, 'wait', '--for=condition=Ready', 'pod/nodns', '--timeout=90s']);
    const pod = JSON.parse(kubectl(env, ['-n', ns, 'get', 'pod', 'nodns', '-o', 'json'])) as {
      metadata: { uid: string };
      spec: { nodeName: string };
    };
    const t: ResolvedTarget = {
      namespace: ns,
      service: 'echo',
      node: pod.spec.nodeName,
      pods: [{ name: 'nodns', uid: pod.metadata.uid, node: pod.spec.nodeName, container: 'echo' }],
    };
    const def = faultByKind('dns-error')!;
    const reasons = await def.preflight(f.ctx, { patterns: ['db.*'] }, t);
    assert.equal(reasons.length, 1, reasons.join('; '));
    assert.match(reasons[0]!, /dnsPolicy Default/);

    // Past the CLI's preflight, the agent reads the pod's resolv.conf on the node and refuses.
    const beforeState = netState(pod.metadata.uid);
    await assert.rejects(
      def.inject(f.ctx, { patterns: ['db.*'] }, t, 30_000),
      /refused on node .*resolv\.conf names nameserver 127\.0\.0\.1, not the cluster DNS/,
    );
    assert.equal(netState(pod.metadata.uid), beforeState);
    assert.deepEqual(
      (await listRecords(f.kube)).filter((r) => r.namespace === ns),
      [],
    );
  },
);
