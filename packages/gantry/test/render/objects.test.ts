import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSpec } from '../../src/spec/index.js';
import type { ServiceSpec } from '../../src/spec/index.js';
import {
  ANNOTATION_CONFIG_HASH,
  redactSecrets,
  renderService,
  toYaml,
} from '../../src/render/index.js';
import type { KubeObject } from '../../src/render/index.js';

const seed = `apiVersion: gantry.dev/v1alpha1
name: user-service
namespace: shop
image: reg.local/user-service
replicas: 3
ports: [{ name: http, containerPort: 8080, servicePort: 80 }]
config: { LOG_LEVEL: info }
secrets: { DATABASE_URL: { fromEnv: DB_URL } }
probes:
  readiness: { path: /readyz }
  liveness: { path: /healthz }
rollingUpdate: { maxSurge: 2, maxUnavailable: 1 }
metrics: {}
`;

const spec = (extra = ''): ServiceSpec => parseSpec(seed + extra);
const find = (objs: KubeObject[], kind: string): KubeObject => {
  const o = objs.find((x) => x.kind === kind);
  assert.ok(o, `no ${kind} rendered`);
  return o;
};
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

test('renders the seed objects in apply order', () => {
  const objs = renderService(spec(), { secretValues: { DATABASE_URL: 'postgres://db' } });
  assert.deepEqual(
    objs.map((o) => o.kind),
    ['ServiceAccount', 'ConfigMap', 'Secret', 'Deployment', 'Service'],
  );
  for (const o of objs) {
    assert.equal(o.metadata.namespace, 'shop');
    assert.equal(o.metadata.labels?.['app.kubernetes.io/managed-by'], 'gantry');
    assert.equal(o.metadata.labels?.['app.kubernetes.io/name'], 'user-service');
  }
  const d = find(objs, 'Deployment') as Any;
  assert.equal(d.spec.replicas, 3);
  assert.deepEqual(d.spec.strategy.rollingUpdate, { maxSurge: 2, maxUnavailable: 1 });
  const svc = find(objs, 'Service') as Any;
  assert.deepEqual(svc.spec.ports, [
    { name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' },
  ]);
  // The Service selects the stable track only; the pods carry it, the Deployment's
  // (immutable) selector does not, so a canary Deployment can be added beside it.
  assert.deepEqual(svc.spec.selector, {
    ...d.spec.selector.matchLabels,
    'gantry.dev/track': 'stable',
  });
  assert.equal(d.spec.template.metadata.labels['gantry.dev/track'], 'stable');
  assert.equal(d.spec.selector.matchLabels['gantry.dev/track'], undefined);
});

test('pods meet Pod Security "restricted"', () => {
  const d = find(renderService(spec()), 'Deployment') as Any;
  const pod = d.spec.template.spec;
  assert.equal(pod.securityContext.runAsNonRoot, true);
  assert.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault');
  assert.equal(pod.automountServiceAccountToken, false);
  for (const c of pod.containers) {
    assert.equal(c.securityContext.allowPrivilegeEscalation, false);
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    assert.deepEqual(c.securityContext.capabilities.drop, ['ALL']);
    assert.equal(c.securityContext.runAsNonRoot, true);
  }
  for (const v of pod.volumes) {
    assert.ok(!('hostPath' in v), 'restricted pods may not use hostPath');
  }
});

test('the selector never includes the version', () => {
  const a = find(renderService(spec(), { version: '1.0.0' }), 'Deployment') as Any;
  const b = find(renderService(spec(), { version: '2.0.0-dev.3+abc' }), 'Deployment') as Any;
  assert.deepEqual(a.spec.selector, b.spec.selector);
  assert.equal(b.metadata.labels['app.kubernetes.io/version'], '2.0.0-dev.3_abc');
});

test('a config or secret change changes the pod template hash; nothing else does', () => {
  const hash = (s: ServiceSpec, secret: string) =>
    (find(renderService(s, { secretValues: { DATABASE_URL: secret } }), 'Deployment') as Any).spec
      .template.metadata.annotations[ANNOTATION_CONFIG_HASH] as string;
  const h0 = hash(spec(), 'a');
  assert.equal(hash(spec(), 'a'), h0);
  assert.notEqual(hash(spec(), 'b'), h0);
  const changed = spec();
  changed.config.LOG_LEVEL = 'debug';
  assert.notEqual(hash(changed, 'a'), h0);
});

test('a missing secret value is an error, and redaction hides values', () => {
  assert.throws(() => renderService(spec(), { secretValues: {} }), /DATABASE_URL/);
  const objs = redactSecrets(renderService(spec(), { secretValues: { DATABASE_URL: 'hunter2' } }));
  assert.doesNotMatch(toYaml(objs), new RegExp(Buffer.from('hunter2').toString('base64')));
});

test('autoscaling leaves replicas to the HPA', () => {
  const objs = renderService(spec('autoscaling: { minReplicas: 2, maxReplicas: 6 }\n'));
  const d = find(objs, 'Deployment') as Any;
  assert.equal(d.spec.replicas, undefined);
  const hpa = find(objs, 'HorizontalPodAutoscaler') as Any;
  assert.equal(hpa.spec.scaleTargetRef.name, 'user-service');
  assert.equal(hpa.spec.maxReplicas, 6);
});

test('metrics annotations resolve a named port', () => {
  const d = find(renderService(spec()), 'Deployment') as Any;
  const ann = d.spec.template.metadata.annotations;
  assert.equal(ann['prometheus.io/scrape'], 'true');
  assert.equal(ann['prometheus.io/port'], '8080');
  assert.equal(ann['prometheus.io/path'], '/metrics');
});

test('routes become HTTPRoutes on the named gateway', () => {
  const objs = renderService(spec('routes: [{ hostnames: [users.test], gateway: infra/edge }]\n'));
  const r = find(objs, 'HTTPRoute') as Any;
  assert.deepEqual(r.spec.parentRefs, [{ name: 'edge', namespace: 'infra' }]);
  assert.deepEqual(r.spec.rules[0].backendRefs, [{ name: 'user-service', port: 80 }]);
});

test('PDB and NetworkPolicy select the service pods', () => {
  const objs = renderService(
    spec(
      'disruptionBudget: { maxUnavailable: 1 }\nnetworkPolicy: { allowFrom: [{ namespace: gw }] }\n',
    ),
  );
  const d = find(objs, 'Deployment') as Any;
  const pdb = find(objs, 'PodDisruptionBudget') as Any;
  const np = find(objs, 'NetworkPolicy') as Any;
  assert.deepEqual(pdb.spec.selector.matchLabels, d.spec.selector.matchLabels);
  assert.deepEqual(np.spec.podSelector.matchLabels, d.spec.selector.matchLabels);
  assert.deepEqual(np.spec.ingress[0].from, [
    { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'gw' } } },
  ]);
});

