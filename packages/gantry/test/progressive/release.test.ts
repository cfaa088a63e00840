// Progressive releases on the real cluster: user-service behind the real
// gateway (Traefik, Gateway API), judged from the real Prometheus, under a
// bounded loopback load. A good canary is promoted; a canary with injected
// errors or latency is aborted and traffic returns to stable; a gray release
// keeps each user on one version; a killed gantry is taken over by the next.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { gunzipSync } from 'node:zlib';
import {
  eventually,
  kubectl,
  requireCluster,
  run,
} from '../../../../hack/cluster/test/cluster-env.js';
import type { ClusterEnv } from '../../../../hack/cluster/test/cluster-env.js';
import { Load, once } from '../../../../hack/cluster/test/load.js';
import { userServiceSpec } from '../../../../hack/cluster/test/user-service-spec.js';

const gantryBin = fileURLToPath(new URL('../../bin/gantry.js', import.meta.url));
const serviceDir = fileURLToPath(new URL('../../../../services/user-service', import.meta.url));
const cluster = requireCluster();
const skip = typeof cluster === 'string' ? cluster : false;
const ns = `release-it-${Date.now().toString(36)}`;
const host = `users.${ns}.gantry.local`;
const GATEWAY = 'http://127.0.0.1:8000';
const work = mkdtempSync(join(tmpdir(), 'gantry-release-'));
let image = '';

/** Webhook notices received by a local server (the spec's release.notify points here). */
const notices: { event: string; summary: string }[] = [];
const hook = http.createServer((req, res) => {
  let body = '';
  req.on('data', (c: Buffer) => (body += c.toString()));
  req.on('end', () => {
    try {
      notices.push(JSON.parse(body) as { event: string; summary: string });
    } catch {
      /* a malformed notice fails the assertions below */
    }
    res.end('ok');
  });
});

interface SpecFields {
  version: string;
  config?: Record<string, string>;
  release: string;
}

function writeSpec(f: SpecFields): string {
  const file = join(work, `gantry-${f.version}.yaml`);
  const port = (hook.address() as { port: number }).port;
  const release = `release:
${f.release
  .trim()
  .split('\n')
  .map((l) => `  ${l}`)
  .join('\n')}
  notify: [{ url: 'http://127.0.0.1:${port}/hook' }]
`;
  writeFileSync(
    file,
    userServiceSpec({
      namespace: ns,
      image,
      serviceDir,
      version: f.version,
      ...(f.config ? { config: f.config } : {}),
      databaseUrlEnv: 'IT_DATABASE_URL',
      host,
      release,
    }),
  );
  return file;
}

const CANARY = `
strategy: canary
steps: [{ weight: 20 }, { weight: 50 }]
analysis:
  interval: 2s
  minStepDuration: 6s
  maxStepDuration: 40s
  requests: { selector: 'route!~"/healthz|/readyz|/metrics|/version"' }
  latency: { slowThreshold: 100ms }
`;

function gantryEnv(): NodeJS.ProcessEnv {
  return { ...process.env, ...(cluster as ClusterEnv), IT_DATABASE_URL: 'sqlite::memory:' };
}

/**
 * Runs gantry as a child process without blocking this process: the load
 * generator and the webhook receiver live here and must keep running.
 */
function gantryAsync(args: string[]): {
  child: ChildProcess;
  result: Promise<{ status: number | null; stdout: string; stderr: string }>;
} {
  const child = spawn(process.execPath, [gantryBin, ...args], { env: gantryEnv() });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
  return {
    child,
    result: new Promise((resolve) =>
      child.on('exit', (status) => {
        clearTimeout(timer);
        resolve({ status, stdout, stderr });
      }),
    ),
  };
}

function gantry(args: string[]) {
  return gantryAsync(args).result;
}

async function status(file: string): Promise<{
  phase: string | null;
  stepIndex?: number;
  traffic?: string;
  message?: string;
}> {
  const r = await gantry(['release', 'status', '-f', file, '-o', 'json']);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { phase: string | null };
}

/**
 * The version the gateway answers with once 5 requests in a row agree: after a
 * rollout the old pods drain for a moment, and the gateway reloads routes within ~2 s.
 */
