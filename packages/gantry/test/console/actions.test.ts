// The console's actions without a cluster: what is offered when (and the exact words of
// each confirmation), a stale confirmation refused, a Kubernetes refusal kept in the API's
// words, the HTTP surface (no action endpoint without --allow-actions; CSRF checks with
// it), and two revisions' diff with secret values never sent.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Deployment } from '@kubernetes/client-node';
import { Actions, offersFor, parseActionRequest } from '../../src/console/actions.js';
import type { ActionRunner } from '../../src/console/actions.js';
import { ClusterCache } from '../../src/console/cache.js';
import type { RevisionSummary } from '../../src/console/cache.js';
import { revisionDiff } from '../../src/console/revision-diff.js';
import { startConsole } from '../../src/console/server.js';
import type { RunningConsole } from '../../src/console/server.js';
import type {
  ActionLogEntry,
  Hello,
  RevisionDiff,
  ServiceView,
} from '../../src/console/view-types.js';
import type { Kube } from '../../src/kube/client.js';
import { KubeApiError } from '../../src/kube/errors.js';
import type { RolloutState } from '../../src/progressive/state.js';
import { encodeRelease } from '../../src/release/record.js';
import type { ReleaseRecord } from '../../src/release/record.js';

const IMG1 = `registry.local:5000/shop/cart@sha256:${'a'.repeat(64)}`;
const IMG2 = `registry.local:5000/shop/cart@sha256:${'b'.repeat(64)}`;

function deployment(image = IMG1): V1Deployment {
  return {
    metadata: {
      name: 'cart',
      namespace: 'shop',
      labels: { 'app.kubernetes.io/name': 'cart', 'app.kubernetes.io/managed-by': 'gantry' },
    },
    spec: {
      replicas: 3,
      selector: {},
      template: { spec: { containers: [{ name: 'cart', image }] } },
    },
  };
}

function revision(n: number, status: RevisionSummary['status'], image: string): RevisionSummary {
  return {
    service: 'cart',
    namespace: 'shop',
    revision: n,
    status,
    specDigest: 'x',
    image,
    actor: 'ann@host pid 1',
    startedAt: new Date(Date.UTC(2026, 0, n)).toISOString(),
  };
}

function rollout(phase: RolloutState['phase'], appliedStep = 0): RolloutState {
  return {
    service: 'cart',
    namespace: 'shop',
    strategy: 'canary',
    router: 'gateway',
    spec: {} as RolloutState['spec'],
    specDir: '.',
    image: IMG2,
    version: '2.0.0',
    phase,
    steps: [
      { weight: 25, pauseSeconds: 0, gate: 'manual', analyze: true },
      { weight: 50, pauseSeconds: 30, gate: 'none', analyze: true },
    ] as RolloutState['steps'],
    stepIndex: appliedStep,
    canaryPercent: 25,
    traffic: '25% to canary',
    appliedStep,
    stableReplicas: 3,
    startedAt: '2026-01-05T00:00:00.000Z',
    stepStartedAt: '2026-01-05T00:00:10.000Z',
    updatedAt: '2026-01-05T00:00:10.000Z',
    decisions: [],
    ...(phase === 'paused' ? { pausedReason: 'manual gate of step 1' } : {}),
  };
}

function cacheWith(state?: RolloutState): ClusterCache {
  const cache = new ClusterCache({} as Kube);
  cache.deployments.items.set('shop/cart', deployment());
  for (const r of [
    revision(1, 'superseded', IMG1),
    revision(2, 'failed', IMG2),
    revision(3, 'superseded', IMG2),
    revision(4, 'deployed', IMG1),
  ])
    cache.releases.items.set(`shop/gantry.release.cart.v${r.revision}`, r);
  if (state) {
    cache.rollouts.items.set('shop/gantry.rollout.cart', {
      namespace: 'shop',
      service: 'cart',
      state,
    });
  }
  cache.version++;
  return cache;
}

test('no release under way: restart, and a rollback to each earlier good revision', () => {
  const offers = offersFor(cacheWith(), 'shop', 'cart');
  assert.deepEqual(
    offers.map((o) => `${o.action}${o.revision ?? ''}`),
    ['restart', 'rollback3', 'rollback1'],
  );
  const rb = offers.find((o) => o.revision === 3)!;
  assert.equal(
    rb.confirm,
    `Roll shop/cart back to revision r3 (image shop/cart@${'b'.repeat(12)}): its recorded objects are applied again as new revision r5, replacing r4 (image shop/cart@${'a'.repeat(12)}).`,
  );
  assert.match(
    offers[0]!.confirm,
    /^Restart every pod of shop\/cart \(Deployment cart, 3 replicas, revision r4\)/,
  );
});

