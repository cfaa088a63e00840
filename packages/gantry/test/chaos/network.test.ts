// Network and HTTP faults through the helper on the local cluster: each fault's
// effect measured over loopback (a NodePort on 127.0.0.1, fresh connections),
// and afterwards the pod's network namespace (iptables-save of every table, the
// qdiscs, the links) identical to before. One echo Deployment for the file.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { requireCluster, run } from '../../../../hack/cluster/test/cluster-env.js';
import type { ClusterEnv } from '../../../../hack/cluster/test/cluster-env.js';
import type { ActiveFault } from '../../src/chaos/fault.js';
import { faultByKind } from '../../src/chaos/faults/index.js';
import { listRecords } from '../../src/chaos/undo-store.js';
import {
  connects,
  createFixture,
  get,
  inPodNet,
  inPodNetAsync,
  median,
  netState,
  postFault,
  target,
  timings,
} from './chaos-fixture.js';
import type { Fixture } from './chaos-fixture.js';

const cluster = requireCluster();
const skip = typeof cluster === 'string' ? cluster : false;
const ns = `gantry-chaosnet-${Date.now().toString(36)}`;
let f: Fixture;
const injectMs: number[] = [];
const revertMs: number[] = [];

before(
  async () => {
    if (skip) return;
    f = await createFixture(cluster as ClusterEnv, ns);
  },
  { timeout: 180_000 },
);

after(() => {
  if (skip) return;
  console.log(
    `# inject->in effect ms: ${injectMs.map(Math.round).join(', ')} (median ${Math.round(median(injectMs))}); ` +
      `revert()->reverted ms: ${revertMs.map(Math.round).join(', ')} (median ${Math.round(median(revertMs))})`,
  );
  for (const e of f?.events ?? []) console.log(`# ${e}`);
  run('kubectl', ['delete', 'namespace', ns, '--wait=false'], cluster as ClusterEnv);
});

/** Injects a fault by kind with parsed params, timing it; checks preflight first. */
async function inject(
  kind: string,
  params: Record<string, unknown>,
  durationMs = 60_000,
): Promise<ActiveFault> {
  const def = faultByKind(kind);
  assert.ok(def, kind);
  const t = target(f);
  const problems = await def.preflight(f.ctx, params as never, t);
  assert.deepEqual(problems, []);
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
  f.events.push(`${a.kind}: reverted in ${Math.round(performance.now() - t0)} ms (ended too)`);
}

test(
  'network-delay inbound: +200 ms within ±20 %, then the netns as before',
  { skip, timeout: 120_000 },
  async (t) => {
    const uid = target(f).pods[0]!.uid;
    const before = netState(uid);
    const base = median((await timings(f.nodePort, '/', 15)).map((a) => a.ms));
    const a = await inject('network-delay', { latency: 200, direction: 'inbound' });
    let during: number;
    try {
      const r = await timings(f.nodePort, '/', 15);
      assert.ok(
        r.every((x) => x.status === 200),
        JSON.stringify(r),
      );
      during = median(r.map((x) => x.ms));
    } finally {
      await revert(a);
    }
    t.diagnostic(`base ${base.toFixed(1)} ms, during ${during.toFixed(1)} ms`);
    const added = during - base;
    assert.ok(added > 160 && added < 240, `added ${added} ms`);
    assert.equal((await get(f.nodePort, '/')).status, 200);
    assert.ok((await get(f.nodePort, '/')).ms < base + 100);
    assert.equal(netState(uid), before);
    assert.deepEqual(
      (await listRecords(f.kube)).filter((r) => r.namespace === ns),
      [],
    );
  },
);