async function servedVersion(expected?: string): Promise<string> {
  return eventually(`the gateway to answer ${expected ?? 'one version'}`, 30_000, async () => {
    const vs: (string | undefined)[] = [];
    for (let i = 0; i < 5; i++) vs.push((await once(`${GATEWAY}/version`, { host })).version);
    const v = vs[0];
    return v !== undefined && vs.every((x) => x === v) && (expected ?? v) === v ? v : undefined;
  });
}

function apiLoad(
  rps: number,
  maxMs: number,
  headers?: (i: number) => Record<string, string>,
): Load {
  return new Load({
    url: `${GATEWAY}/api/users?limit=1`,
    host,
    rps,
    maxDurationMs: maxMs,
    ...(headers ? { headers } : {}),
  }).start();
}

function routeBackends(): string[] {
  const out = kubectl(cluster as ClusterEnv, ['-n', ns, 'get', 'httproute', 'users', '-o', 'json']);
  const route = JSON.parse(out) as {
    spec: { rules: { backendRefs?: { name: string; weight?: number }[] }[] };
  };
  return route.spec.rules.flatMap((r) =>
    (r.backendRefs ?? []).map((b) => `${b.name}:${b.weight ?? 1}`),
  );
}

function deploymentExists(name: string): boolean {
  return run('kubectl', ['-n', ns, 'get', 'deployment', name], cluster as ClusterEnv).status === 0;
}

before(async () => {
  if (skip) return;
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  image = `${(cluster as ClusterEnv).GANTRY_REGISTRY}/gantry-it/user-service`;
  const build = await gantry([
    'build',
    '-f',
    writeSpec({ version: '1.0.0', release: CANARY }),
    '-o',
    'json',
  ]);
  assert.equal(build.status, 0, build.stderr);
  const built = JSON.parse(build.stdout) as { ref: string; digest: string };
  image = `${built.ref.replace(/:[^:/]+$/, '')}@${built.digest}`;
  const first = await gantry(['deploy', '-f', writeSpec({ version: '1.0.0', release: CANARY })]);
  assert.equal(first.status, 0, first.stderr + first.stdout);
  await eventually('the gateway to route to the service', 30_000, async () => {
    const s = await once(`${GATEWAY}/version`, { host });
    return s.status === 200 && s.version === '1.0.0' ? true : undefined;
  });
});

after(() => {
  hook.close();
  if (!skip) run('kubectl', ['delete', 'namespace', ns, '--wait=false'], cluster as ClusterEnv);
  rmSync(work, { recursive: true, force: true });
});

test('a good canary is promoted to 100%', { skip, timeout: 300_000 }, async () => {
  const load = apiLoad(60, 240_000);
  const file = writeSpec({ version: '2.0.0', release: CANARY });
  const r = await gantry(['release', 'start', '-f', file, '--image', image]);
  const samples = await load.stop();
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /promoted/);
  assert.equal((await status(file)).phase, 'promoted');
  // Stable runs the new version, the canary is gone, the route points at stable only.
  assert.equal(await servedVersion('2.0.0'), '2.0.0');
  assert.equal(deploymentExists('users-canary'), false);
  assert.deepEqual(routeBackends(), ['users:1']);
  // Both versions served during the release and no request failed.
  const versions = new Set(samples.map((x) => x.version));
  assert.ok(versions.has('1.0.0') && versions.has('2.0.0'), [...versions].join());
  const failed = samples.filter((x) => x.status !== 200);
  assert.equal(failed.length, 0, JSON.stringify(failed.slice(0, 5)));
  const events = notices.map((n) => n.event);
  for (const e of ['started', 'step', 'decision', 'promoted'])
    assert.ok(events.includes(e), events.join());
});

