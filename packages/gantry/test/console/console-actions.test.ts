// gantry console --allow-actions in Debian's Chromium against the real local cluster, its
// Traefik gateway and Prometheus: two revisions compared on the service page (the version
// never broken inside a word); Abort from the release page during a running canary, after
// a confirmation naming the service, step and weight, returns all traffic to stable
// (checked through the gateway on 127.0.0.1:8000) and is logged with the user; Rollback
// from the history; a kubeconfig without the rights to act sees the API's refusal on the
// page; the chaos page shows a fault while it is in effect, then the run's journal with
// its probes over time and its resilience score. Screenshots go to test/console/artifacts/.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import {
  eventually,
  kubectl,
  pushEchoImage,
  requireGateway,
} from '../../../../hack/cluster/test/cluster-env.js';
import type { GatewayEnv } from '../../../../hack/cluster/test/cluster-env.js';
import type { Journal } from '../../src/chaos/experiment/journal.js';
import { BrowserFixture, artifacts, browserCluster, shoot, waitText } from './browser-fixture.js';
import type { RunningConsole } from './browser-fixture.js';

const browserOk = browserCluster();
const found = typeof browserOk === 'string' ? browserOk : requireGateway();
const skip = typeof found === 'string' ? found : false;
const fx = new BrowserFixture('console-act');
const ns = fx.ns;
const host = `echo.${ns}.test`;
let env: GatewayEnv;
let image: string;
let reports: string;
let admin: RunningConsole;
/** The kubeconfig identity the admin console acts as (SelfSubjectReview). */
let adminUser = '';
/** Regular-expression text matching `s` literally. */
const literal = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const VERSION = '1.4.0-rc.2.build.20261205.0a1b2c3d';

interface SpecFields {
  greeting: string;
  name?: string;
  release?: string;
}

function writeSpec(file: string, f: SpecFields): string {
  const path = join(fx.work, file);
  writeFileSync(
    path,
    `apiVersion: gantry.dev/v1alpha1
name: echo
namespace: ${ns}
image: ${image}
replicas: 2
env: { NAME: ${f.name ?? 'echo'} }
config: { GREETING: ${f.greeting} }
routes: [{ hostnames: [${host}], gateway: ${env.GANTRY_GATEWAY} }]
probes:
  readiness: { path: /healthz, periodSeconds: 1 }
rollingUpdate: { maxSurge: 1, maxUnavailable: 0 }
terminationGracePeriodSeconds: 2
${f.release ?? ''}`,
  );
  return path;
}

/** One GET / through the gateway on a fresh connection: the echo's NAME ('' when no answer). */
function viaGateway(): Promise<string> {
  return new Promise((resolve) => {
    const req = http.get(
      new URL('/', env.GANTRY_GATEWAY_URL),
      { agent: false, headers: { host }, timeout: 3000 },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () =>
          resolve(res.statusCode === 200 ? body.trim() : `HTTP ${res.statusCode}`),
        );
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(''));
  });
}

async function gatewaySample(n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(await viaGateway());
  return out;
}

async function deploy(file: string, args: string[] = []): Promise<void> {
  const r = await fx.gantry(['deploy', '-f', file, ...args]).result;
  assert.equal(r.status, 0, r.stderr + r.stdout);
}

/** Opens the confirmation of `selector`'s action and returns the words it shows. */
async function ask(page: Page, selector: string): Promise<string> {
  await page.locator(selector).first().click();
  const dialog = page.locator('[data-testid="confirm-dialog"]');
  await dialog.waitFor({ state: 'visible', timeout: 5_000 });
  return (await page.locator('[data-testid="confirm-text"]').textContent()) ?? '';
}

before(
  async () => {
    if (skip) return;
    env = found as GatewayEnv;
    await fx.setUp(env);
    reports = join(fx.work, 'chaos-reports');
    image = pushEchoImage(env, 'gantry-console/echo', '1');
    admin = await fx.startConsole([
      '--address',
      '127.0.0.1:0',
      '--refresh',
      '2s',
      '--allow-actions',
      '--chaos-reports',
      reports,
    ]);
    adminUser = await eventually(
      'the console to say who it acts as',
      10_000,
      () => /actions allowed, as (\S+);/.exec(admin.output.stdout)?.[1],
    );
  },
  { timeout: 120_000 },
);

after(async () => {
  if (skip) return;
  await fx.tearDown();
});

