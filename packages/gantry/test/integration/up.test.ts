// gantry up on the local cluster: with no KUBECONFIG it finds this checkout's
// hack/cluster, brings the cluster up (idempotent), ships, and prints where the
// service answers.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { requireCluster, run } from '../../../../hack/cluster/test/cluster-env.js';
import type { ClusterEnv } from '../../../../hack/cluster/test/cluster-env.js';
import { gantryBin, runGantry } from '../gantry-cli.js';

const seedSpec = fileURLToPath(
  new URL('../../../../deploy/user-service/gantry.yaml', import.meta.url),
);
const cluster = requireCluster();
const skip = typeof cluster === 'string' ? cluster : false;
const ns = `up-it-${Date.now().toString(36)}`;
const work = mkdtempSync(join(tmpdir(), 'gantry-up-'));

after(() => {
  if (!skip) {
    // The rules gantry up loaded would report the deleted service as down forever.
    runGantry(['alerts', 'delete', '-f', join(work, 'gantry.yaml')], cluster as ClusterEnv);
    run('kubectl', ['delete', 'namespace', ns, '--wait=false'], cluster as ClusterEnv);
  }
  rmSync(work, { recursive: true, force: true });
});

test(
  'gantry up ships the seed service and prints its endpoints',
  { skip, timeout: 600_000 },
  () => {
    const env = cluster as ClusterEnv;
    // The seed spec, in a namespace and on a gateway hostname of its own (the seed's
    // users.gantry.local belongs to what `npm run up` shipped), with an in-memory
    // database per pod.
    const spec = join(work, 'gantry.yaml');
    writeFileSync(
      spec,
      readFileSync(seedSpec, 'utf8')
        .replace(/^namespace: .*$/m, `namespace: ${ns}`)
        .replace('users.gantry.local', `users.${ns}.test`)
        .replace(
          'context: ../../services/user-service',
          `context: ${fileURLToPath(new URL('../../../../services/user-service', import.meta.url))}`,
        ),
    );
    const childEnv: NodeJS.ProcessEnv = {
      ...process.env,
      USER_SERVICE_DATABASE_URL: 'sqlite::memory:',
    };
    delete childEnv.KUBECONFIG; // the local path: gantry finds and starts hack/cluster itself
    childEnv.PATH = env.PATH;
    const r = spawnSync(process.execPath, [gantryBin, 'up', '-f', spec, '--skip-tests'], {
      encoding: 'utf8',
      env: childEnv,
      timeout: 540_000,
    });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /user-service is up\./);
    // Where a person reaches it first (the gateway), then the in-cluster name and paths.
    assert.match(
      r.stdout,
      /via gateway {2}curl -H 'Host: users\.\S+' http:\/\/127\.0\.0\.1:8000\//,
    );
    assert.match(
      r.stdout,
      /in cluster {3}http:\/\/user-service\.\S+\.svc\/ \(Service IP 10\.96\.\d+\.\d+\)/,
    );
    assert.match(r.stdout, /paths {8}readiness \/readyz · metrics \/metrics · .*API \/api\/users/);
    assert.match(r.stdout, /Prometheus {3}http:\/\/127\.0\.0\.1:9090/);
    assert.match(r.stdout, /alerts {7}6 rules loaded \(gantry alerts status -f /);
    const replicas = run(
      'kubectl',
      ['-n', ns, 'get', 'deployment', 'user-service', '-o', 'jsonpath={.status.readyReplicas}'],
      env,
    );
    assert.equal(replicas.stdout, '3');
  },
);