test('mounts of Secrets and ConfigMaps made elsewhere: read-only volumes, not in the hash', () => {
  const objs = renderService(
    spec(`mounts:
  - { secret: alert-relay-channels, path: /etc/relay/channels, optional: true }
  - { configMap: shared, path: /etc/shared }
`),
    { secretValues: { DATABASE_URL: 'x' } },
  );
  type Pod = {
    volumes: { name: string }[];
    containers: { volumeMounts: unknown[] }[];
  };
  const pod = (find(objs, 'Deployment') as Any).spec.template.spec as Pod;
  assert.deepEqual(
    pod.volumes.map((v) => v.name),
    ['tmp', 'config', 'secrets', 'mount-0', 'mount-1'],
  );
  assert.deepEqual(pod.volumes[3], {
    name: 'mount-0',
    secret: { secretName: 'alert-relay-channels', defaultMode: 0o440, optional: true },
  });
  assert.deepEqual(pod.volumes[4], { name: 'mount-1', configMap: { name: 'shared' } });
  assert.deepEqual(pod.containers[0]!.volumeMounts.slice(3), [
    { name: 'mount-0', mountPath: '/etc/relay/channels', readOnly: true },
    { name: 'mount-1', mountPath: '/etc/shared', readOnly: true },
  ]);
  // Gantry does not read the mounted objects: the pod template does not change with them.
  const plain = renderService(spec(), { secretValues: { DATABASE_URL: 'x' } });
  assert.equal(
    (find(objs, 'Deployment') as Any).spec.template.metadata.annotations[ANNOTATION_CONFIG_HASH],
    (find(plain, 'Deployment') as Any).spec.template.metadata.annotations[ANNOTATION_CONFIG_HASH],
  );
});

test('a fixed node port is rendered on the Service port; the canary Service takes none', async () => {
  const s = spec(`service: { type: NodePort }
release: { strategy: canary }
mounts: [{ secret: shared, path: /etc/shared }]
`);
  const ports = (find(renderService(s), 'Service') as Any).spec.ports;
  assert.equal(ports[0].nodePort, undefined);
  s.ports[0] = { ...s.ports[0]!, nodePort: 30093 };
  const svc = find(renderService(s), 'Service') as Any;
  assert.equal(svc.spec.type, 'NodePort');
  assert.deepEqual(svc.spec.ports[0], {
    name: 'http',
    port: 80,
    targetPort: 'http',
    protocol: 'TCP',
    nodePort: 30093,
  });
  const { renderCanary } = await import('../../src/progressive/canary.js');
  const canary = renderCanary(s, { replicas: 1 });
  const canarySvc = find(canary, 'Service') as Any;
  assert.equal(canarySvc.spec.type, 'ClusterIP');
  assert.equal(canarySvc.spec.ports[0].nodePort, undefined);
  // The canary gets its own copy of the service's Secret, but mounts the shared one as it is.
  const vols = (find(canary, 'Deployment') as Any).spec.template.spec.volumes as {
    secret?: { secretName: string };
  }[];
  assert.deepEqual(
    vols.flatMap((v) => (v.secret ? [v.secret.secretName] : [])),
    ['user-service-canary-secrets', 'shared'],
  );
});
