// Agent-level fixes that need no cluster: the container's main process chosen on a
// fake /proc (never a stress-ng an op placed in the container's cgroups, whatever its
// pid), the OOM victim the kernel would choose for memory-hog --oom, the lowest
// oom_score_adj this process may give another, the guard rule a proxy fault resets
// connections that bypass it with, and the HTTP proxy letting the kubelet's probes pass.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mainProcess, resolveTarget } from '../../src/chaos/agent/target.js';
import { appIsOomVictim, lowestOomScoreAdj } from '../../src/chaos/agent/ops/stress.js';
import { proxyArgs } from '../../src/chaos/faults/network.js';
import { httpProxy, tcpProxy } from '../../src/chaos/agent/proxy.js';

const POD = '1f0e2d3c-aaaa-bbbb-cccc-000000000001';
const CID = 'c0ffee0000000000000000000000000000000000000000000000000000000001';
const HOST_PIDNS = 'pid:[4026531836]';

interface FakeProc {
  pid: number;
  ppid: number;
  sid?: number;
  cmd: string;
  container?: boolean;
  /** NSpid: the pid in each namespace, outermost first. */
  nspid: number[];
  pidns: string;
  env?: string[];
}

/** A procfs with the given processes of one pod (cgroup v1 lines naming pod and container). */
function fakeProc(procs: FakeProc[]): string {
  const root = mkdtempSync(join(tmpdir(), 'gantry-fakeproc-'));
  mkdirSync(join(root, 'self/ns'), { recursive: true });
  symlinkSync(HOST_PIDNS, join(root, 'self/ns/pid'));
  for (const p of procs) {
    const d = join(root, String(p.pid));
    mkdirSync(join(d, 'ns'), { recursive: true });
    const path = `/kubepods/burstable/pod${POD}${p.container ? `/${CID}` : '/sandbox'}`;
    writeFileSync(join(d, 'cgroup'), `5:memory:${path}\n4:cpu,cpuacct:${path}\n`);
    writeFileSync(join(d, 'cmdline'), `${p.cmd}\0`);
    writeFileSync(
      join(d, 'stat'),
      `${p.pid} (${p.cmd.split('/').pop()}) S ${p.ppid} ${p.pid} ${p.sid ?? p.pid} 0 -1\n`,
    );
    writeFileSync(join(d, 'status'), `Name:\t${p.cmd}\nNSpid:\t${p.nspid.join('\t')}\n`);
    writeFileSync(join(d, 'environ'), (p.env ?? ['PATH=/bin']).join('\0'));
    symlinkSync(p.pidns, join(d, 'ns/pid'));
  }
  return root;
}