test(
  'http-error, http-abort, http-delay on chosen paths; other paths untouched',
  { skip, timeout: 180_000 },
  async (t) => {
    const uid = target(f).pods[0]!.uid;
    const before = netState(uid);
    let a = await inject('http-error', { status: 503, percent: 100, paths: ['/boom'] });
    try {
      const boom = await timings(f.nodePort, '/boom/x', 10);
      assert.deepEqual(new Set(boom.map((x) => x.status)), new Set([503]));
      assert.equal((await get(f.nodePort, '/fine')).status, 200);
    } finally {
      await revert(a);
    }
    assert.equal((await get(f.nodePort, '/boom')).status, 200);

    a = await inject('http-error', { status: 500, percent: 50, paths: ['/half'] });
    try {
      const n = 200;
      const r = await timings(f.nodePort, '/half', n);
      const errors = r.filter((x) => x.status === 500).length;
      t.diagnostic(`http-error 50%: ${errors}/${n}`);
      // 50 % of 200: sd 7.1, so ±25 is beyond 3.5 sd.
      assert.ok(Math.abs(errors - n / 2) < 25, `${errors} of ${n}`);
      assert.equal(r.filter((x) => x.status !== 500 && x.status !== 200).length, 0);
    } finally {
      await revert(a);
    }

    a = await inject('http-abort', { percent: 100, paths: ['/cut'] });
    try {
      const cut = await get(f.nodePort, '/cut');
      assert.equal(cut.status, 0);
      assert.match(cut.error ?? '', /ECONNRESET|socket hang up/);
      assert.equal((await get(f.nodePort, '/ok')).status, 200);
    } finally {
      await revert(a);
    }

    const base = median((await timings(f.nodePort, '/slow', 9)).map((x) => x.ms));
    a = await inject('http-delay', { latency: 300, percent: 100, paths: ['/slow'] });
    try {
      const slow = median((await timings(f.nodePort, '/slow', 9)).map((x) => x.ms));
      const quick = median((await timings(f.nodePort, '/quick', 9)).map((x) => x.ms));
      t.diagnostic(
        `http-delay: base ${base.toFixed(1)}, /slow ${slow.toFixed(1)}, /quick ${quick.toFixed(1)}`,
      );
      assert.ok(slow - base > 240 && slow - base < 360, `added ${slow - base}`);
      assert.ok(quick < base + 100, `quick ${quick}`);
    } finally {
      await revert(a);
    }
    assert.equal(netState(uid), before);
  },
);

/** A GET on a kept-alive connection of `agent` (reused when it is still open). */
function keptAlive(agent: http.Agent, path: string): Promise<{ status: number; error?: string }> {
  return new Promise((resolve) => {
    const req = http.get(
      { host: '127.0.0.1', port: f.nodePort, path, agent, timeout: 5000 },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) =>
      resolve({ status: 0, error: (err as NodeJS.ErrnoException).code ?? err.message }),
    );
  });
}

test(
  'http-error: a keep-alive connection open before the fault is reset once, then gets the error',
  { skip, timeout: 120_000 },
  async (t) => {
    const uid = target(f).pods[0]!.uid;
    const before = netState(uid);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      // The connection exists before the REDIRECT.
      assert.equal((await keptAlive(agent, '/')).status, 200);
      assert.equal((await keptAlive(agent, '/')).status, 200);
      const a = await inject('http-error', { status: 503, percent: 100 });
      try {
        // Without the guard (or, before it, the conntrack flush) this request went
        // straight to the app: 200.
        const first = await keptAlive(agent, '/');
        t.diagnostic(`the kept-alive connection's next request: ${JSON.stringify(first)}`);
        assert.notEqual(first.status, 200, 'the old connection does not bypass the fault');
        const next = await keptAlive(agent, '/');
        assert.equal(next.status, 503, `then through the proxy: ${JSON.stringify(next)}`);
      } finally {
        await revert(a);
      }
    } finally {
      agent.destroy();
    }
    assert.equal((await get(f.nodePort, '/')).status, 200);
    assert.equal(netState(uid), before);
  },
);

/** Sets the echo app's latency switch for `/`. */
async function setLatency(ms: number): Promise<void> {
  assert.equal(await postFault(f.nodePort, `latencyMs=${ms}`), 200, `POST /fault?latencyMs=${ms}`);
}

const ready = () =>
  run(
    'kubectl',
    [
      '-n',
      ns,
      'get',
      'pods',
      '-l',
      `app.kubernetes.io/name=${f.name}`,
      '-o',
      'jsonpath={.items[*].status.conditions[?(@.type=="Ready")].status}',
    ],
    cluster as ClusterEnv,
  ).stdout.trim();

