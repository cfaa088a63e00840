// The API server's own rules, checked offline on the spec (src/validate/k8s-rules.ts),
// each reported at the spec's field with file:line:col.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SpecError, parseSpec } from '../../src/spec/index.js';
import type { SpecProblem } from '../../src/spec/index.js';
import {
  configKeyProblems,
  labelValueProblems,
  portNameProblems,
  qualifiedNameProblems,
  quantityNanos,
  routePathProblems,
} from '../../src/validate/k8s-format.js';
import { k8sRuleProblems } from '../../src/validate/k8s-rules.js';
import { checkKubernetesRules, validateSpecText } from '../../src/validate/spec-check.js';

const repo = fileURLToPath(new URL('../../../../', import.meta.url));

const base = `apiVersion: gantry.dev/v1alpha1
name: web
image: reg.local/web:1
`;

/**
 * The problems reported for a spec (base plus `extra`): loading runs the rules (with the
 * references between fields), and checkKubernetesRules runs them on a loaded spec.
 */
function problems(extra: string, head = base): SpecProblem[] {
  try {
    checkKubernetesRules(parseSpec(head + extra, 'svc.yaml'));
    return [];
  } catch (err) {
    assert.ok(err instanceof SpecError, String(err));
    return [...err.problems];
  }
}

function one(extra: string, field: string, message: RegExp, head = base): SpecProblem {
  const ps = problems(extra, head);
  const p = ps.find((x) => x.field === field);
  assert.ok(p, `expected a problem at ${field}, got ${JSON.stringify(ps)}`);
  assert.match(p.message, message);
  return p;
}

test('the seed, the deploy/ specs and a spec with defaults pass', () => {
  assert.deepEqual(problems(''), []);
  for (const f of ['deploy/user-service/gantry.yaml', 'deploy/alert-relay/gantry.yaml']) {
    const text = readFileSync(join(repo, f), 'utf8');
    assert.deepEqual(k8sRuleProblems(parseSpec(text, f)), [], f);
  }
});

test('a Service name must start with a letter (DNS-1035); without a Service it need not', () => {
  const p = one('', 'name', /DNS-1035/, base.replace('name: web', 'name: 1web'));
  assert.equal(p.file, 'svc.yaml');
  assert.equal(p.line, 2);
  assert.equal(p.column, 7);
  assert.deepEqual(
    problems('service: { type: None }\n', base.replace('name: web', 'name: 1web')),
    [],
  );
});

test('a progressive release leaves room for the canary Service name', () => {
  const long = base.replace('name: web', `name: ${'a'.repeat(60)}`);
  assert.deepEqual(problems('', long), []);
  one('release: { strategy: canary }\n', 'name', /at most 56 characters/, long);
});

test('label keys and values', () => {
  one(`labels: { team: "${'x'.repeat(64)}" }\n`, 'labels.team', /no more than 63/);
  one('labels: { team: "-a" }\n', 'labels.team', /label value/);
  const key = one('labels: { "Bad_Prefix/x": a }\n', 'labels.Bad_Prefix/x', /prefix part/);
  assert.equal(key.line, 4);
  assert.equal(key.column, 11);
  one(
    `labels: { "${'k'.repeat(64)}": a }\n`,
    `labels.${'k'.repeat(39)}… (64 characters)`,
    /name part/,
  );
  assert.deepEqual(problems('labels: { "example.com/team": "", a.b_c: A-1.b }\n'), []);
  one(
    'networkPolicy: { allowFrom: [ { podLabels: { app: "a b" } } ] }\n',
    'networkPolicy.allowFrom[0].podLabels.app',
    /label value/,
  );
});

test('requests must not exceed limits', () => {
  one(
    'resources: { requests: { cpu: 500m, memory: 1Gi }, limits: { cpu: "0.4", memory: 2Gi } }\n',
    'resources.requests.cpu',
    /cpu limit/,
  );
  one(
    'resources: { requests: { memory: 1025Mi }, limits: { memory: 1Gi } }\n',
    'resources.requests.memory',
    /memory limit/,
  );
  assert.deepEqual(
    problems(
      'resources: { requests: { cpu: 1, memory: 1Gi }, limits: { cpu: 1000m, memory: 1073741824 } }\n',
    ),
    [],
  );
});

