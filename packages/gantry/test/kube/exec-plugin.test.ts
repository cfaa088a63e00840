// Kubeconfigs whose credentials come from an exec plugin: gantry loads
// @kubernetes/client-node for those only (from the bundle, through the loader's import),
// runs the plugin once per process, sends what it prints to the real API server (a token,
// or a client certificate on the TLS connection), and runs it again when the server
// refuses the credentials.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { kubectl, requireCluster } from '../../../../hack/cluster/test/cluster-env.js';
import type { ClusterEnv } from '../../../../hack/cluster/test/cluster-env.js';

const gantryBin = fileURLToPath(new URL('../../bin/gantry.js', import.meta.url));
const cluster = requireCluster();
const skip = typeof cluster === 'string' ? cluster : false;
const ns = `gantry-exec-${Date.now().toString(36)}`;
let work: string;
let token: string;

before(() => {
  if (typeof cluster === 'string') return;
  work = mkdtempSync(join(tmpdir(), 'gantry-exec-'));
  // A ServiceAccount that may do anything in its namespace, and nothing elsewhere.
  kubectl(
    cluster,
    ['apply', '-f', '-'],
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } },
        { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'reader', namespace: ns } },
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'Role',
          metadata: { name: 'reader', namespace: ns },
          rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }],
        },
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'RoleBinding',
          metadata: { name: 'reader', namespace: ns },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'reader' },
          subjects: [{ kind: 'ServiceAccount', name: 'reader', namespace: ns }],
        },
      ],
    }),
  );
  token = kubectl(cluster, ['-n', ns, 'create', 'token', 'reader']).trim();
});

after(() => {
  if (typeof cluster === 'string') return;
  kubectl(cluster, ['delete', 'namespace', ns, '--wait=false']);
  rmSync(work, { recursive: true, force: true });
});

/** The local cluster's kubeconfig fields this test reuses. */
function admin(c: ClusterEnv) {
  const text = readFileSync(c.KUBECONFIG, 'utf8');
  const field = (name: string) => {
    const v = new RegExp(`${name}: (\\S+)`).exec(text)?.[1];
    assert.ok(v, `the local kubeconfig has ${name}`);
    return v;
  };
  return {
    server: field('server'),
    ca: field('certificate-authority-data'),
    cert: Buffer.from(field('client-certificate-data'), 'base64').toString(),
    key: Buffer.from(field('client-key-data'), 'base64').toString(),
  };
}

/**
 * A kubeconfig whose user is an exec plugin printing `statuses[n]` on its n-th run (the
 * last one from then on); returns it and the number of runs so far.
 */
function pluginKubeconfig(name: string, statuses: Record<string, unknown>[]) {
  const a = admin(cluster as ClusterEnv);
  const dir = join(work, name);
  const runs = join(dir, 'runs');
  const plugin = join(dir, 'plugin.sh');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  statuses.forEach((status, i) =>
    writeFileSync(
      join(dir, `${i}.json`),
      JSON.stringify({
        apiVersion: 'client.authentication.k8s.io/v1',
        kind: 'ExecCredential',
        status,
      }),
    ),
  );
  writeFileSync(
    plugin,
    `#!/bin/sh
echo run >> '${runs}'
n=$(($(wc -l < '${runs}') - 1))
[ "$n" -lt ${statuses.length} ] || n=${statuses.length - 1}
cat '${dir}'/$n.json
`,
  );
  chmodSync(plugin, 0o755);
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    `apiVersion: v1
kind: Config
clusters: [{ name: c, cluster: { server: '${a.server}', certificate-authority-data: '${a.ca}' } }]
users:
  - name: u
    user:
      exec: { apiVersion: client.authentication.k8s.io/v1, command: '${plugin}', interactiveMode: Never }
contexts: [{ name: c, context: { cluster: c, user: u } }]
current-context: c
`,
  );
  return {
    kubeconfig,
    runs: () => (existsSync(runs) ? readFileSync(runs, 'utf8').split('\n').length - 1 : 0),
  };
}

/** `gantry history` (one list of Secrets) of service "zero" in `namespace`. */
function history(kubeconfig: string, namespace: string) {
  const spec = join(work, `${namespace}.yaml`);
  writeFileSync(
    spec,
    `apiVersion: gantry.dev/v1alpha1\nname: zero\nnamespace: ${namespace}\nimage: registry.invalid/x:1\n`,
  );
  return spawnSync(process.execPath, [gantryBin, 'history', '-f', spec, '-o', 'json'], {
    encoding: 'utf8',
    env: { ...process.env, KUBECONFIG: kubeconfig },
    timeout: 60_000,
  });
}

test('a token from an exec plugin authenticates gantry; the plugin runs once', { skip }, () => {
  const p = pluginKubeconfig('token', [{ token }]);
  // A deploy sends a few dozen requests, several at once (no pods: nothing to pull).
  const spec = join(work, 'deploy.yaml');
  writeFileSync(
    spec,
    `apiVersion: gantry.dev/v1alpha1\nname: zero\nnamespace: ${ns}\nimage: registry.invalid/x:1\nreplicas: 0\n`,
  );
  const r = spawnSync(process.execPath, [gantryBin, 'deploy', '-f', spec, '-o', 'json'], {
    encoding: 'utf8',
    env: { ...process.env, KUBECONFIG: p.kubeconfig },
    timeout: 120_000,
  });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.equal((JSON.parse(r.stdout) as { status: string }).status, 'deployed');
  assert.equal(p.runs(), 1, 'one plugin run for all the requests of the command');
  assert.equal(
    (JSON.parse(history(p.kubeconfig, ns).stdout) as { revisions: unknown[] }).revisions.length,
    1,
  );

  // The token is the ServiceAccount's, not an admin's: another namespace is forbidden.
  const denied = history(p.kubeconfig, 'default');
  assert.notEqual(denied.status, 0);
  assert.match(denied.stderr, /forbidden/i);
});

test('a client certificate from an exec plugin is used on the TLS connection', { skip }, () => {
  const a = admin(cluster as ClusterEnv);
  const p = pluginKubeconfig('cert', [{ clientCertificateData: a.cert, clientKeyData: a.key }]);
  // Admin's certificate: the namespace the token above may not read.
  const r = history(p.kubeconfig, 'default');
  assert.equal(r.status, 0, r.stderr);
  assert.ok(Array.isArray((JSON.parse(r.stdout) as { revisions: unknown }).revisions));
  assert.equal(p.runs(), 1);
});

test('refused credentials (401) are asked for again, and the request retried', { skip }, () => {
  const p = pluginKubeconfig('refresh', [{ token: 'not-a-valid-token' }, { token }]);
  const r = history(p.kubeconfig, ns);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(Array.isArray((JSON.parse(r.stdout) as { revisions: unknown }).revisions));
  assert.equal(p.runs(), 2, 'the first run, then one more after the 401');
});
