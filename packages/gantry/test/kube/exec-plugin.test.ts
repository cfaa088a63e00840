// A kubeconfig whose credentials come from an exec plugin: gantry loads
// @kubernetes/client-node for those only (from the bundle, through the loader's import),
// and the token it produces must reach the real API server.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { kubectl, requireCluster } from '../../../../hack/cluster/test/cluster-env.js';

const gantryBin = fileURLToPath(new URL('../../bin/gantry.js', import.meta.url));
const cluster = requireCluster();
const skip = typeof cluster === 'string' ? cluster : false;
const ns = `gantry-exec-${Date.now().toString(36)}`;
let work: string;

before(() => {
  if (typeof cluster === 'string') return;
  work = mkdtempSync(join(tmpdir(), 'gantry-exec-'));
  // A ServiceAccount that may read release records (Secrets) in its namespace only.
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
          rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list'] }],
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
});

after(() => {
  if (typeof cluster === 'string') return;
  kubectl(cluster, ['delete', 'namespace', ns, '--wait=false']);
  rmSync(work, { recursive: true, force: true });
});

test('an exec-plugin kubeconfig authenticates gantry with the token it prints', { skip }, () => {
  if (typeof cluster === 'string') return;
  const token = kubectl(cluster, ['-n', ns, 'create', 'token', 'reader']).trim();
  const admin = readFileSync(cluster.KUBECONFIG, 'utf8');
  const server = /server: (\S+)/.exec(admin)?.[1];
  const ca = /certificate-authority-data: (\S+)/.exec(admin)?.[1];
  assert.ok(server && ca, 'the local kubeconfig names its server and CA');
  const ran = join(work, 'plugin-ran');
  const plugin = join(work, 'plugin.sh');
  writeFileSync(
    plugin,
    `#!/bin/sh\ntouch '${ran}'\nprintf '%s' '${JSON.stringify({
      apiVersion: 'client.authentication.k8s.io/v1',
      kind: 'ExecCredential',
      status: { token },
    })}'\n`,
  );
  chmodSync(plugin, 0o755);
  const kubeconfig = join(work, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    `apiVersion: v1
kind: Config
clusters: [{ name: c, cluster: { server: '${server}', certificate-authority-data: '${ca}' } }]
users:
  - name: u
    user:
      exec: { apiVersion: client.authentication.k8s.io/v1, command: '${plugin}', interactiveMode: Never }
contexts: [{ name: c, context: { cluster: c, user: u } }]
current-context: c
`,
  );
  const spec = join(work, 'gantry.yaml');
  writeFileSync(
    spec,
    `apiVersion: gantry.dev/v1alpha1\nname: nothing\nnamespace: ${ns}\nimage: registry.invalid/x:1\n`,
  );
  const gantry = (namespace: string) => {
    writeFileSync(
      spec,
      readFileSync(spec, 'utf8').replace(/namespace: .*/, `namespace: ${namespace}`),
    );
    return spawnSync(process.execPath, [gantryBin, 'history', '-f', spec, '-o', 'json'], {
      encoding: 'utf8',
      env: { ...process.env, KUBECONFIG: kubeconfig },
      timeout: 60_000,
    });
  };

  const r = gantry(ns);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), []);
  assert.ok(existsSync(ran), 'the exec plugin ran');

  // The token is the ServiceAccount's, not an admin's: another namespace is forbidden.
  const denied = gantry('default');
  assert.notEqual(denied.status, 0);
  assert.match(denied.stderr, /forbidden/i);
});