test('liveness and startup probes take successThreshold 1 only; readiness more', () => {
  const p = one(
    'probes: { liveness: { path: /h, successThreshold: 2 } }\n',
    'probes.liveness.successThreshold',
    /must be 1/,
  );
  assert.equal(p.line, 4);
  one(
    'probes: { startup: { path: /h, successThreshold: 3 } }\n',
    'probes.startup.successThreshold',
    /must be 1/,
  );
  assert.deepEqual(problems('probes: { readiness: { path: /h, successThreshold: 3 } }\n'), []);
});

test('port names are IANA service names, unique; Service ports unique per protocol', () => {
  one('ports: [ { name: "8080", containerPort: 8080 } ]\n', 'ports[0].name', /at least one letter/);
  one('ports: [ { name: a--b, containerPort: 8080 } ]\n', 'ports[0].name', /consecutive hyphens/);
  one(
    'ports: [ { containerPort: 8080 }, { containerPort: 9090 } ]\n',
    'ports[1].name',
    /duplicate port name "http"/,
  );
  one(
    'ports: [ { name: a, containerPort: 8080, servicePort: 80 }, { name: b, containerPort: 9090, servicePort: 80 } ]\n',
    'ports[1].servicePort',
    /80\/TCP/,
  );
  assert.deepEqual(
    problems(
      'ports: [ { name: a, containerPort: 53 }, { name: b, containerPort: 53, protocol: UDP } ]\n',
    ),
    [],
  );
  one(
    'ports: [ { name: a, containerPort: 80, servicePort: 80 }, { name: b, containerPort: 80, servicePort: 81 } ]\n',
    'ports[1].containerPort',
    /container port 80\/TCP/,
  );
});

test('rolling update and disruption budget', () => {
  one(
    'rollingUpdate: { maxSurge: 0, maxUnavailable: 0 }\n',
    'rollingUpdate.maxUnavailable',
    /may not be 0/,
  );
  one(
    'rollingUpdate: { maxSurge: "0%", maxUnavailable: 0 }\n',
    'rollingUpdate.maxUnavailable',
    /may not be 0/,
  );
  one('rollingUpdate: { maxUnavailable: "101%" }\n', 'rollingUpdate.maxUnavailable', /100%/);
  assert.deepEqual(problems('rollingUpdate: { maxSurge: "200%", maxUnavailable: 0 }\n'), []);
  one('disruptionBudget: { minAvailable: "150%" }\n', 'disruptionBudget.minAvailable', /100%/);
});

test('config and secret keys; mount paths', () => {
  one('config: { "..a": x }\n', 'config...a', /must not start with '..'/);
  one(`config: { ${'k'.repeat(254)}: x }\n`, `config.${'k'.repeat(39)}… (254 characters)`, /253/);
  one('secrets: { ".": { fromEnv: X } }\n', 'secrets..', /must not be '.'/);
  one('config: { a: b }\nconfigMountPath: /tmp\n', 'configMountPath', /\/tmp/);
  one(
    'config: { a: b }\nsecrets: { s: { fromEnv: S } }\nsecretMountPath: /etc/app/config\n',
    'secretMountPath',
    /configMountPath/,
  );
  // Only mounted volumes count; and the API server compares the strings only.
  assert.deepEqual(problems('configMountPath: /tmp\n'), []);
  assert.deepEqual(problems('config: { a: b }\nconfigMountPath: /tmp/\n'), []);
});

