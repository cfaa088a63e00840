// gantry console in Debian's Chromium (driven by playwright-core) against the real local
// cluster and Prometheus: a deploy reaches the fleet and service pages within 2 s, a
// canary's weight moves live on the release page, a console bound beyond loopback wants
// its token, a kubeconfig without rights shows the API's refusal, a console without
// --allow-actions has no action control in its pages and no action endpoint (404), and no
// request of the pages leaves the console's own server. (Actions: console-actions.test.ts.) Screenshots of every page are kept in
// test/console/artifacts/ (light and dark, 1280×720 and phone width).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { kubectl, pushEchoImage, run } from '../../../../hack/cluster/test/cluster-env.js';
import type { ClusterEnv } from '../../../../hack/cluster/test/cluster-env.js';
import {
  ACTION_CONTROLS,
  BrowserFixture,
  browserCluster,
  shoot,
  waitText,
} from './browser-fixture.js';

const cluster = browserCluster();
const skip = typeof cluster === 'string' ? cluster : false;
const fx = new BrowserFixture('console-it');
const ns = fx.ns;
let env: ClusterEnv;
let work: string;
let image: string;

const gantry = (...a: Parameters<BrowserFixture['gantry']>) => fx.gantry(...a);
const startConsole = (...a: Parameters<BrowserFixture['startConsole']>) => fx.startConsole(...a);
const newPage = (...a: Parameters<BrowserFixture['newPage']>) => fx.newPage(...a);

function writeSpec(name: string, fields: { greeting: string; release?: string }): string {
  const file = join(work, `${name}-${fields.greeting}.yaml`);
  writeFileSync(
    file,
    `apiVersion: gantry.dev/v1alpha1
name: ${name}
namespace: ${ns}
image: ${image}
replicas: 2
env: { NAME: ${name} }
config: { GREETING: ${fields.greeting} }
probes:
  readiness: { path: /healthz, periodSeconds: 1 }
rollingUpdate: { maxSurge: 1, maxUnavailable: 0 }
terminationGracePeriodSeconds: 2
${fields.release ?? ''}`,
  );
  return file;
}

/** A read-only console's page has no control that acts, nor a dialog to confirm one. */
async function assertNoActionControls(page: Page): Promise<void> {
  assert.equal(await page.locator(ACTION_CONTROLS).count(), 0, 'no action control in the DOM');
  assert.equal(await page.locator('.readonly').textContent(), 'read-only');
}

before(
  async () => {
    if (skip) return;
    env = cluster as ClusterEnv;
    await fx.setUp(env);
    work = fx.work;
    image = pushEchoImage(env, 'gantry-console/echo', '1');
  },
  { timeout: 120_000 },
);

after(async () => {
  if (skip) return;
  await fx.tearDown();
});

let consoleOrigin = '';
let consoleUrl = '';