test('a canary under way: pause, promote and abort name the step and the weight', () => {
  const offers = offersFor(cacheWith(rollout('progressing')), 'shop', 'cart');
  assert.deepEqual(
    offers.map((o) => o.action),
    ['pause', 'promote', 'abort'],
  );
  const abort = offers.find((o) => o.action === 'abort')!;
  assert.equal(
    abort.confirm,
    `Abort the canary release of shop/cart (new image shop/cart@${'b'.repeat(12)}, version 2.0.0) at step 1 of 2, 25% of traffic to the new version: all traffic goes back to stable (image shop/cart@${'a'.repeat(12)}) at once and the new version's pods are removed.`,
  );
  assert.match(offers[1]!.confirm, /skipping the 1 remaining step: stable .* is rolled to/);
  const paused = offersFor(cacheWith(rollout('paused')), 'shop', 'cart');
  assert.deepEqual(
    paused.map((o) => o.action),
    ['resume', 'promote', 'abort'],
  );
  assert.match(
    paused[0]!.confirm,
    /paused at step 1 of 2.*\(manual gate of step 1\): it goes on to step 2 \(50%\)/,
  );
  // Ending already: nothing more to do.
  assert.deepEqual(offersFor(cacheWith(rollout('aborting')), 'shop', 'cart'), []);
});

function recorder(result: () => Promise<{ ok: boolean; message: string }>) {
  const calls: { action: string; revision?: number; actor: string }[] = [];
  const audit: ActionLogEntry[] = [];
  const runner: ActionRunner = {
    run: (_kube, req, actor) => {
      calls.push({
        action: req.action,
        ...(req.revision ? { revision: req.revision } : {}),
        actor,
      });
      return result();
    },
  };
  return { calls, audit, runner };
}

/** The message of a refused request. */
const msg = (r: ReturnType<typeof parseActionRequest>) => (typeof r === 'string' ? r : '');

const settle = () => new Promise((r) => setTimeout(r, 10));

test('an action runs only as confirmed; a refusal is kept in the API server words', async () => {
  const cache = cacheWith(rollout('progressing'));
  const rec = recorder(() => Promise.resolve({ ok: true, message: 'release aborted' }));
  let changes = 0;
  const actions = new Actions({
    kube: {} as Kube,
    cache,
    user: 'ann',
    audit: (e) => rec.audit.push({ ...e }),
    onChange: () => changes++,
    runner: rec.runner,
  });
  const abort = actions.offers('shop', 'cart').find((o) => o.action === 'abort')!;
  const stale = actions.start({ ...abort, confirm: abort.confirm.replace('25%', '10%') });
  assert.equal(stale.ok, false);
  assert.equal(!stale.ok && stale.status, 409);
  assert.deepEqual(!stale.ok && stale.offer, abort);
  const impossible = actions.start({ ...abort, action: 'restart' });
  assert.equal(!impossible.ok && impossible.status, 409);
  assert.equal(rec.calls.length, 0);

  const ok = actions.start(abort);
  assert.equal(ok.ok, true);
  // One at a time per service.
  const second = actions.start(abort);
  assert.equal(!second.ok && second.status, 409);
  await settle();
  assert.equal(rec.calls.length, 1);
  assert.match(rec.calls[0]!.actor, /^ann via gantry console on .+ pid \d+$/);
  const [entry] = actions.logOf('shop', 'cart');
  assert.equal(entry?.outcome, 'ok');
  assert.equal(entry?.message, 'release aborted');
  assert.deepEqual(
    rec.audit.map((e) => e.outcome),
    ['running', 'ok'],
  );
  assert.equal(rec.audit[0]!.user, 'ann');
  assert.ok(changes >= 2);

  const refused = recorder(() => {
    return Promise.reject(
      new KubeApiError(
        403,
        'create Lease shop/gantry-lock-cart: leases.coordination.k8s.io is forbidden: User "bob" cannot create resource "leases"',
      ),
    );
  });
  const quiet = new Actions({
    kube: {} as Kube,
    cache: cacheWith(),
    user: 'bob',
    audit: () => undefined,
    onChange: () => undefined,
    runner: refused.runner,
  });
  const restart = quiet.offers('shop', 'cart').find((o) => o.action === 'restart')!;
  assert.equal(quiet.start(restart).ok, true);
  await settle();
  const e = quiet.logOf('shop', 'cart')[0]!;
  assert.equal(e.outcome, 'failed');
  assert.equal(e.status, 403);
  assert.match(e.message ?? '', /forbidden: User "bob" cannot create resource "leases"/);
});