test(
  'any two revisions compared on the service page; the version never breaks inside a word',
  { skip, timeout: 240_000 },
  async () => {
    assert.ok(adminUser, `the console says who it acts as: ${admin.output.stdout}`);
    await deploy(writeSpec('r1.yaml', { greeting: 'hello' }));
    await deploy(writeSpec('r2.yaml', { greeting: 'bonjour' }), ['--version-label', VERSION]);
    const { page, context } = await fx.newPage(admin.origin);
    await page.goto(`${admin.url}#/service/${ns}/echo`);
    await waitText(page, 'dd.revision', (t) => t === 'r2', 15_000);
    assert.equal(await page.locator('.readonly').textContent(), `actions as ${adminUser}`);
    await page.locator('button[data-action="restart"]').waitFor({ timeout: 5_000 });
    await page.locator('tr[data-revision="1"] button[data-action="rollback"]').waitFor();

    // The version: each part between separators on one line (a 150 px column at most).
    await waitText(page, 'dd.version', (t) => t === VERSION, 5_000);
    const split = await page.evaluate<string[]>(`[...document.querySelectorAll('dd.version > span')]
      .filter((s) => s.getClientRects().length > 1).map((s) => s.textContent)`);
    assert.deepEqual(split, [], 'no part of the version is broken across lines');
    const phone = await fx.newPage(admin.origin, { width: 390, height: 844 });
    await phone.page.goto(`${admin.url}#/service/${ns}/echo`);
    await waitText(phone.page, 'dd.version', (t) => t === VERSION, 10_000);
    assert.deepEqual(
      await phone.page.evaluate<string[]>(`[...document.querySelectorAll('dd.version > span')]
        .filter((s) => s.getClientRects().length > 1).map((s) => s.textContent)`),
      [],
    );
    await shoot(phone.page, 'service-phone-actions');
    await phone.context.close();

    // r1 → r2: the ConfigMap's GREETING and the version label changed; the secret-free spec
    // has no secret keys to show.
    assert.equal(await page.locator('[data-testid="diff-from"]').inputValue(), '1');
    assert.equal(await page.locator('[data-testid="diff-to"]').inputValue(), '2');
    await page.locator('[data-testid="diff-go"]').click();
    await page.locator('[data-testid="diff"]').waitFor({ timeout: 10_000 });
    const greeting = page.locator('tr[data-path="data.GREETING"]');
    assert.match((await greeting.textContent()) ?? '', /"hello".*"bonjour"/);
    const rows = await page.locator('[data-testid="diff"] tr[data-path]').count();
    assert.ok(rows >= 2, `${rows} changed fields`);
    // The section alone, without the sticky header over its top.
    await page.evaluate("document.querySelector('.top').style.position = 'static'");
    await page
      .locator('section:has(#history)')
      .screenshot({ path: join(artifacts, 'service-diff.png') });
    await page.evaluate("document.querySelector('.top').style.position = ''");
    await page.evaluate('window.scrollTo(0, 0)');
    await shoot(page, 'service-actions');
    await context.close();
  },
);