test(
  'a deploy reaches the fleet and service pages within 2 s, with its revision',
  { skip, timeout: 240_000 },
  async () => {
    const c = await startConsole(['--address', '127.0.0.1:0', '--refresh', '2s']);
    consoleOrigin = c.origin;
    consoleUrl = c.url;
    const first = await gantry(['deploy', '-f', writeSpec('echo', { greeting: 'hello' })]).result;
    assert.equal(first.status, 0, first.stderr + first.stdout);

    const fleet = await newPage(c.origin);
    await fleet.page.goto(`${c.url}#/`);
    const row = `tr[data-service="${ns}/echo"]`;
    await waitText(fleet.page, `${row} td.revision`, (t) => t.startsWith('r1'), 10_000);
    const service = await newPage(c.origin);
    await service.page.goto(`${c.url}#/service/${ns}/echo`);
    await waitText(service.page, 'dd.revision', (t) => t === 'r1', 10_000);

    // A second deploy while both pages are open: r2 on both within 2 s of gantry returning.
    // Both pages are watched while gantry deploys; the time counted is from the moment the
    // release record turned "deployed" in the cluster (its finishedAt) to both pages showing r2.
    const deploying = gantry(['deploy', '-f', writeSpec('echo', { greeting: 'bonjour' })]);
    await Promise.all([
      waitText(fleet.page, `${row} td.revision`, (t) => t.startsWith('r2'), 120_000),
      waitText(service.page, 'dd.revision', (t) => t === 'r2', 120_000),
    ]);
    const seenAt = Date.now();
    const second = await deploying.result;
    assert.equal(second.status, 0, second.stderr + second.stdout);
    const record = JSON.parse(
      gunzipSync(
        Buffer.from(
          kubectl(env, [
            '-n',
            ns,
            'get',
            'secret',
            'gantry.release.echo.v2',
            '-o',
            'jsonpath={.data.release}',
          ]),
          'base64',
        ),
      ).toString('utf8'),
    ) as { status: string; finishedAt: string };
    assert.equal(record.status, 'deployed');
    const took = seenAt - Date.parse(record.finishedAt);
    process.stdout.write(
      `deploy to on-screen (fleet and service pages): ${took} ms after the release record turned deployed\n`,
    );
    assert.ok(took <= 2_000, `took ${took} ms`);
    await waitText(fleet.page, `${row} td.ready`, (t) => t === '2/2', 30_000);
    await waitText(
      service.page,
      'tr[data-revision="1"] td:nth-child(2)',
      (t) => t === 'superseded',
      2_000,
    );
    // Read-only (no --allow-actions): no control that acts in the pages, no action endpoint.
    await assertNoActionControls(fleet.page);
    await assertNoActionControls(service.page);
    const post = await fetch(`${c.origin}/api/actions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: c.origin },
      body: JSON.stringify({ action: 'restart', namespace: ns, name: 'echo', confirm: 'x' }),
    });
    assert.equal(post.status, 404);
    await post.body?.cancel();

    // The service page's charts: each panel drew (or said why not) after one refresh.
    await service.page.waitForFunction(
      "document.querySelectorAll('.panel canvas').length >= 5",
      undefined,
      {
        timeout: 10_000,
      },
    );
    await shoot(fleet.page, 'fleet-light');
    await shoot(service.page, 'service-light', true);
    for (const scheme of ['dark'] as const) {
      const dark = await newPage(c.origin, { scheme });
      await dark.page.goto(`${c.url}#/`);
      await waitText(dark.page, `${row} td.revision`, (t) => t.startsWith('r2'), 5_000);
      await shoot(dark.page, 'fleet-dark');
      await dark.page.goto(`${c.url}#/service/${ns}/echo`);
      await waitText(dark.page, 'dd.revision', (t) => t === 'r2', 5_000);
      await dark.page.waitForTimeout(1500);
      await shoot(dark.page, 'service-dark', true);
      await dark.context.close();
    }
    const phone = await newPage(c.origin, { width: 390, height: 844 });
    await phone.page.goto(`${c.url}#/`);
    await waitText(phone.page, `${row} td.revision`, (t) => t.includes('r2'), 5_000);
    await shoot(phone.page, 'fleet-phone');
    await phone.page.goto(`${c.url}#/service/${ns}/echo`);
    await waitText(phone.page, 'dd.revision', (t) => t === 'r2', 5_000);
    await phone.page.waitForTimeout(1500);
    await shoot(phone.page, 'service-phone');

    // Keyboard: Tab from the top reaches the skip link, the navigation and the service link.
    await fleet.page.goto(`${c.url}#/`);
    await waitText(fleet.page, `${row} td.revision`, (t) => t.startsWith('r2'), 5_000);
    const focused: string[] = [];
    for (let i = 0; i < 10; i++) {
      await fleet.page.keyboard.press('Tab');
      focused.push(
        await fleet.page.evaluate<string>(
          "(document.activeElement?.getAttribute('href') ?? '') + ' ' + (document.activeElement?.textContent?.trim() ?? '')",
        ),
      );
    }
    assert.ok(
      focused.some((f) => f.startsWith('#/ Fleet')) &&
        focused.some((f) => f.startsWith('#/alerts Alerts')),
      `focus order: ${focused.join(' | ')}`,
    );
    assert.ok(
      focused.some((f) => f.startsWith('#/service/')),
      `a service link is reachable by keyboard; focus order: ${focused.join(' | ')}`,
    );

    // One Prometheus query per chart per refresh (2 s here), whatever the number of open
    // pages: three pages on the same service cost what one does.
    const more = [await newPage(c.origin), await newPage(c.origin)];
    for (const m of more) await m.page.goto(`${c.url}#/service/${ns}/echo`);
    interface Stats {
      clients: number;
      prometheusQueries: number;
      rssBytes: number;
    }
    const stats = async () => (await (await fetch(`${c.origin}/api/stats`)).json()) as Stats;
    await service.page.waitForTimeout(1000);
    const t0 = Date.now();
    const s0 = await stats();
    await service.page.waitForTimeout(6000);
    const s1 = await stats();
    const elapsed = Date.now() - t0;
    const queries = s1.prometheusQueries - s0.prometheusQueries;
    process.stdout.write(
      `console server: ${s1.clients} streams, ${queries} Prometheus queries in ${elapsed} ms for 5 charts (refresh 2 s), RSS ${Math.round(s1.rssBytes / 1e6)} MB\n`,
    );
    // A chart is read again at most every refresh (less 250 ms of slack): at most this many
    // rounds of 5 fit in the window. Three pages each asking would be three times that.
    const rounds = Math.floor(elapsed / 1750) + 1;
    assert.ok(queries >= 5 && queries <= 5 * rounds, `${queries} queries in ${elapsed} ms`);
    for (const m of more) await m.context.close();
    await fleet.context.close();
    await service.context.close();
    await phone.context.close();
  },
);