test('resolveTarget: the container init, not a marked stress-ng with a lower pid (pid wrap)', () => {
  const root = fakeProc([
    // The hog an op placed in the container's cgroups after the pid counter wrapped: its
    // parent (the agent, pid 7) is outside the container, like the real main's.
    {
      pid: 50,
      ppid: 7,
      cmd: 'stress-ng',
      container: true,
      nspid: [50],
      pidns: HOST_PIDNS,
      env: ['GANTRY_CHAOS_MARK=mem-1'],
    },
    // Its worker: overwrote its environment; its session leader carries the marker.
    {
      pid: 51,
      ppid: 50,
      sid: 50,
      cmd: 'stress-ng-vm',
      container: true,
      nspid: [51],
      pidns: HOST_PIDNS,
    },
    { pid: 100, ppid: 90, cmd: '/pause', nspid: [100, 1], pidns: 'pid:[1001]' },
    { pid: 200, ppid: 95, cmd: '/echo', container: true, nspid: [200, 1], pidns: 'pid:[2002]' },
    {
      pid: 210,
      ppid: 200,
      cmd: '/echo-child',
      container: true,
      nspid: [210, 7],
      pidns: 'pid:[2002]',
    },
  ]);
  try {
    const t = resolveTarget(POD, CID, root);
    assert.ok(t);
    assert.equal(t.sandboxPid, 100);
    assert.equal(t.containerPid, 200, 'the container init, not stress-ng (50)');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('mainProcess: a hostPID container (no pid namespace of its own): marked ones still left out', () => {
  const root = fakeProc([
    {
      pid: 30,
      ppid: 7,
      cmd: 'fio',
      container: true,
      nspid: [30],
      pidns: HOST_PIDNS,
      env: ['GANTRY_CHAOS_MARK=io-1'],
    },
    { pid: 40, ppid: 9, cmd: '/app', container: true, nspid: [40], pidns: HOST_PIDNS },
    { pid: 41, ppid: 40, cmd: '/app', container: true, nspid: [41], pidns: HOST_PIDNS },
  ]);
  try {
    assert.equal(mainProcess([41, 30, 40], root), 40, 'the oldest whose parent is outside');
    assert.equal(mainProcess([30], root), undefined, 'only a marked process: none');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('memory-hog --oom: who the memcg OOM killer chooses', () => {
  const MiB = 1024 * 1024;
  const limit = 128 * MiB;
  // A Burstable app (999) against a hog at 0 (a node without CAP_SYS_RESOURCE): the app.
  assert.equal(appIsOomVictim([{ rss: 8 * MiB, oomScoreAdj: 999 }], limit, 0), true);
  // The same app against a hog born from a Burstable helper (~999, the old behaviour):
  // the hog, holding far more, is chosen.
  assert.equal(appIsOomVictim([{ rss: 8 * MiB, oomScoreAdj: 999 }], limit, 999), false);
  // A Guaranteed app (-997) against a hog at 0: the hog. At -1000 (unkillable): the app.
  assert.equal(appIsOomVictim([{ rss: 8 * MiB, oomScoreAdj: -997 }], limit, 0), false);
  assert.equal(appIsOomVictim([{ rss: 8 * MiB, oomScoreAdj: -997 }], limit, -1000), true);
  // Equal adjustments: the larger resident set; an app holding most of the memcg goes.
  assert.equal(appIsOomVictim([{ rss: 100 * MiB, oomScoreAdj: 0 }], limit, 0), true);
  // Nothing killable in the container: never the app.
  assert.equal(appIsOomVictim([{ rss: 8 * MiB, oomScoreAdj: -1000 }], limit, -1000), false);
});

test('lowestOomScoreAdj: the value it sets is accepted and anything lower is refused', async () => {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  try {
    await new Promise((r) => child.once('spawn', r));
    const pid = child.pid!;
    const low = lowestOomScoreAdj(pid);
    assert.equal(Number(readFileSync(`/proc/${pid}/oom_score_adj`, 'utf8').trim()), low);
    if (low > -1000) {
      assert.throws(
        () => writeFileSync(`/proc/${pid}/oom_score_adj`, String(low - 1)),
        'one below the floor is refused',
      );
    }
    // Raising needs no privilege: 1000 (the up-to-the-limit hog's) is always accepted.
    writeFileSync(`/proc/${pid}/oom_score_adj`, '1000');
    assert.equal(readFileSync(`/proc/${pid}/oom_score_adj`, 'utf8').trim(), '1000');
  } finally {
    child.kill('SIGKILL');
  }
});

test('proxy faults reset the connections that bypass the redirect on the original port', () => {
  const inbound = proxyArgs('HE', 'inbound', 8080, undefined, { mode: 'http' });
  // From outside the pod to the service's port (the proxy's own reach it over lo).
  assert.deepEqual(inbound.guard?.table, 'filter');
  assert.deepEqual(inbound.guard?.hooks, [{ parent: 'INPUT', match: ['-p', 'tcp'] }]);
  assert.deepEqual(inbound.guard?.rules, [
    ['!', '-i', 'lo', '-p', 'tcp', '--dport', '8080', '-j', 'REJECT', '--reject-with', 'tcp-reset'],
  ]);
  assert.equal(inbound.proxy.upstream.host, '127.0.0.1');
  const outbound = proxyArgs(
    'ND',
    'outbound',
    0,
    { cidr: '10.96.0.7/32', port: 5432 },
    { mode: 'tcp' },
  );
  // To the peer from anyone but the proxy (whose uid the redirect exempts too).
  assert.deepEqual(outbound.guard?.hooks, [{ parent: 'OUTPUT', match: ['-p', 'tcp'] }]);
  assert.deepEqual(outbound.guard?.rules, [
    [
      ...['-p', 'tcp', '-d', '10.96.0.7/32', '--dport', '5432', '-m', 'owner', '!'],
      ...['--uid-owner', '47474', '-j', 'REJECT', '--reject-with', 'tcp-reset'],
    ],
  ]);
  assert.notEqual(outbound.guard?.chain, outbound.redirect.chain);
  assert.ok(outbound.guard.chain.length <= 28, outbound.guard.chain);
});

/** One GET through `port` with a User-Agent; the status. */
function getAs(port: number, ua: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get(
        { host: '127.0.0.1', port, path: '/healthz', agent: false, headers: { 'user-agent': ua } },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      )
      .on('error', reject);
  });
}

test("http proxy: the kubelet's probes pass unless the fault includes them", async () => {
  const upstream = http.createServer((_req, res) => res.end('ok'));
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const up = (upstream.address() as AddressInfo).port;
  const servers: net.Server[] = [];
  const start = async (probes: boolean) => {
    const { server: s } = httpProxy({
      mode: 'http',
      listen: 0,
      upstream: { host: '127.0.0.1', port: up },
      http: {
        action: 'error',
        percent: 100,
        paths: [],
        status: 503,
        ...(probes ? { probes } : {}),
      },
    });
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    return (s.address() as AddressInfo).port;
  };
  try {
    const plain = await start(false);
    assert.equal(await getAs(plain, 'kube-probe/1.33'), 200);
    assert.equal(await getAs(plain, 'curl/8.0'), 503);
    assert.equal(await getAs(plain, 'Mozilla/5.0 kube-probe/1.33'), 503);
    const all = await start(true);
    assert.equal(await getAs(all, 'kube-probe/1.33'), 503);
  } finally {
    upstream.closeAllConnections();
    for (const s of [...servers, upstream]) s.close();
  }
});

/** A GET on `agent` (kept alive); the status and when the socket closed, if it did. */
function keptGet(port: number, agent: http.Agent, path: string) {
  return new Promise<{ status: number; closed: Promise<number> }>((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent }, (res) => {
        const closed = new Promise<number>((r) => res.socket.once('close', () => r(Date.now())));
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, closed }));
      })
      .on('error', reject);
  });
}