test(
  "http-error: a connection answering while the fault began is reset once, then gets the error; the kubelet's probes pass",
  { skip, timeout: 120_000 },
  async (t) => {
    const uid = target(f).pods[0]!.uid;
    const before = netState(uid);
    // No TCP keepalive probe (Node's default: after 1 s idle) while the answer is awaited:
    // the app's answer must be the connection's first packet after the redirect went in.
    const agent = new http.Agent({ keepAlive: true, keepAliveMsecs: 60_000, maxSockets: 1 });
    // The app answers / after 3 s: the request is in flight while the redirect goes in, so
    // the first packet of that connection conntrack sees afterwards is the app's answer.
    // With a conntrack flush (the way before the guard) that entry was made from the pod's
    // side, no redirect applied to it, and the connection's next request reached the app.
    await setLatency(3000);
    try {
      const sent = performance.now();
      const inFlight = keptAlive(agent, '/');
      const a = await inject('http-error', { status: 503, percent: 100 });
      const injectedAfter = performance.now() - sent;
      try {
        const answered = await inFlight;
        t.diagnostic(
          `in flight: ${JSON.stringify(answered)} after ${Math.round(performance.now() - sent)} ms; fault in place after ${Math.round(injectedAfter)} ms`,
        );
        assert.ok(injectedAfter < 2900, 'the fault went in while the answer was in flight');
        const first = await keptAlive(agent, '/');
        t.diagnostic(`the same connection's next request: ${JSON.stringify(first)}`);
        assert.notEqual(first.status, 200, 'the connection does not bypass the fault');
        const next = await keptAlive(agent, '/');
        assert.equal(next.status, 503, `then through the proxy: ${JSON.stringify(next)}`);
        // More than three readiness periods (1 s) into the fault: the probe passed the proxy.
        await new Promise((r) => setTimeout(r, Math.max(0, 4500 - (performance.now() - sent))));
        assert.equal(ready(), 'True', "the kubelet's probes pass the proxy: the pod stays Ready");
      } finally {
        await revert(a);
      }
    } finally {
      agent.destroy();
      await setLatency(0);
    }
    assert.equal((await get(f.nodePort, '/')).status, 200);
    assert.equal(netState(uid), before);
  },
);

test(
  'network-delay outbound to a peer: +300 ms on new connections; one open before it is destroyed at both ends, not left fast',
  { skip, timeout: 120_000 },
  async (t) => {
    const uid = target(f).pods[0]!.uid;
    const before = netState(uid);
    const node = (cluster as ClusterEnv).GANTRY_NODE_IP ?? '10.201.0.1';
    // The peer: echoes every chunk at once; its open connections counted.
    const open = new Set<net.Socket>();
    const peer = net.createServer((c) => {
      open.add(c);
      c.on('close', () => open.delete(c));
      c.on('error', () => {}).pipe(c);
    });
    await new Promise<void>((r) => peer.listen(0, node, r));
    const port = (peer.address() as net.AddressInfo).port;
    // From the pod's network namespace: one connection (reopened once closed) pinged
    // every 100 ms for 9 s; each sample its time since the start and the round trip.
    const t0 = Date.now();
    const client = inPodNetAsync(uid, process.execPath, [
      '-e',
      `const net=require('net');const t0=${t0};const out=[];let s,sent=0,busy=false;
const open=()=>{s=net.connect(${port},'${node}');s.setNoDelay(true);busy=false;
s.on('data',()=>{out.push({at:sent-t0,rtt:Date.now()-sent});busy=false});
s.on('error',e=>out.push({at:Date.now()-t0,err:e.code}));
s.on('close',()=>{out.push({at:Date.now()-t0,err:'closed'});setTimeout(open,50)})};
open();const iv=setInterval(()=>{if(busy||s.connecting||s.destroyed)return;busy=true;sent=Date.now();s.write('x')},100);
setTimeout(()=>{clearInterval(iv);console.log(JSON.stringify(out));process.exit(0)},9000)`,
    ]);
    await new Promise((r) => setTimeout(r, 1500));
    const a = await inject('network-delay', {
      direction: 'outbound',
      peer: `${node}:${port}`,
      latency: 300,
    });
    const inAt = Date.now() - t0;
    let revertAt = 0;
    try {
      await new Promise((r) => setTimeout(r, 3000));
    } finally {
      revertAt = Date.now() - t0;
      await revert(a);
    }
    const samples = JSON.parse(await client) as { at: number; rtt?: number; err?: string }[];
    // The client has exited: the peer holds no connection of it, not even the one open before
    // the fault (reset at the pod only, the peer would keep it until its keepalive).
    for (let i = 0; i < 30 && open.size > 0; i++) await new Promise((r) => setTimeout(r, 100));
    const left = [...open].map((c) => `${c.remoteAddress}:${c.remotePort}`);
    for (const c of open) c.destroy();
    peer.close();
    t.diagnostic(`fault in ${inAt}-${revertAt} ms; samples ${JSON.stringify(samples)}`);
    assert.deepEqual(left, [], 'connections the peer still holds after the client exited');
    // The client's times are from this test's t0 (the same machine's clock).
    const during = samples.filter(
      (x) => x.rtt !== undefined && x.at > inAt + 400 && x.at < revertAt - 400,
    );
    assert.ok(during.length >= 3, `round trips while the fault held: ${during.length}`);
    for (const x of during)
      assert.ok(x.rtt! >= 240 && x.rtt! <= 360, `round trip ${x.rtt} ms at ${x.at} ms: 300 ± 20 %`);
    assert.ok(
      samples.some((x) => x.rtt !== undefined && x.rtt < 100 && x.at < inAt),
      'fast before',
    );
    assert.ok(
      samples.some((x) => x.rtt !== undefined && x.rtt < 100 && x.at > revertAt + 300),
      'fast after',
    );
    // The connection through the proxy is closed after its last answer (a FIN), not left to
    // hang: removing the redirect first would have cut its NAT and the client heard nothing.
    const end = samples.find((x) => x.err && x.at > revertAt);
    assert.equal(end?.err, 'closed', `after the revert: ${JSON.stringify(end)}`);
    assert.ok(end.at < revertAt + 2500, `closed ${end.at - revertAt} ms after the revert began`);
    assert.equal(netState(uid), before);
  },
);

