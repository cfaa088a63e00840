// Several services at once on the real cluster: a directory of specs deployed in
// dependsOn order and concurrently where allowed, a cycle refused before anything is
// applied, one failing service rolled back while the others stay deployed, a failed
// dependency skipping its dependents, and status/diff over the directory and the fleet.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { kubectl, run } from '../../../../hack/cluster/test/cluster-env.js';
import type { ClusterEnv } from '../../../../hack/cluster/test/cluster-env.js';
import { clusterSuite } from '../../../../hack/cluster/test/suite.js';
import { runGantry } from '../gantry-cli.js';
import type { CliResult } from '../gantry-cli.js';

let env: ClusterEnv;
let dir: string;
let image: string;
const suite = clusterSuite('gantry-fleet', {
  echoTags: ['1'],
  setup: (s) => {
    ({ env, work: dir, image } = s);
    // Not a spec: left alone by the directory walk.
    writeFileSync(
      join(dir, 'experiment.yaml'),
      'apiVersion: gantry.dev/v1alpha1\nkind: Experiment\n',
    );
  },
});
const { skip, ns } = suite;

const gantry = (args: string[]): CliResult => runGantry(args, env, 240_000);

function writeSpec(
  name: string,
  fields: { dependsOn?: string[]; image?: string; greeting?: string; readyDelay?: number },
): void {
  mkdirSync(join(dir, name), { recursive: true });
  writeFileSync(
    join(dir, name, 'gantry.yaml'),
    `apiVersion: gantry.dev/v1alpha1
name: ${name}
namespace: ${ns}
image: ${fields.image ?? image}
replicas: 1
resources: { requests: { cpu: 5m, memory: 16Mi } }
dependsOn: ${JSON.stringify(fields.dependsOn ?? [])}
config: { GREETING: ${fields.greeting ?? 'hello'} }
probes:
  readiness: { path: /healthz, periodSeconds: 1, initialDelaySeconds: ${fields.readyDelay ?? 0} }
terminationGracePeriodSeconds: 2
`,
  );
}

interface FleetJson {
  ok: boolean;
  services: {
    service: string;
    outcome: string;
    revision: number | null;
    message: string;
    rolledBackTo?: number;
  }[];
}

test(
  'a dependency cycle is refused with the cycle named, before anything is applied',
  { skip },
  () => {
    writeSpec('db', { dependsOn: ['web'] });
    writeSpec('web', { dependsOn: ['db'] });
    const r = gantry(['deploy', '-f', dir]);
    assert.equal(r.status, 3, r.stdout + r.stderr);
    assert.match(
      r.stderr,
      /db\/gantry\.yaml:7:\d+: dependsOn\[0\]: dependency cycle: \S+\/db → \S+\/web → \S+\/db/,
    );
    assert.notEqual(
      run('kubectl', ['get', 'namespace', ns], env).status,
      0,
      'something was applied',
    );
    rmSync(join(dir, 'db'), { recursive: true });
    rmSync(join(dir, 'web'), { recursive: true });
  },
);

test(
  'a directory deploys in dependsOn order, concurrently where allowed; status and diff cover it',
  { skip, timeout: 300_000 },
  () => {
    // api and worker both wait for db (ready only after 3 s); they may run together.
    writeSpec('db', { readyDelay: 3 });
    writeSpec('api', { dependsOn: ['db'] });
    writeSpec('worker', { dependsOn: [`${ns}/db`] });
    const r = gantry(['deploy', '-f', dir, '--concurrency', '2']);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    // Progress lines: api and worker start only after db deployed.
    const lines = r.stderr.split('\n');
    const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
    const dbDone = at(/\[\S+\/db\] revision 1 deployed/);
    assert.ok(dbDone >= 0, r.stderr);
    assert.ok(at(/\[\S+\/api\] start/) > dbDone, r.stderr);
    assert.ok(at(/\[\S+\/worker\] start/) > dbDone, r.stderr);
    assert.match(r.stdout, /^SERVICE\s+RESULT\s+REVISION\s+TIME\s+MESSAGE$/m);
    assert.match(r.stdout, /^3 of 3 deployed in /m);

    const status = gantry(['-o', 'json', 'status', '-f', dir]);
    assert.equal(status.status, 0, status.stderr);
    const s = JSON.parse(status.stdout) as { services: { service: string; healthy: boolean }[] };
    assert.deepEqual(s.services.map((x) => [x.service, x.healthy]).sort(), [
      ['api', true],
      ['db', true],
      ['worker', true],
    ]);
    const fleet = gantry(['status', '--all-namespaces']);
    for (const name of ['db', 'api', 'worker']) {
      assert.match(fleet.stdout, new RegExp(`^${ns}/${name}\\s+1\\s+1/1\\s+done`, 'm'));
    }
    const diff = gantry(['diff', '-f', dir]);
    assert.equal(diff.status, 0, diff.stdout + diff.stderr);
    assert.match(diff.stdout, /^0 of 3 services would change$/m);
  },
);

test(
  'one failing service is rolled back while the others deploy; a failed dependency skips its dependents',
  { skip, timeout: 300_000 },
  () => {
    const broken = `${image.split('@')[0]}:does-not-exist`;
    writeSpec('worker', { dependsOn: ['db'], image: broken });
    writeSpec('api', { dependsOn: ['db'], greeting: 'bye' });
    const r = gantry(['-o', 'json', 'deploy', '-f', dir, '--timeout', '60s']);
    assert.equal(r.status, 4, r.stderr);
    const out = JSON.parse(r.stdout) as FleetJson;
    const by = new Map(out.services.map((x) => [x.service, x]));
    assert.equal(by.get('db')?.outcome, 'deployed');
    assert.equal(by.get('api')?.outcome, 'deployed');
    assert.equal(by.get('api')?.revision, 2);
    assert.equal(by.get('worker')?.outcome, 'failed');
    assert.equal(by.get('worker')?.rolledBackTo, 1);
    const live = kubectl(env, [
      '-n',
      ns,
      'get',
      'deployment',
      'worker',
      '-o',
      'jsonpath={.spec.template.spec.containers[0].image}',
    ]);
    assert.equal(live, image, 'worker not back on its last good image');

    // db fails now: api and worker are skipped, naming why.
    writeSpec('db', { image: broken });
    writeSpec('worker', { dependsOn: ['db'] });
    const r2 = gantry(['-o', 'json', 'deploy', '-f', dir, '--timeout', '60s']);
    assert.equal(r2.status, 4, r2.stderr);
    const out2 = JSON.parse(r2.stdout) as FleetJson;
    const by2 = new Map(out2.services.map((x) => [x.service, x]));
    assert.equal(by2.get('db')?.outcome, 'failed');
    for (const name of ['api', 'worker']) {
      assert.equal(by2.get(name)?.outcome, 'skipped');
      assert.match(by2.get(name)?.message ?? '', new RegExp(`skipped: ${ns}/db failed`));
    }
  },
);