for (const [fault, config] of [
  ['5% errors', { FAULT_ERROR_RATE: '0.05' }],
  ['+200 ms latency', { FAULT_LATENCY_MS: '200' }],
] as const) {
  test(
    `a canary with ${fault} is aborted and traffic returns to stable`,
    { skip, timeout: 300_000 },
    async () => {
      const before = await servedVersion();
      const load = apiLoad(60, 240_000);
      const file = writeSpec({ version: '3.0.0', config, release: CANARY });
      const started = Date.now();
      const r = await gantry(['release', 'start', '-f', file, '--image', image]);
      const took = (Date.now() - started) / 1000;
      await sleep(5000);
      const samples = await load.stop();
      assert.equal(r.status, 4, r.stdout + r.stderr);
      const st = await status(file);
      assert.equal(st.phase, 'aborted');
      assert.match(r.stderr, /ABORT/);
      assert.equal(deploymentExists('users-canary'), false);
      assert.deepEqual(routeBackends(), ['users:1']);
      // Once the gateway has loaded the route (Traefik applies changes within ~2 s),
      // every request is answered by the stable version.
      const last = samples.filter((x) => x.t > started + took * 1000 + 3000);
      assert.ok(last.length > 0);
      assert.ok(
        last.every((x) => x.version === before),
        JSON.stringify(last.slice(0, 3)),
      );
      // The canary really received traffic and was judged on it.
      assert.ok(samples.some((x) => x.version === '3.0.0'));
    },
  );
}

test(
  'defaults: with no analysis block, a canary failing 5% of API requests at a 1% first step is aborted; history lists the releases',
  { skip, timeout: 300_000 },
  async () => {
    // What a user gets: no selector, so probes and scrapes reach the same metric; the judge
    // must leave them out on its own (the spec's probe and metrics paths).
    const load = apiLoad(100, 280_000);
    const file = writeSpec({
      version: '3.1.0',
      config: { FAULT_ERROR_RATE: '0.05' },
      release: 'strategy: canary\nsteps: [{ weight: 1 }, { weight: 50 }]',
    });
    const r = await gantry(['release', 'start', '-f', file, '--image', image]);
    await load.stop();
    assert.equal(r.status, 4, r.stdout + r.stderr);
    assert.equal((await status(file)).phase, 'aborted');
    // Aborted at the 1% step, on user traffic: the verdict names what it left out.
    assert.match(r.stderr, /judge \(step 1\): ABORT/);
    assert.match(r.stderr, /left out \d+ canary and \d+ stable requests to \/readyz, \/metrics/);
    const history = await gantry(['history', '-f', file, '-o', 'json']);
    assert.equal(history.status, 0, history.stderr);
    const releases = (
      JSON.parse(history.stdout) as {
        releases: { version?: string; image: string; outcome: string; reason?: string }[];
      }
    ).releases;
    assert.equal(releases[0]?.outcome, 'aborted');
    assert.match(releases[0]?.reason ?? '', /^abort/);
    assert.ok(
      releases.some((x) => x.outcome === 'promoted'),
      `the earlier promoted release is listed too: ${JSON.stringify(releases)}`,
    );
    const text = await gantry(['history', '-f', file]);
    assert.match(text.stdout, /^RELEASE +OUTCOME/m);
    assert.match(text.stdout, /^canary +aborted +\S+ +\S+ +1\/2 /m);
  },
);

/** Leaves no release running for the next test, whatever this one did. */
async function abortLeftover(file: string): Promise<void> {
  const s = await status(file).catch(() => undefined);
  if (s?.phase && !['promoted', 'aborted', 'failed'].includes(s.phase)) {
    await gantry(['release', 'abort', '-f', file]);
  }
}

