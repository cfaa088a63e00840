// The user-service image built and pushed by the image API runs on the local
// cluster as a restricted pod (non-root, read-only root filesystem, /tmp an
// emptyDir) and answers /version with the version baked in. Skips when the
// cluster is not up, unless CI=true.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { kubectl, requireCluster, run } from '../../../../hack/cluster/test/cluster-env.js';
import type { ClusterEnv } from '../../../../hack/cluster/test/cluster-env.js';
import { buildImage, pushImage, RegistryClients } from '../../src/image/image.js';
import { nodeServiceImage } from '../../src/image/node.js';
import { ensureUserServiceBuilt, sharedCache, userServiceDir } from './helpers.js';

const cluster = requireCluster();
const skip = typeof cluster === 'string' ? cluster : false;
const ns = `image-it-${randomBytes(3).toString('hex')}`;

after(() => {
  if (!skip) run('kubectl', ['delete', 'namespace', ns, '--wait=false'], cluster as ClusterEnv);
});

test(
  'user-service image runs as a restricted pod and reports its version',
  { skip, timeout: 300_000 },
  async (t) => {
    const env = cluster as ClusterEnv;
    ensureUserServiceBuilt();
    const version = `0.0.0-image-it.${Date.now()}`;
    const cache = sharedCache();
    const clients = new RegistryClients();
    const { build } = nodeServiceImage(userServiceDir, {
      base: env.GANTRY_NODE_BASE_IMAGE,
      version,
      gitSha: 'f'.repeat(40),
      exposedPorts: [8080],
    });
    const image = await buildImage({ ...build, cache, clients });
    const pushed = await pushImage(
      image,
      `${env.GANTRY_REGISTRY}/gantry-it/image-test:${version}`,
      {
        cache,
        clients,
      },
    );
    t.diagnostic(`pushed ${pushed.pinned}: ${pushed.blobs.map((b) => b.result).join(', ')}`);

    kubectl(env, ['create', 'namespace', ns]);
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'user-service', namespace: ns },
      spec: {
        automountServiceAccountToken: false,
        securityContext: {
          runAsNonRoot: true,
          runAsUser: 65532,
          runAsGroup: 65532,
          seccompProfile: { type: 'RuntimeDefault' },
        },
        containers: [
          {
            name: 'app',
            image: pushed.pinned,
            env: [
              { name: 'DATABASE_URL', value: 'sqlite::memory:' },
              { name: 'PORT', value: '8080' },
            ],
            ports: [{ containerPort: 8080 }],
            readinessProbe: { httpGet: { path: '/readyz', port: 8080 }, periodSeconds: 1 },
            securityContext: {
              readOnlyRootFilesystem: true,
              allowPrivilegeEscalation: false,
              capabilities: { drop: ['ALL'] },
            },
            volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
          },
        ],
        volumes: [{ name: 'tmp', emptyDir: { medium: 'Memory' } }],
      },
    };
    kubectl(env, ['apply', '-f', '-'], JSON.stringify(pod));
    const waited = run(
      'kubectl',
      ['-n', ns, 'wait', '--for=condition=Ready', 'pod/user-service', '--timeout=120s'],
      env,
    );
    if (waited.status !== 0) {
      const describe = run('kubectl', ['-n', ns, 'describe', 'pod', 'user-service'], env);
      const logs = run('kubectl', ['-n', ns, 'logs', 'user-service', '--tail=30'], env);
      assert.fail(
        `pod not ready: ${waited.stderr}\n${describe.stdout.slice(-2500)}\n${logs.stdout}${logs.stderr}`,
      );
    }
    const ip = kubectl(env, [
      '-n',
      ns,
      'get',
      'pod',
      'user-service',
      '-o',
      'jsonpath={.status.podIP}',
    ]).trim();
    assert.match(ip, /^10\.244\.\d+\.\d+$/, 'a pod IP on the cluster network');
    const res = await fetch(`http://${ip}:8080/version`, { signal: AbortSignal.timeout(5000) });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { version: string; gitSha: string };
    assert.equal(body.version, version);
    assert.equal(body.gitSha, 'f'.repeat(40));
  },
);