test(
  "a running canary's weight moves live on the release page, and abort ends it",
  { skip, timeout: 150_000 },
  async () => {
    assert.ok(consoleUrl, 'the first test started the console');
    // A manual gate holds the first step: the canary's weight is observable for as long as needed.
    const release = `release:
  strategy: canary
  steps: [{ weight: 25, gate: manual }, { weight: 50 }]
`;
    const spec = writeSpec('echo', { greeting: 'bonjour', release });
    const { page, context } = await newPage(consoleOrigin);
    await page.goto(`${consoleUrl}#/release/${ns}/echo`);
    await page.locator('main h1').waitFor({ timeout: 10_000 });
    const canaryImage = pushEchoImage(env, 'gantry-console/echo', '2');
    const started = gantry(['release', 'start', '-f', spec, '--image', canaryImage]);
    // The weights the page shows as the release moves: 0 while the canary starts, then step 1's.
    const seen: string[] = [];
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && started.child.exitCode === null) {
      const w = await page
        .locator('[data-testid="canary-weight"]')
        .textContent({ timeout: 500 })
        .catch(() => null);
      if (w !== null && w !== seen[seen.length - 1]) seen.push(w);
      if (w !== null && Number(w) > 0) break;
      await page.waitForTimeout(50);
    }
    const status = await gantry(['release', 'status', '-f', spec, '-o', 'json']).result;
    const state = JSON.parse(status.stdout) as { phase: string; canaryPercent: number };
    const shown = String(Number(state.canaryPercent.toFixed(2)));
    assert.ok(state.canaryPercent > 0, `the release reached step 1: ${status.stdout}`);
    assert.deepEqual(seen.slice(-1), [shown], `weights seen on the page: ${seen.join(' → ')}`);
    assert.ok(seen.length >= 2, `the weight changed on the page: ${seen.join(' → ')}`);
    // A canary under way, and still nothing to act with in a read-only console.
    await assertNoActionControls(page);
    await page.locator('.chart canvas').first().waitFor({ timeout: 5_000 });
    await page.waitForTimeout(1000);
    await shoot(page, 'release-light', true);
    const dark = await newPage(consoleOrigin, { scheme: 'dark' });
    await dark.page.goto(`${consoleUrl}#/release/${ns}/echo`);
    await dark.page.locator('[data-testid="canary-weight"]').waitFor({ timeout: 5_000 });
    await dark.page.waitForTimeout(1500);
    await shoot(dark.page, 'release-dark', true);
    await dark.context.close();

    const abort = await gantry(['release', 'abort', '-f', spec]).result;
    assert.equal(abort.status, 0, abort.stderr + abort.stdout);
    // Abort takes all traffic back to stable: the page shows it without a reload.
    await waitText(page, '[data-phase]', (t) => t === 'aborted', 30_000);
    await waitText(page, '[data-testid="canary-weight"]', (t) => t === '0', 2_000);
    const end = await started.result;
    assert.notEqual(end.status, null, 'gantry release start ended');
    await page.goto(`${consoleUrl}#/alerts`);
    await page.locator('main h1').waitFor({ timeout: 5_000 });
    await page.waitForTimeout(1000);
    await shoot(page, 'alerts-light');
    await context.close();
  },
);