test('mounts of Secrets and ConfigMaps: DNS subdomain names, paths unique among all mounts', () => {
  assert.deepEqual(
    problems(`config: { a: b }
secrets: { s: { fromEnv: S } }
mounts:
  - { secret: alert-relay-channels, path: /etc/relay/channels, optional: true }
  - { configMap: a.b-c, path: /etc/relay/other }
`),
    [],
  );
  const p = one(
    'mounts: [{ secret: Bad_Name, path: /x }]\n',
    'mounts[0].secret',
    /names a Secret.*DNS-1123 subdomain/,
  );
  assert.equal(p.line, 4);
  one(
    `mounts: [{ configMap: '${'a'.repeat(254)}', path: /x }]\n`,
    'mounts[0].configMap',
    /no more than 253/,
  );
  one(
    'mounts: [{ secret: s, path: /tmp }]\n',
    'mounts[0].path',
    /already used by the scratch volume/,
  );
  one(
    'config: { a: b }\nmounts: [{ secret: s, path: /etc/app/config }]\n',
    'mounts[0].path',
    /already used by configMountPath/,
  );
  one(
    'secrets: { s: { fromEnv: S } }\nmounts: [{ configMap: c, path: /etc/app/secrets }]\n',
    'mounts[0].path',
    /already used by secretMountPath/,
  );
  one(
    'mounts: [{ secret: a, path: /m }, { configMap: b, path: /m }]\n',
    'mounts[1].path',
    /already used by mounts\[0\]\.path/,
  );
  // Without config or secrets gantry mounts neither, so their paths are free.
  assert.deepEqual(problems('mounts: [{ secret: s, path: /etc/app/config }]\n'), []);
  // Exactly one of secret and configMap (the spec schema).
  assert.throws(
    () => parseSpec(base + 'mounts: [{ secret: a, configMap: b, path: /m }]\n'),
    /exactly one of secret or configMap/,
  );
  assert.throws(() => parseSpec(base + 'mounts: [{ secret: a, path: m }]\n'), /mounts\[0\]\.path/);
});

test('node ports: 30000-32767, NodePort or LoadBalancer Services only, each used once', () => {
  const ports = (a: string, b = '') =>
    `ports:\n  - { name: http, containerPort: 8080${a} }\n${b ? `  - { name: dns, containerPort: 53${b} }\n` : ''}`;
  assert.deepEqual(problems(ports(', nodePort: 30093') + 'service: { type: NodePort }\n'), []);
  assert.deepEqual(problems(ports(', nodePort: 32767') + 'service: { type: LoadBalancer }\n'), []);
  for (const n of [29999, 32768]) {
    assert.throws(
      () => parseSpec(base + ports(`, nodePort: ${n}`) + 'service: { type: NodePort }\n'),
      /ports\[0\]\.nodePort.*30000-32767/s,
    );
  }
  one(ports(', nodePort: 30093'), 'ports[0].nodePort', /when service.type is ClusterIP/);
  one(
    ports(', nodePort: 30093') + 'service: { type: None }\n',
    'ports[0].nodePort',
    /needs a Service/,
  );
  // The allocator gives a node port to one Service port number: another number may not
  // share it, even in another protocol; the same number in TCP and UDP may.
  one(
    ports(', nodePort: 30093', ', protocol: UDP, nodePort: 30093') +
      'service: { type: NodePort }\n',
    'ports[1].nodePort',
    /node port 30093 is already used by ports\[0\] \(Service port 8080\)/,
  );
  assert.deepEqual(
    problems(
      'ports:\n  - { name: dns-tcp, containerPort: 53, nodePort: 30053 }\n' +
        '  - { name: dns-udp, containerPort: 53, protocol: UDP, nodePort: 30053 }\n' +
        'service: { type: NodePort }\n',
    ),
    [],
  );
});

test('image without surrounding whitespace; metrics path annotation size', () => {
  one('', 'image', /whitespace/, base.replace('reg.local/web:1', '" reg.local/web:1"'));
  one(`metrics: { path: /${'m'.repeat(256 * 1024)} }\n`, 'metrics.path', /256 KiB/);
});

test('a Deployment larger than etcd takes (env through aliases)', () => {
  const big = 'v'.repeat(400 * 1024);
  one(`env:\n  A: &a ${big}\n  B: *a\n  C: *a\n  D: *a\n`, 'env', /1\.5 MiB/);
});