test('a gray release keeps each user on one version', { skip, timeout: 300_000 }, async (t) => {
  const file = writeSpec({
    version: '4.0.0',
    release: `
strategy: gray
steps: [{ weight: 50, gate: manual }]
gray: { header: { name: x-gantry-track, value: canary }, userHeader: x-user-id }
analysis:
  interval: 2s
  minStepDuration: 2s
  requests: { selector: 'route!~"/healthz|/readyz|/metrics|/version"' }
`,
  });
  // Users with ids spread over the hash buckets, so the judge sees canary traffic.
  const load = apiLoad(60, 240_000, (i) => ({ 'x-user-id': `user-${(i * 7919).toString(16)}` }));
  const run1 = gantryAsync(['release', 'start', '-f', file, '--image', image]);
  t.after(async () => {
    await load.stop();
    await abortLeftover(file);
  });
  await eventually(
    'the gray release to wait at its manual gate',
    120_000,
    async () => {
      const s = await status(file);
      return s.phase === 'paused' ? s : undefined;
    },
    1000,
  );
  // Ids ending in uniformly spread hex digits, as UUIDs or hashes do.
  const users = Array.from({ length: 60 }, (_, i) =>
    createHash('sha256').update(`user ${i}`).digest('hex').slice(0, 16),
  );
  const seen = new Map<string, Set<string>>();
  for (let round = 0; round < 4; round++) {
    for (const u of users) {
      const s = await once(`${GATEWAY}/version`, { host, headers: { 'x-user-id': u } });
      assert.equal(s.status, 200);
      const set = seen.get(u) ?? new Set<string>();
      set.add(s.version ?? '?');
      seen.set(u, set);
    }
  }
  for (const [u, versions] of seen)
    assert.equal(versions.size, 1, `${u} saw ${[...versions].join(', ')}`);
  const onCanary = [...seen.values()].filter((v) => v.has('4.0.0')).length;
  assert.ok(onCanary > 5 && onCanary < 55, `${onCanary} of 60 users on the canary`);
  // The opt-in header always reaches the canary.
  const tester = await once(`${GATEWAY}/version`, {
    host,
    headers: { 'x-gantry-track': 'canary' },
  });
  assert.equal(tester.version, '4.0.0');
  await load.stop();
  const ab = await gantry(['release', 'abort', '-f', file]);
  assert.equal(ab.status, 0, ab.stdout + ab.stderr);
  const done = await run1.result;
  assert.notEqual(done.status, null, done.stderr);
  assert.equal((await status(file)).phase, 'aborted');
  assert.deepEqual(routeBackends(), ['users:1']);
});

test(
  'a blue-green release waits at its gate; resume switches, pause holds, promote finishes, from another terminal',
  { skip, timeout: 300_000 },
  async (t) => {
    const load = apiLoad(60, 240_000);
    const file = writeSpec({
      version: '6.0.0',
      release: `
strategy: blueGreen
blueGreen: { observe: 10m }
analysis:
  interval: 2s
  minStepDuration: 4s
  requests: { selector: 'route!~"/healthz|/readyz|/metrics|/version"' }
`,
    });
    const run1 = gantryAsync(['release', 'start', '-f', file, '--image', image]);
    t.after(async () => {
      await load.stop();
      await abortLeftover(file);
    });
    // The preview waits at its manual gate; only the gray header reaches the new version.
    await eventually('the preview to wait at its gate', 120_000, async () => {
      const s = await status(file);
      return s.phase === 'paused' ? s : undefined;
    });
    const preview = await once(`${GATEWAY}/version`, {
      host,
      headers: { 'x-gantry-track': 'canary' },
    });
    assert.equal(preview.version, '6.0.0');
    assert.notEqual((await once(`${GATEWAY}/version`, { host })).version, '6.0.0');

    const resumed = await gantry(['release', 'resume', '-f', file]);
    assert.equal(resumed.status, 0, resumed.stdout + resumed.stderr);
    assert.match(resumed.stderr, /asked the gantry driving this release to resume/);
    await eventually('the switch', 60_000, async () => {
      const s = await status(file);
      return s.traffic?.startsWith('100%') ? s : undefined;
    });
    await eventually('all traffic on the new version', 30_000, async () =>
      (await once(`${GATEWAY}/version`, { host })).version === '6.0.0' ? true : undefined,
    );
    const switched = Date.now();

    const paused = await gantry(['release', 'pause', '-f', file]);
    assert.equal(paused.status, 0, paused.stdout + paused.stderr);
    assert.equal((await status(file)).phase, 'paused');

    const promoted = await gantry(['release', 'promote', '-f', file]);
    assert.equal(promoted.status, 0, promoted.stdout + promoted.stderr);
    const r = await run1.result;
    const samples = await load.stop();
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.equal((await status(file)).phase, 'promoted');
    assert.equal(await servedVersion('6.0.0'), '6.0.0');
    const failed = samples.filter((x) => x.status !== 200);
    assert.equal(failed.length, 0, JSON.stringify(failed.slice(0, 5)));
    // Once switched, the old version never answers again: not while stable rolls to the
    // new version at promotion either (2 s for the gateway to take up the switch).
    const back = samples.filter((x) => x.t > switched + 2000 && x.version !== '6.0.0');
    assert.equal(
      back.length,
      0,
      `old version after the switch: ${JSON.stringify(back.slice(0, 5))}`,
    );
  },
);