test(
  'packet-loss 30 % inbound: failed connects within the binomial interval',
  { skip, timeout: 120_000 },
  async (t) => {
    const uid = target(f).pods[0]!.uid;
    const before = netState(uid);
    const a = await inject('packet-loss', { loss: 30, direction: 'inbound' });
    let failed = 0;
    const n = 300;
    try {
      // A dropped SYN is retransmitted after 1 s: a connect not done in 400 ms lost its SYN.
      for (let i = 0; i < n; i += 30) {
        const batch = await Promise.all(
          Array.from({ length: 30 }, () => connects(f.nodePort, 400)),
        );
        failed += batch.filter((ok) => !ok).length;
      }
    } finally {
      await revert(a);
    }
    t.diagnostic(`packet-loss 30%: ${failed}/${n} connects failed`);
    // n=300, p=0.3: sd 7.9; 3.5 sd either side.
    assert.ok(failed > 90 - 28 && failed < 90 + 28, `${failed} of ${n}`);
    assert.equal(netState(uid), before);
  },
);

test(
  'dependency-down: the pod cannot reach host:port, other ports can; network-partition ingress',
  { skip, timeout: 120_000 },
  async () => {
    const uid = target(f).pods[0]!.uid;
    const before = netState(uid);
    const node = (cluster as ClusterEnv).GANTRY_NODE_IP ?? '10.201.0.1';
    const servers = await Promise.all(
      [0, 1].map(
        () =>
          new Promise<net.Server>((resolve) => {
            const s = net.createServer((c) => c.end());
            s.listen(0, node, () => resolve(s));
          }),
      ),
    );
    const [dep, other] = servers.map((s) => (s.address() as net.AddressInfo).port);
    // A connect from inside the pod's network namespace (nsenter from the host).
    const probe = (port: number) =>
      inPodNet(uid, process.execPath, [
        '-e',
        `const s=require('net').connect(${port},'${node}');s.on('connect',()=>{console.log('ok');process.exit(0)});s.on('error',e=>{console.log(e.code);process.exit(0)});setTimeout(()=>{console.log('timeout');process.exit(0)},1500)`,
      ]).trim();
    try {
      assert.equal(probe(dep!), 'ok');
      const a = await inject('dependency-down', { dependency: [`${node}:${dep}`], mode: 'reject' });
      try {
        assert.equal(probe(dep!), 'ECONNREFUSED');
        assert.equal(probe(other!), 'ok');
      } finally {
        await revert(a);
      }
      assert.equal(probe(dep!), 'ok');

      const p = await inject('network-partition', { direction: 'ingress' });
      try {
        assert.equal(await connects(f.nodePort, 1000), false);
      } finally {
        await revert(p);
      }
      assert.equal(await connects(f.nodePort, 1000), true);
    } finally {
      for (const s of servers) s.close();
    }
    assert.equal(netState(uid), before);
  },
);