test('HTTPRoute paths, match counts, gray headers', () => {
  const route = (r: string) => `routes:\n  - { gateway: gw, ${r} }\n`;
  assert.deepEqual(problems(route('hostnames: ["*.example.com", "1.2.3.4"]')), []);
  one(
    route('hostnames: [a.b], matches: [ { path: "/a//b" } ]'),
    'routes[0].matches[0].path',
    /'\/\/'/,
  );
  one(
    route('hostnames: [a.b], matches: [ { path: "/a/.." } ]'),
    'routes[0].matches[0].path',
    /end with/,
  );
  one(
    route('hostnames: [a.b], matches: [ { path: "/a b" } ]'),
    'routes[0].matches[0].path',
    /percent-encoded/,
  );
  const paths = (n: number) =>
    `matches: [${Array.from({ length: n }, (_, i) => `{ path: /p${i} }`).join(', ')}]`;
  one(route(`hostnames: [a.b], ${paths(65)}`), 'routes[0].matches', /at most 64/);
  assert.deepEqual(problems(route(`hostnames: [a.b], ${paths(64)}`)), []);
  // A gray release with a header and a user header repeats the matches in 3 rules.
  one(
    route(`hostnames: [a.b], ${paths(43)}`) +
      'release: { strategy: gray, gray: { header: { name: x-a, value: b }, userHeader: x-user } }\n',
    'routes[0].matches',
    /at most 42 matches/,
  );
  one(
    route('hostnames: [a.b]') + 'release: { strategy: gray, gray: { userHeader: "x user" } }\n',
    'release.gray.userHeader',
    /header name/,
  );
});

test('format predicates at their boundaries', () => {
  assert.deepEqual(portNameProblems('a'.repeat(15)), []);
  assert.equal(portNameProblems('a'.repeat(16)).length, 1);
  assert.deepEqual(labelValueProblems(''), []);
  assert.deepEqual(labelValueProblems('a'.repeat(63)), []);
  assert.deepEqual(qualifiedNameProblems(`${'a'.repeat(253)}/n`), []);
  assert.equal(qualifiedNameProblems(`${'a'.repeat(254)}/n`).length, 1);
  assert.deepEqual(configKeyProblems('.a'), []);
  assert.deepEqual(routePathProblems('/a%20b/~c'), []);
  assert.equal(quantityNanos('1Ki'), 1024n * 10n ** 9n);
  assert.equal(quantityNanos('250m'), 250n * 10n ** 6n);
  assert.equal(quantityNanos(1e-7), 100n);
  assert.equal(quantityNanos('1e3'), 1000n * 10n ** 9n);
  assert.equal(quantityNanos('0.1n'), 1n);
  assert.equal(quantityNanos('1.5.1'), undefined);
});

test('validateSpecText: rules first, at the spec field; then the OpenAPI schema', async () => {
  await assert.rejects(
    validateSpecText(`${base}rollingUpdate: { maxSurge: 0 }\n`, 'f.yaml'),
    (err: unknown) => {
      assert.ok(err instanceof SpecError);
      assert.match(err.message, /f\.yaml:4:\d+: rollingUpdate\.maxUnavailable: may not be 0/);
      return true;
    },
  );
  const ok = await validateSpecText(base, 'f.yaml');
  assert.equal(ok.spec.name, 'web');
  assert.ok(ok.objects.some((o) => o.kind === 'Deployment'));
});

test('a spec built in code has no source: problems name the field only', () => {
  const spec = { ...parseSpec(base), name: '9web' };
  assert.throws(
    () => checkKubernetesRules(spec),
    (err: unknown) => err instanceof SpecError && /gantry\.yaml: name: /.test(err.message),
  );
});

test('deploy runs the rules before it touches a cluster, with the spec location', async () => {
  const { deploy } = await import('../../src/release/deploy.js');
  const untouchable = new Proxy(
    {},
    {
      get() {
        throw new Error('deploy touched the cluster');
      },
    },
  ) as Parameters<typeof deploy>[0];
  const spec = parseSpec(`${base}secrets: { s: { fromEnv: S } }\n`, 'd.yaml');
  await assert.rejects(
    deploy(untouchable, spec, { secretValues: { s: 'x'.repeat(1024 * 1024 + 1) }, timeoutMs: 1 }),
    (err: unknown) =>
      err instanceof SpecError && /d\.yaml:4:\d+: secrets: the secret values are/.test(err.message),
  );
  // Loading refuses such a spec already; one built in code reaches deploy, which refuses it too.
  const bad = {
    ...parseSpec(base, 'd.yaml'),
    rollingUpdate: { maxSurge: 0, maxUnavailable: 0 },
  };
  await assert.rejects(
    deploy(untouchable, bad, { secretValues: {}, timeoutMs: 1 }),
    (err: unknown) =>
      err instanceof SpecError && /: rollingUpdate\.maxUnavailable/.test(err.message),
  );
});
