// gantry deploy tells the truth about routes, on the real local cluster and its Traefik
// gateway: "deployed" is printed only once a new route answers through the gateway, and a
// route the gateway never serves fails the deploy.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pushEchoImage, requireGateway, run } from '../../../../hack/cluster/test/cluster-env.js';
import type { GatewayEnv } from '../../../../hack/cluster/test/cluster-env.js';
import { runGantry } from '../gantry-cli.js';

const cluster = requireGateway();
const skip = typeof cluster === 'string' ? cluster : false;
const ns = `gantry-routes-${Date.now().toString(36)}`;
let env: GatewayEnv;
let work: string;
let image: string;

function spec(name: string, gateway: string): string {
  const file = join(work, `${name}.yaml`);
  writeFileSync(
    file,
    `apiVersion: gantry.dev/v1alpha1
name: ${name}
namespace: ${ns}
image: ${image}
replicas: 1
probes:
  readiness: { path: /healthz, periodSeconds: 1 }
terminationGracePeriodSeconds: 2
routes: [{ hostnames: [${name}.${ns}.test], gateway: ${gateway} }]
`,
  );
  return file;
}

/** One GET through the gateway on a fresh connection: its status code (0: no answer). */
function status(host: string, path = '/'): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(
      new URL(path, env.GANTRY_GATEWAY_URL),
      { agent: false, headers: { host }, timeout: 5000 },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

before(
  () => {
    if (skip) return;
    env = cluster as GatewayEnv;
    work = mkdtempSync(join(tmpdir(), 'gantry-routes-'));
    image = pushEchoImage(env, 'gantry-routes/echo', '1');
  },
  { timeout: 120_000 },
);

after(() => {
  if (skip) return;
  run('kubectl', ['delete', 'namespace', ns, '--wait=false'], env);
  rmSync(work, { recursive: true, force: true });
});

test(
  'a first deploy with a new route says deployed only once the route answers',
  { skip },
  async () => {
    const r = runGantry(
      ['deploy', '-f', spec('fresh', env.GANTRY_GATEWAY), '--timeout', '2m'],
      env,
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /revision 1 deployed/);
    assert.match(r.stderr, /GET \/healthz \(Host: fresh\..*\) through .* answered 200/);
    // At once, on fresh connections: every answer comes from the service.
    const answers = await Promise.all(
      Array.from({ length: 5 }, () => status(`fresh.${ns}.test`, '/healthz')),
    );
    assert.deepEqual(answers, [200, 200, 200, 200, 200]);
  },
);

test('a route the gateway never serves fails the deploy', { skip }, () => {
  const r = runGantry(
    [
      'deploy',
      '-f',
      spec('lost', `${env.GANTRY_GATEWAY.split('/')[0]}/no-such-gateway`),
      '--timeout',
      '2m',
      '--route-timeout',
      '5s',
      '-o',
      'json',
    ],
    env,
  );
  assert.equal(r.status, 4, r.stderr);
  const out = JSON.parse(r.stdout) as { ok: boolean; status: string; message: string };
  assert.equal(out.ok, false);
  assert.equal(out.status, 'failed');
  assert.match(out.message, /^RouteNotServed: HTTPRoute lost: the gateway had not confirmed/);
});