test('http proxy drain: idle connections close at once, one in flight after its answer', async () => {
  const upstream = http.createServer((req, res) => {
    setTimeout(() => res.end('ok'), req.url === '/slow' ? 600 : 0);
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const p = httpProxy({
    mode: 'http',
    listen: 0,
    upstream: { host: '127.0.0.1', port: (upstream.address() as AddressInfo).port },
    http: { action: 'delay', percent: 100, paths: ['/nothing'], delayMs: 1 },
  });
  await new Promise<void>((r) => p.server.listen(0, '127.0.0.1', r));
  const port = (p.server.address() as AddressInfo).port;
  const idleAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const busyAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const idle = await keptGet(port, idleAgent, '/');
    const slow = keptGet(port, busyAgent, '/slow');
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    const drained = p.drain().then(() => Date.now());
    const idleClosed = await idle.closed;
    assert.ok(idleClosed - t0 < 200, `idle connection closed after ${idleClosed - t0} ms`);
    const answered = await slow;
    assert.equal(answered.status, 200, 'the request in flight is answered');
    const slowClosed = await answered.closed;
    const done = await drained;
    assert.ok(slowClosed - t0 >= 400, `closed after its answer (${slowClosed - t0} ms)`);
    assert.ok(done - t0 < 1500, `drained in ${done - t0} ms`);
  } finally {
    idleAgent.destroy();
    busyAgent.destroy();
    upstream.closeAllConnections();
    upstream.close();
  }
});

test('tcp proxy drain: a connection closes once the service answered what it was sent', async () => {
  // The service answers each chunk 300 ms late.
  const upstream = net.createServer((c) =>
    c.on('data', (d) => setTimeout(() => c.write(d), 300)).on('error', () => {}),
  );
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const p = tcpProxy({
    mode: 'tcp',
    listen: 0,
    upstream: { host: '127.0.0.1', port: (upstream.address() as AddressInfo).port },
    latencyMs: 100,
  });
  await new Promise<void>((r) => p.server.listen(0, '127.0.0.1', r));
  const c = net.connect((p.server.address() as AddressInfo).port, '127.0.0.1');
  try {
    await new Promise<void>((r) => c.once('connect', () => r()));
    let got = '';
    c.on('data', (d) => (got += d.toString()));
    const ended = new Promise<number>((r) => c.once('end', () => r(Date.now())));
    c.write('ping');
    const t0 = Date.now();
    await p.drain();
    const at = await ended;
    assert.equal(got, 'ping', 'the answer in flight reached the client before the FIN');
    assert.ok(at - t0 >= 350, `the FIN came after the answer (${at - t0} ms)`);
  } finally {
    c.destroy();
    upstream.close();
  }
});