test(
  'Abort from the release page during a running canary returns all traffic to stable',
  { skip, timeout: 240_000 },
  async () => {
    // A manual gate holds step 1 (half the requests to the canary) until the page acts.
    const spec = writeSpec('canary.yaml', {
      greeting: 'bonjour',
      name: 'echo-canary',
      release: `release:
  strategy: canary
  steps: [{ weight: 50, gate: manual }, { weight: 75 }]
`,
    });
    const started = fx.gantry(['release', 'start', '-f', spec, '--image', image], {}, 200_000);
    const { page, context } = await fx.newPage(admin.origin);
    await page.goto(`${admin.url}#/release/${ns}/echo`);
    await waitText(page, '[data-testid="canary-weight"]', (t) => t === '50', 90_000);
    // Both versions answer through the gateway.
    const mixed = await eventually(
      'the gateway to send requests to both tracks',
      30_000,
      async () => {
        const s = await gatewaySample(30);
        return s.includes('echo') && s.includes('echo-canary') ? s : undefined;
      },
    );
    process.stdout.write(
      `before abort, through the gateway: ${mixed.filter((x) => x === 'echo-canary').length}/30 to the canary\n`,
    );
    await page.locator('button[data-action="abort"]').waitFor({ timeout: 5_000 });
    assert.equal(await page.locator('button[data-action="restart"]').count(), 0);

    const words = await ask(page, 'button[data-action="abort"]');
    assert.match(words, new RegExp(`^Abort the canary release of ${ns}/echo \\(new image `));
    assert.match(
      words,
      /at step 1 of 2, 50% of traffic to the new version: all traffic goes back to stable/,
    );
    await page.waitForTimeout(300);
    await shoot(page, 'confirm-abort');
    const clicked = Date.now();
    await page.locator('[data-testid="confirm-go"]').click();
    await page
      .locator('[data-testid="confirm-dialog"]')
      .waitFor({ state: 'detached', timeout: 5_000 });

    await waitText(page, '[data-phase]', (t) => t === 'aborted', 60_000);
    await waitText(page, '[data-testid="canary-weight"]', (t) => t === '0', 5_000);
    const onPage = Date.now() - clicked;
    // Through the gateway: only stable answers (20 in a row), once Traefik took the route up.
    await eventually('only stable to answer through the gateway', 20_000, async () => {
      const s = await gatewaySample(20);
      return s.every((x) => x === 'echo') ? true : undefined;
    });
    const stable = Date.now() - clicked;
    process.stdout.write(
      `abort from the page: aborted on the page ${onPage} ms after the click; only stable through the gateway after ${stable} ms\n`,
    );
    assert.deepEqual(await gatewaySample(20), new Array<string>(20).fill('echo'));
    const entry = await waitText(
      page,
      '.action-log li[data-action="abort"]',
      (t) => t.startsWith('done'),
      30_000,
    );
    assert.ok(entry.includes(`by ${adminUser}`), entry);
    const said = (await page.locator('main').textContent()) ?? '';
    assert.ok(said.includes(`aborted by ${adminUser} via gantry console`), said);
    await shoot(page, 'release-aborted', true);
    const end = await started.result;
    assert.notEqual(end.status, null, 'gantry release start ended');
    assert.equal(
      kubectl(env, ['-n', ns, 'get', 'deployments', '-o', 'name']).trim(),
      'deployment.apps/echo',
    );

    // Logged: a line on stderr and a JSON line on stdout, with the user and the outcome.
    assert.match(
      admin.output.stderr,
      new RegExp(`console action abort ${ns}/echo by ${literal(adminUser)}: started`),
    );
    const ends = admin.output.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map(
        (l) => JSON.parse(l) as { event: string; action: string; user: string; outcome: string },
      );
    assert.ok(
      ends.some(
        (e) =>
          e.event === 'console.action.end' &&
          e.action === 'abort' &&
          e.user === adminUser &&
          e.outcome === 'ok',
      ),
      admin.output.stdout,
    );
    await context.close();
  },
);

test('Rollback to an earlier revision from the history', { skip, timeout: 180_000 }, async () => {
  const { page, context } = await fx.newPage(admin.origin);
  await page.goto(`${admin.url}#/service/${ns}/echo`);
  await waitText(page, 'dd.revision', (t) => t === 'r2', 10_000);
  const words = await ask(page, 'tr[data-revision="1"] button[data-action="rollback"]');
  assert.match(
    words,
    new RegExp(
      `^Roll ${ns}/echo back to revision r1 \\(image .*\\): its recorded objects are applied again as new revision r3, replacing r2`,
    ),
  );
  await page.locator('[data-testid="confirm-go"]').click();
  await waitText(page, 'dd.revision', (t) => t === 'r3', 120_000);
  await waitText(page, 'tr[data-revision="3"]', (t) => t.includes('rollback to r1'), 5_000);
  await waitText(
    page,
    '.action-log li[data-action="rollback"]',
    (t) => t.startsWith('done'),
    30_000,
  );
  await context.close();
});

test(
  "a kubeconfig without the rights to act sees the API's refusal on the page",
  { skip, timeout: 90_000 },
  async () => {
    // May read what the console watches in the namespace, may change nothing.
    kubectl(env, [
      '-n',
      ns,
      'create',
      'role',
      'viewer',
      '--verb=get,list,watch',
      '--resource=deployments,replicasets,pods,secrets,events,pods/log',
    ]);
    const kubeconfig = fx.serviceAccountKubeconfig('viewer');
    kubectl(env, [
      '-n',
      ns,
      'create',
      'rolebinding',
      'viewer',
      '--role=viewer',
      `--serviceaccount=${ns}:viewer`,
    ]);
    const c = await fx.startConsole(['--address', '127.0.0.1:0', '-n', ns, '--allow-actions'], {
      KUBECONFIG: kubeconfig,
    });
    const user = `system:serviceaccount:${ns}:viewer`;
    const { page, context } = await fx.newPage(c.origin);
    await page.goto(`${c.url}#/service/${ns}/echo`);
    await waitText(page, 'dd.revision', (t) => t === 'r3', 15_000);
    assert.equal(await page.locator('.readonly').textContent(), `actions as ${user}`);
    const before = kubectl(env, [
      '-n',
      ns,
      'get',
      'deployment',
      'echo',
      '-o',
      'jsonpath={.metadata.generation}',
    ]);
    const words = await ask(page, 'button[data-action="restart"]');
    assert.match(
      words,
      new RegExp(`^Restart every pod of ${ns}/echo \\(Deployment echo, 2 replicas, revision r3\\)`),
    );
    await page.locator('[data-testid="confirm-go"]').click();
    const text = await waitText(
      page,
      '.action-log li[data-outcome="failed"]',
      (t) => t.includes('forbidden'),
      20_000,
    );
    assert.match(text, /Refused by the Kubernetes API \(HTTP 403\)/);
    assert.match(text, new RegExp(`User "${user}" cannot`));
    assert.equal(await page.locator('[role="alert"].action-error').count(), 1);
    await shoot(page, 'action-refused');
    assert.equal(
      kubectl(env, [
        '-n',
        ns,
        'get',
        'deployment',
        'echo',
        '-o',
        'jsonpath={.metadata.generation}',
      ]),
      before,
      'nothing changed',
    );
    assert.match(
      c.output.stderr,
      new RegExp(`console action restart ${ns}/echo by ${user}: failed: .*forbidden`),
    );
    await context.close();
    c.child.kill('SIGTERM');
    await c.result;
  },
);