test('action requests are validated', () => {
  assert.equal(typeof parseActionRequest(null), 'string');
  assert.match(msg(parseActionRequest({ action: 'delete' })), /action must be one of/);
  assert.match(
    msg(parseActionRequest({ action: 'rollback', namespace: 'shop', name: 'cart', confirm: 'x' })),
    /needs a revision/,
  );
  assert.match(
    msg(parseActionRequest({ action: 'abort', namespace: 'Shop!', name: 'cart', confirm: 'x' })),
    /DNS label/,
  );
  assert.deepEqual(
    parseActionRequest({
      action: 'rollback',
      namespace: 'shop',
      name: 'cart',
      revision: 3,
      confirm: 'x',
    }),
    { action: 'rollback', namespace: 'shop', name: 'cart', revision: 3, confirm: 'x' },
  );
});

function record(n: number, greeting: string, image: string, secretHash: string): ReleaseRecord {
  return {
    service: 'cart',
    namespace: 'shop',
    revision: n,
    status: n === 2 ? 'deployed' : 'superseded',
    specDigest: 'd',
    image,
    actor: 'ann',
    startedAt: '2026-01-01T00:00:00.000Z',
    objects: [
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'cart-config', namespace: 'shop' },
        data: { GREETING: greeting, LANG: 'en' },
      },
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'cart-secrets', namespace: 'shop' },
        data: {},
      },
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'cart', namespace: 'shop' },
        spec: { template: { spec: { containers: [{ name: 'cart', image }] } } },
      },
      ...(n === 2
        ? [
            {
              apiVersion: 'v1',
              kind: 'Service',
              metadata: { name: 'cart', namespace: 'shop' },
            },
          ]
        : []),
    ],
    secretHashes: { DB_PASSWORD: secretHash, API_KEY: 'same-hash' },
  };
}

test('two revisions compared field by field; secret values only changed or unchanged', () => {
  const d = revisionDiff(record(1, 'hello', IMG1, 'h1'), record(2, 'bonjour', IMG2, 'h2'));
  const by = Object.fromEntries(d.objects.map((o) => [o.object, o]));
  assert.deepEqual(by['ConfigMap shop/cart-config']?.fields, [
    { path: 'data.GREETING', before: '"hello"', after: '"bonjour"' },
  ]);
  assert.deepEqual(by['Deployment shop/cart']?.fields, [
    {
      path: 'spec.template.spec.containers[cart].image',
      before: JSON.stringify(IMG1),
      after: JSON.stringify(IMG2),
    },
  ]);
  assert.equal(by['Service shop/cart']?.change, 'added');
  assert.deepEqual(by['Secret shop/cart-secrets']?.fields, [
    { path: 'data.DB_PASSWORD', before: '(hidden)', after: '(hidden)' },
  ]);
  assert.deepEqual(d.secrets, [
    { key: 'API_KEY', state: 'unchanged' },
    { key: 'DB_PASSWORD', state: 'changed' },
  ]);
  const text = JSON.stringify(d);
  assert.ok(!text.includes('h1') && !text.includes('same-hash'), 'no secret hash is sent');
  const same = revisionDiff(record(1, 'hi', IMG1, 'h'), record(1, 'hi', IMG1, 'h'));
  assert.ok(same.objects.every((o) => o.change === 'unchanged'));
});

// --- The HTTP surface, against a fake API server (lists empty, watches idle). ---

const work = mkdtempSync(join(tmpdir(), 'gantry-console-unit-'));
mkdirSync(join(work, 'assets'));
writeFileSync(join(work, 'assets', 'index.html'), '<!doctype html><title>t</title>');
const consoles: RunningConsole[] = [];
after(async () => {
  for (const c of consoles) await c.close();
  rmSync(work, { recursive: true, force: true });
});

function fakeKube(records: ReleaseRecord[] = []): Kube {
  return {
    list: () => Promise.resolve([]),
    watch: () => Promise.resolve(() => undefined),
    get: (ref: { metadata: { name: string } }) => {
      const r = records.find(
        (x) => `gantry.release.${x.service}.v${x.revision}` === ref.metadata.name,
      );
      return Promise.resolve(r ? encodeRelease(r) : undefined);
    },
  } as unknown as Kube;
}