test(
  'bandwidth 2mbit egress and ingress (tbf, ifb): throughput within ±20 %',
  { skip, timeout: 150_000 },
  async (t) => {
    const uid = target(f).pods[0]!.uid;
    const before = netState(uid);
    const node = (cluster as ClusterEnv).GANTRY_NODE_IP ?? '10.201.0.1';
    const bytes = 512 * 1024;
    // A sink and a source on the node's address; the pod's side runs in its netns.
    const sink = net.createServer((c) => c.resume());
    const source = net.createServer((c) => c.end(Buffer.alloc(bytes, 7)));
    await Promise.all([sink, source].map((s) => new Promise<void>((r) => s.listen(0, node, r))));
    const port = (s: net.Server) => (s.address() as net.AddressInfo).port;
    const mbit = async (direction: 'up' | 'down') => {
      const code =
        direction === 'up'
          ? `const s=require('net').connect(${port(sink)},'${node}',()=>{const t=Date.now();s.end(Buffer.alloc(${bytes},1),()=>{});s.on('close',()=>{console.log(${bytes}*8/((Date.now()-t)/1000)/1e6)})});`
          : `const t=Date.now();let n=0;const s=require('net').connect(${port(source)},'${node}');s.on('data',d=>n+=d.length);s.on('end',()=>{console.log(n*8/((Date.now()-t)/1000)/1e6)});`;
      const out = await inPodNetAsync(uid, process.execPath, [
        '-e',
        `${code}setTimeout(()=>process.exit(1),30000).unref()`,
      ]);
      return Number(out.trim());
    };
    try {
      const a = await inject('bandwidth', {
        rate: '2mbit',
        direction: 'both',
        burst: '32kb',
        latency: 400,
      });
      let up: number;
      let down: number;
      try {
        up = await mbit('up');
        down = await mbit('down');
      } finally {
        await revert(a);
      }
      t.diagnostic(
        `bandwidth 2mbit: egress ${up.toFixed(2)} mbit/s, ingress ${down.toFixed(2)} mbit/s`,
      );
      assert.ok(up > 1.6 && up < 2.4, `egress ${up}`);
      assert.ok(down > 1.6 && down < 2.4, `ingress ${down}`);
      assert.ok((await mbit('down')) > 10, 'unlimited again');
    } finally {
      sink.close();
      source.close();
    }
    assert.equal(netState(uid), before);
  },
);

test(
  'refused before anything is touched: the reason named, the netns as it was',
  { skip, timeout: 60_000 },
  async () => {
    const uid = target(f).pods[0]!.uid;
    // eth0 with a root qdisc of its own: bandwidth will not replace what it could not restore.
    inPodNet(uid, 'tc', [
      'qdisc',
      'add',
      'dev',
      'eth0',
      'root',
      'tbf',
      'rate',
      '100mbit',
      'burst',
      '64kb',
      'latency',
      '50ms',
    ]);
    try {
      const before = netState(uid);
      const def = faultByKind('bandwidth')!;
      await assert.rejects(
        def.inject(
          f.ctx,
          { rate: '1mbit', direction: 'egress', burst: '32kb', latency: 400 },
          target(f),
          30_000,
        ),
        /bandwidth refused on node \S+: tc-tbf: eth0 has a root qdisc of its own \(qdisc tbf/,
      );
      assert.equal(netState(uid), before);
      assert.deepEqual(
        (await listRecords(f.kube)).filter((r) => r.namespace === ns),
        [],
      );
    } finally {
      inPodNet(uid, 'tc', ['qdisc', 'del', 'dev', 'eth0', 'root']);
    }
  },
);
