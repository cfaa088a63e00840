import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  SpecError,
  parseSpec,
  resolveNotifyTargets,
  withoutInlineWebhooks,
} from '../../src/spec/index.js';
import { MINIMAL, problems } from './problems.js';

const base = MINIMAL;

test('a minimal spec gets every default', () => {
  const spec = parseSpec(base);
  assert.equal(spec.namespace, 'default');
  assert.equal(spec.replicas, 1);
  assert.deepEqual(spec.ports, [{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
  assert.deepEqual(spec.rollingUpdate, { maxSurge: '25%', maxUnavailable: 0 });
  assert.equal(spec.service.type, 'ClusterIP');
  assert.deepEqual(spec.resources.requests, { cpu: '100m', memory: '128Mi' });
});

test('wrong type names file, line, column and field', () => {
  assert.deepEqual(problems(base + 'replicas: three\n'), [
    'svc.yaml:4:11: replicas: expected a whole number, got "three"',
  ]);
});

test('unknown keys are rejected with a suggestion', () => {
  assert.deepEqual(problems(base + 'replica: 3\n'), [
    'svc.yaml:4:1: replica: unknown field (did you mean "replicas"?)',
  ]);
  assert.deepEqual(problems(base + 'ports:\n  - containerPort: 80\n    protocl: TCP\n'), [
    'svc.yaml:6:5: ports[0].protocl: unknown field (did you mean "protocol"?)',
  ]);
});

test('an unknown key with no close match lists the known fields', () => {
  const [p] = problems(base + 'probes:\n  zzzzzz: {path: /}\n');
  assert.match(
    p!,
    /^svc\.yaml:5:3: probes\.zzzzzz: unknown field; known fields: liveness, readiness, startup$/,
  );
});

test('missing required fields are named', () => {
  assert.deepEqual(problems('apiVersion: gantry.dev/v1alpha1\nname: users\n'), [
    'svc.yaml:1:1: image: required field is missing (expected a string)',
  ]);
});

test('secret values in the spec are refused and never echoed', () => {
  const out = problems(base + 'secrets:\n  DB: "postgres://user:hunter2@db/x"\n').join('\n');
  assert.match(
    out,
    /secrets\.DB: expected \{ fromEnv: VAR \} or \{ fromFile: path \} \(secret values never live in the spec\), got a string \(value not shown\)/,
  );
  assert.doesNotMatch(out, /hunter2/);
  const inline = problems(base + 'secrets:\n  DB:\n    value: hunter2\n').join('\n');
  assert.match(inline, /secrets\.DB\.value: secret values must not be written in the spec/);
  assert.doesNotMatch(inline, /hunter2/);
});

test('enums, ranges and cross-field rules', () => {
  assert.deepEqual(problems(base + 'service: {type: Cluster}\n'), [
    'svc.yaml:4:17: service.type: must be one of: "ClusterIP", "NodePort", "LoadBalancer", "None"; got "Cluster"',
  ]);
  const [a] = problems(base + 'autoscaling: {minReplicas: 5, maxReplicas: 2}\n');
  assert.match(a!, /autoscaling: maxReplicas must be at least minReplicas/);
  const [port] = problems(base + 'ports: [{containerPort: 70000}]\n');
  assert.match(port!, /ports\[0\]\.containerPort: must be at most 65535, got 70000$/);
});

test('YAML syntax errors point at the position', () => {
  const [p] = problems(base + 'replicas: [1,\n');
  assert.match(p!, /^svc\.yaml:\d+:\d+: YAML: /);
});

test('a document that is not a mapping is rejected', () => {
  assert.deepEqual(problems('- a\n- b\n'), [
    'svc.yaml:1:1: the spec must be a YAML mapping (key: value)',
  ]);
});

test('release webhooks: URL and DingTalk secret from env or file, never echoed, read at release time', () => {
  const notify = (item: string) => `${base}release:\n  notify:\n    - ${item}\n`;
  const plain = problems(
    notify(
      '{ url: "https://robot.example/send?access_token=t0k3n", format: dingtalk, secret: SECabc123 }',
    ),
  ).join('\n');
  assert.match(
    plain,
    /release\.notify\[0\]\.secret: expected \{ fromEnv: VAR \} or \{ fromFile: path \}.*, got a string \(value not shown\)/,
  );
  assert.doesNotMatch(plain, /SECabc123/);
  const inline = problems(notify('{ url: { value: "https://x/?k=t0k3n" }, format: json }')).join(
    '\n',
  );
  assert.match(
    inline,
    /release\.notify\[0\]\.url\.value: secret values must not be written in the spec/,
  );
  assert.doesNotMatch(inline, /t0k3n/);
  assert.match(
    problems(notify('{ url: "https://x/hook", format: wecom, secret: { fromEnv: S } }')).join('\n'),
    /release\.notify\[0\]\.secret: secret signs DingTalk robot messages: it needs format: dingtalk/,
  );

  const dir = mkdtempSync(join(tmpdir(), 'gantry-notify-'));
  try {
    writeFileSync(join(dir, 'ding.url'), 'https://robot.example/send?access_token=t0k3n\n');
    const spec = parseSpec(
      notify(
        '{ url: { fromFile: ding.url }, format: dingtalk, secret: { fromEnv: DING_SECRET } }',
      ) + '    - { url: "https://plain.example/hook" }\n',
    );
    assert.deepEqual(resolveNotifyTargets(spec, dir, { DING_SECRET: 'SECabc123' }), {
      targets: [
        {
          url: 'https://robot.example/send?access_token=t0k3n',
          format: 'dingtalk',
          secret: 'SECabc123',
        },
        { url: 'https://plain.example/hook', format: 'json' },
      ],
      problems: [],
    });
    const missing = resolveNotifyTargets(spec, join(dir, 'elsewhere'), {
      DING_SECRET: 'not a url',
    });
    assert.equal(missing.targets.length, 1, 'the target that resolves is kept');
    assert.deepEqual(missing.problems, [
      `release.notify[0].url: cannot read ${join(dir, 'elsewhere', 'ding.url')} (ENOENT)`,
    ]);
    const notUrl = parseSpec(notify('{ url: { fromEnv: HOOK } }'));
    assert.deepEqual(
      resolveNotifyTargets(notUrl, dir, { HOOK: 'secret-ish but no URL' }).problems,
      ['release.notify[0].url: the value read is not a URL'],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a stored spec keeps inline webhook URLs as digests, resolved again from the local spec', () => {
  const token = 'https://robot.example/send?access_token=t0k3n';
  const spec = parseSpec(
    `${base}release:\n  notify:\n    - { url: "${token}", format: dingtalk }\n` +
      '    - { url: { fromEnv: HOOK } }\n',
  );
  const stored = withoutInlineWebhooks(spec);
  assert.doesNotMatch(JSON.stringify(stored), /t0k3n/);
  assert.match(JSON.stringify(stored.release.notify[0]?.url), /^"redacted:sha256:[0-9a-f]{64}"$/);
  assert.deepEqual(stored.release.notify[1]?.url, { fromEnv: 'HOOK' }, 'sources stay as written');
  assert.equal(spec.release.notify[0]?.url, token, 'the input is not changed');
  assert.equal(withoutInlineWebhooks(stored), stored, 'a stored spec comes back as it is');

  const env = { HOOK: 'https://hooks.example/x' };
  // The process given the spec sends to both; one without it only to the env-sourced one.
  assert.deepEqual(resolveNotifyTargets(stored, '.', env, spec).targets, [
    { url: token, format: 'dingtalk' },
    { url: 'https://hooks.example/x', format: 'json' },
  ]);
  const elsewhere = resolveNotifyTargets(stored, '.', env);
  assert.deepEqual(elsewhere.targets, [{ url: 'https://hooks.example/x', format: 'json' }]);
  assert.match(
    elsewhere.problems.join('\n'),
    /release\.notify\[0\]\.url was written inline in the spec, and a release does not store inline webhook URLs: give this command the same spec with -f/,
  );
  // Another spec's URL is not taken for it.
  const other = parseSpec(`${base}release:\n  notify:\n    - { url: "https://other.example/" }\n`);
  assert.equal(resolveNotifyTargets(stored, '.', env, other).targets.length, 1);
});

test('alert receiver credentials written inline are refused and never echoed', () => {
  const text = `apiVersion: gantry.dev/v1alpha1
name: shop
image: example/shop:1
monitoring:
  receivers:
    mail: { kind: email, to: [a@b.c], from: x@b.c, smarthost: 'smtp.b.c:587', authPassword: hunter2-pw }
    ding: { kind: dingtalk, url: 'https://oapi.dingtalk.com/robot/send?access_token=tok3n-value' }
    sms:
      kind: sms
      provider: aliyun
      accessKeyId: LTAI-key-id
      accessKeySecret: { fromEnv: K }
      signName: S
      templateCode: SMS_1
      phoneNumbers: ['1']
`;
  assert.throws(
    () => parseSpec(text, 'm.yaml'),
    (err: unknown) => {
      assert.ok(err instanceof SpecError);
      const msg = err.message;
      for (const v of ['hunter2-pw', 'tok3n-value', 'LTAI-key-id'])
        assert.ok(!msg.includes(v), msg);
      assert.match(msg, /monitoring\.receivers\.mail\.authPassword: expected \{ fromEnv: VAR \}/);
      assert.match(msg, /monitoring\.receivers\.ding\.url: expected \{ fromEnv: VAR \}/);
      assert.match(msg, /monitoring\.receivers\.sms\.accessKeyId: expected \{ fromEnv: VAR \}/);
      return true;
    },
  );
});