async function open(actions: boolean, kube = fakeKube()) {
  const c = await startConsole({
    kube,
    address: '127.0.0.1:0',
    prometheusUrl: 'http://127.0.0.1:1',
    alertmanagerUrl: 'http://127.0.0.1:1',
    refreshMs: 60_000,
    context: 'test',
    version: 'test',
    assetsDir: join(work, 'assets'),
    ...(actions
      ? {
          actions: {
            user: 'ann',
            audit: () => undefined,
            runner: { run: () => Promise.resolve({ ok: true, message: 'done' }) },
          },
        }
      : {}),
  });
  consoles.push(c);
  return c;
}

/** The first message of `event` on an event stream for `query`. */
async function firstEvent<T>(url: string, event: string, query = 'view=fleet'): Promise<T> {
  const ac = new AbortController();
  const res = await fetch(`${url}api/events?${query}`, { signal: ac.signal });
  const reader = res.body!.getReader();
  const re = new RegExp(`event: ${event}\\ndata: (.*)\\n`);
  let text = '';
  while (!re.test(text)) {
    const { value } = await reader.read();
    text += new TextDecoder().decode(value as Uint8Array);
  }
  ac.abort();
  return JSON.parse(re.exec(text)![1]!) as T;
}

const helloOf = (url: string) => firstEvent<Hello>(url, 'hello');
const serviceViewOf = (url: string) =>
  firstEvent<ServiceView>(url, 'view', 'view=service&namespace=shop&name=cart');

test('read-only: the action endpoint does not exist and the pages get no token', async () => {
  const c = await open(false);
  for (const method of ['POST', 'GET']) {
    const r = await fetch(`${c.url}api/actions`, {
      method,
      ...(method === 'POST' ? { body: '{}', headers: { 'content-type': 'application/json' } } : {}),
    });
    assert.equal(r.status, 404, method);
    await r.body?.cancel();
  }
  const h = await helloOf(c.url);
  assert.equal(h.actions, undefined);
  const v = await serviceViewOf(c.url);
  assert.ok(!('actions' in v) && !('actionLog' in v), 'no offers in a read-only view');
});

test('with --allow-actions: POST only from this origin, as JSON, with the token', async () => {
  const c = await open(true);
  const h = await helloOf(c.url);
  assert.equal(h.actions?.user, 'ann');
  assert.deepEqual((await serviceViewOf(c.url)).actions, []);
  const csrf = h.actions?.csrf ?? '';
  assert.ok(csrf.length >= 24);
  const origin = new URL(c.url).origin;
  const body = JSON.stringify({ action: 'restart', namespace: 'shop', name: 'cart', confirm: 'x' });
  const send = async (headers: Record<string, string>) => {
    const r = await fetch(`${c.url}api/actions`, { method: 'POST', headers, body });
    return { status: r.status, body: (await r.json()) as { error?: string } };
  };
  const good = { origin, 'content-type': 'application/json', 'x-gantry-csrf': csrf };
  const { origin: _o, ...noOrigin } = good;
  assert.equal((await send(noOrigin)).status, 403);
  assert.equal((await send({ ...good, origin: 'http://evil.example' })).status, 403);
  assert.equal((await send({ ...good, 'sec-fetch-site': 'cross-site' })).status, 403);
  assert.equal((await send({ ...good, 'content-type': 'text/plain' })).status, 403);
  assert.equal((await send({ ...good, 'x-gantry-csrf': 'wrong' })).status, 403);
  // Past the checks: nothing of shop/cart is in the (empty) cache, so nothing is on offer.
  const r = await send(good);
  assert.equal(r.status, 409, JSON.stringify(r.body));
  assert.match(r.body.error ?? '', /not possible for shop\/cart now/);
  const get = await fetch(`${c.url}api/actions`);
  assert.equal(get.status, 405);
  await get.body?.cancel();
});

test('GET /api/diff compares two recorded revisions', async () => {
  const c = await open(false, fakeKube([record(1, 'a', IMG1, 'h1'), record(2, 'b', IMG1, 'h1')]));
  const r = await fetch(`${c.url}api/diff?namespace=shop&name=cart&from=1&to=2`);
  assert.equal(r.status, 200);
  const d = (await r.json()) as RevisionDiff;
  assert.equal(d.from.revision, 1);
  assert.deepEqual(d.objects[0]?.fields, [{ path: 'data.GREETING', before: '"a"', after: '"b"' }]);
  const missing = await fetch(`${c.url}api/diff?namespace=shop&name=cart&from=1&to=9`);
  assert.equal(missing.status, 404);
  assert.match(((await missing.json()) as { error: string }).error, /no revision 9/);
});