test(
  'a console bound beyond loopback refuses requests without its token',
  { skip, timeout: 60_000 },
  async () => {
    const c = await startConsole(['--address', '0.0.0.0:0']);
    const u = new URL(c.url);
    const token = u.searchParams.get('token');
    assert.ok(token && token.length >= 24, `a token in ${c.url}`);
    const port = u.port;
    const bare = `http://127.0.0.1:${port}`;
    for (const path of [
      '/',
      '/assets/app.js',
      '/api/events?view=fleet',
      '/api/stats',
      '/?token=wrong',
    ]) {
      const r = await fetch(`${bare}${path}`, { redirect: 'manual' });
      assert.equal(r.status, 401, `${path} without the token`);
      await r.body?.cancel();
    }
    const withToken = await fetch(`${bare}/?token=${token}`, { redirect: 'manual' });
    assert.equal(withToken.status, 303);
    const cookie = withToken.headers.get('set-cookie') ?? '';
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    assert.equal(withToken.headers.get('location'), '/');
    const again = await fetch(`${bare}/`, { headers: { cookie: cookie.split(';')[0]! } });
    assert.equal(again.status, 200);
    await again.body?.cancel();

    // In the browser: the printed URL works, and the page's stream carries the cookie.
    const { page, context } = await newPage(bare);
    await page.goto(`${bare}/?token=${token}#/`);
    await page.locator('main h1').waitFor({ timeout: 10_000 });
    await page.waitForFunction("document.querySelector('tr[data-service]') !== null", undefined, {
      timeout: 10_000,
    });
    assert.equal(
      new URL(page.url()).searchParams.get('token'),
      null,
      'the token left the address bar',
    );
    await context.close();
    c.child.kill('SIGTERM');
    await c.result;
  },
);

test(
  'with --tls-cert and --tls-key the console serves HTTPS only',
  { skip, timeout: 60_000 },
  async () => {
    const cert = join(work, 'tls.crt');
    const key = join(work, 'tls.key');
    const made = run(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        key,
        '-out',
        cert,
      ],
      env,
    );
    assert.equal(made.status, 0, made.stderr);
    const c = await startConsole([
      '--address',
      '127.0.0.1:0',
      '--tls-cert',
      cert,
      '--tls-key',
      key,
    ]);
    assert.match(c.url, /^https:\/\/127\.0\.0\.1:\d+\/$/);
    const status = await new Promise<number>((resolve, reject) => {
      https
        .get(c.url, { ca: readFileSync(cert) }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
        .on('error', reject);
    });
    assert.equal(status, 200);
    // Plain HTTP on the same port is not served.
    await assert.rejects(
      fetch(c.url.replace('https:', 'http:'), { signal: AbortSignal.timeout(5000) }),
    );
    c.child.kill('SIGTERM');
    await c.result;
  },
);

test(
  "a kubeconfig without rights sees the API's refusal on the page",
  { skip, timeout: 60_000 },
  async () => {
    const kubeconfig = fx.serviceAccountKubeconfig('nobody');
    const c = await startConsole(['--address', '127.0.0.1:0'], { KUBECONFIG: kubeconfig });
    const { page, context } = await newPage(c.origin);
    await page.goto(`${c.url}#/`);
    const text = await waitText(page, '.problems', (t) => t.includes('forbidden'), 15_000);
    assert.match(text, /Refused by the Kubernetes API \(HTTP 403\)/);
    assert.match(text, new RegExp(`system:serviceaccount:${ns}:nobody`));
    await shoot(page, 'forbidden-light');
    await page.goto(`${c.url}#/service/${ns}/echo`);
    await waitText(page, '.problems', (t) => t.includes('forbidden'), 10_000);
    await context.close();
    c.child.kill('SIGTERM');
    await c.result;
  },
);

test(
  "no request of the console's pages reaches another address, and no page threw",
  { skip },
  () => {
    assert.ok(fx.requested.length > 20, `requests recorded: ${fx.requested.length}`);
    fx.assertStayedHome();
  },
);