test(
  'a gantry killed mid-release is taken over by resume',
  { skip, timeout: 300_000 },
  async (t) => {
    const load = apiLoad(40, 240_000);
    const file = writeSpec({ version: '5.0.0', release: CANARY });
    const first = gantryAsync(['release', 'start', '-f', file, '--image', image]);
    t.after(async () => {
      first.child.kill('SIGKILL');
      await load.stop();
      await abortLeftover(file);
    });
    await eventually(
      'the release to reach its first step',
      120_000,
      async () => {
        const s = await status(file);
        return s.phase === 'progressing' && s.traffic?.startsWith('20%') ? s : undefined;
      },
      500,
    );
    first.child.kill('SIGKILL');
    await first.result;
    assert.equal((await status(file)).phase, 'progressing');
    // The stored release keeps the spec's inline webhook URL as a digest only.
    const stored = gunzipSync(
      Buffer.from(
        kubectl(cluster as ClusterEnv, [
          '-n',
          ns,
          'get',
          'secret',
          'gantry.rollout.users',
          '-o',
          'jsonpath={.data.state}',
        ]),
        'base64',
      ),
    ).toString('utf8');
    assert.match(stored, /"url":"redacted:sha256:[0-9a-f]{64}"/);
    assert.doesNotMatch(stored, /127\.0\.0\.1:\d+\/hook/);
    const noticesBefore = notices.length;
    const resumed = await gantry(['release', 'resume', '-f', file]);
    await load.stop();
    assert.equal(resumed.status, 0, resumed.stdout + resumed.stderr);
    assert.match(resumed.stderr, /taking it over/);
    assert.equal((await status(file)).phase, 'promoted');
    assert.equal(await servedVersion('5.0.0'), '5.0.0');
    // The resuming gantry took the URL from its own -f spec and sent the outcome there.
    const sent = notices.slice(noticesBefore).map((n) => n.event);
    assert.ok(sent.includes('promoted'), sent.join());
    assert.doesNotMatch(resumed.stderr, /notification left out/);
  },
);

test(
  'a canary split by replica ratio is promoted, and the Service selects stable only again',
  { skip, timeout: 300_000 },
  async (t) => {
    const load = apiLoad(40, 240_000);
    const file = writeSpec({
      version: '7.0.0',
      release: `${CANARY.trim()}\nrouter: replicas`.replace(
        'steps: [{ weight: 20 }, { weight: 50 }]',
        'steps: [{ weight: 50 }]',
      ),
    });
    const serviceSelector = () =>
      (
        JSON.parse(
          kubectl(cluster as ClusterEnv, ['-n', ns, 'get', 'service', 'users', '-o', 'json']),
        ) as { spec: { selector: Record<string, string> } }
      ).spec.selector;
    const stableOnly = serviceSelector();
    const run1 = gantryAsync(['release', 'start', '-f', file, '--image', image]);
    t.after(async () => {
      await load.stop();
      await abortLeftover(file);
    });
    // During the step the Service selects both tracks: 2 canary pods beside 2 stable.
    // The status names the split only after the Service was widened, so it is read first.
    const during = await eventually('the release to reach its 50% step', 120_000, async () => {
      const s = await status(file);
      return s.phase === 'progressing' && s.traffic?.startsWith('50%') ? s : undefined;
    });
    assert.match(
      during.traffic ?? '',
      /^50% of connections to canary by replica ratio: 2 canary beside 2 stable/,
    );
    assert.ok(
      Object.keys(serviceSelector()).length < Object.keys(stableOnly).length,
      `the Service still selects stable only during the step: ${JSON.stringify(serviceSelector())}`,
    );
    const r = await run1.result;
    const samples = await load.stop();
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.equal((await status(file)).phase, 'promoted');
    assert.equal(await servedVersion('7.0.0'), '7.0.0');
    assert.deepEqual(serviceSelector(), stableOnly);
    assert.equal(deploymentExists('users-canary'), false);
    const versions = new Set(samples.map((x) => x.version));
    assert.ok(versions.has('7.0.0') && versions.size > 1, [...versions].join());
    const failed = samples.filter((x) => x.status !== 200);
    assert.equal(failed.length, 0, JSON.stringify(failed.slice(0, 5)));
  },
);