test(
  'the chaos page: a fault while in effect, then the journal with probes over time and the score',
  { skip, timeout: 180_000 },
  async () => {
    const experiment = join(fx.work, 'drill.yaml');
    writeFileSync(
      experiment,
      `apiVersion: gantry.dev/v1alpha1
kind: ChaosExperiment
metadata: { name: console-drill, description: the Service selects no pod for 12 s }
target: { spec: r1.yaml }
probes:
  - { name: replicas-ready, kind: ready, mode: continuous, interval: 1s }
  - { name: prometheus-up, kind: promql, query: "vector(1)", min: 1, max: 1, mode: continuous, interval: 2s, prometheus: "${env.PROMETHEUS_URL}" }
  - { name: answers-again, kind: http, url: "${env.GANTRY_GATEWAY_URL}/", host: ${host}, mode: end, interval: 1s, weight: 2 }
method:
  - name: no endpoints
    fault: service-down
    params: { mode: no-endpoints }
    duration: 12s
  - pause: 3s
rollbacks:
  - action: recover
  - action: wait-ready
    timeout: 30s
`,
    );
    const { page, context } = await fx.newPage(admin.origin);
    await page.goto(`${admin.url}#/chaos`);
    await page.locator('main h1').waitFor({ timeout: 10_000 });
    await waitText(page, '#active ~ *', (t) => t.startsWith('None'), 10_000);
    const run = fx.gantry(['chaos', 'run', experiment, '--report', join(reports, 'console-drill')]);
    await waitText(
      page,
      'tr[data-fault]',
      (t) => t.includes('service-down') && t.includes('injected'),
      30_000,
    );
    assert.match(
      (await page.locator('tr[data-fault]').textContent()) ?? '',
      new RegExp(`${ns}/echo`),
    );
    await shoot(page, 'chaos-active');
    const done = await run.result;
    assert.ok(done.status === 0 || done.status === 4, done.stderr + done.stdout);
    const journal = JSON.parse(
      readFileSync(join(reports, 'console-drill', 'journal.json'), 'utf8'),
    ) as Journal;
    // The run ended: its fault is gone from the page, its journal listed.
    await waitText(page, '#active ~ *', (t) => t.startsWith('None'), 15_000);
    await waitText(page, 'tr[data-journal]', (t) => t.includes('console-drill'), 10_000);
    await page.locator('tr[data-journal] a').first().click();
    await waitText(
      page,
      '[data-testid="run-score"]',
      (t) => t.startsWith(String(journal.score)),
      10_000,
    );
    assert.equal(await page.locator('[data-testid="run-verdict"]').textContent(), journal.verdict);
    await page.waitForFunction(
      "document.querySelectorAll('.panel[data-probe] canvas').length >= 3",
      undefined,
      { timeout: 10_000 },
    );
    await page.waitForTimeout(500);
    await shoot(page, 'chaos', true);
    const dark = await fx.newPage(admin.origin, { scheme: 'dark' });
    await dark.page.goto(page.url());
    await dark.page.locator('[data-testid="run-score"]').waitFor({ timeout: 10_000 });
    await dark.page.waitForTimeout(1000);
    await shoot(dark.page, 'chaos-dark', true);
    await dark.context.close();
    await context.close();
  },
);

test(
  "no request of the console's pages reaches another address, and no page threw",
  { skip },
  () => {
    fx.assertStayedHome();
  },
);
