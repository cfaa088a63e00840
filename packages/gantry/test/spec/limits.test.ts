// Invalid input of every kind — YAML syntax, aliases, sizes, numbers out of range — is a
// SpecError naming file:line:col and field, with short messages that never echo a long value.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  SPEC_LIMITS,
  SpecError,
  excerpt,
  formatProblem,
  loadSpecFile,
  SecretSourceError,
  parseSpec,
  resolveSecretValues,
} from '../../src/spec/index.js';
import { MINIMAL, problems } from './problems.js';

const base = MINIMAL;

test('numbers out of range, NaN and infinities get accurate messages', () => {
  assert.deepEqual(problems(base + 'replicas: 1e309\n'), [
    'svc.yaml:4:11: replicas: expected a whole number, got 1e309 (out of range)',
  ]);
  assert.deepEqual(problems(base + 'replicas: .nan\n'), [
    'svc.yaml:4:11: replicas: expected a whole number, got .nan (not a number)',
  ]);
  assert.deepEqual(problems(base + 'replicas: -.inf\n'), [
    'svc.yaml:4:11: replicas: expected a whole number, got -.inf (infinite)',
  ]);
  assert.deepEqual(problems(base + 'replicas: 2.5\n'), [
    'svc.yaml:4:11: replicas: expected a whole number, got 2.5',
  ]);
  assert.deepEqual(problems(base + 'replicas:\n'), [
    'svc.yaml:4:10: replicas: expected a whole number, got an empty value',
  ]);
  assert.deepEqual(problems(base + 'ports: [{containerPort: 1e309}]\n'), [
    'svc.yaml:4:25: ports[0].containerPort: expected a whole number, got 1e309 (out of range)',
  ]);
  assert.deepEqual(problems(base + 'disruptionBudget: {minAvailable: .nan}\n'), [
    'svc.yaml:4:34: disruptionBudget.minAvailable: expected a whole number or a string, got .nan (not a number)',
  ]);
  assert.deepEqual(problems(base + 'resources: {requests: {cpu: .inf}}\n'), [
    'svc.yaml:4:29: resources.requests.cpu: expected a number or a string, got .inf (infinite)',
  ]);
});

test('int32 fields are range-checked at the spec field, not at the rendered Deployment', () => {
  const int32 = (field: string, yaml: string, col: number) =>
    assert.deepEqual(problems(base + yaml + '\n'), [
      `svc.yaml:4:${col}: ${field}: must be at most 2147483647 (the largest 32-bit integer), got 99999999999`,
    ]);
  int32('progressDeadlineSeconds', 'progressDeadlineSeconds: 99999999999', 26);
  int32('terminationGracePeriodSeconds', 'terminationGracePeriodSeconds: 99999999999', 32);
  int32(
    'probes.liveness.periodSeconds',
    'probes: {liveness: {path: /h, periodSeconds: 99999999999}}',
    46,
  );
  int32('autoscaling.maxReplicas', 'autoscaling: {minReplicas: 1, maxReplicas: 99999999999}', 44);
  int32('rollingUpdate.maxSurge', 'rollingUpdate: {maxSurge: 99999999999}', 27);
  assert.deepEqual(problems(base + 'replicas: 12345678901234567890\n'), [
    'svc.yaml:4:11: replicas: must be at most 1000, got 12345678901234567890 (out of range)',
  ]);
});

test('route hostnames are checked at the spec field, and long values are never echoed', () => {
  const long = 'a'.repeat(100_000);
  const [p, ...rest] = problems(`${base}routes:\n  - hostnames: ["${long}"]\n    gateway: gw\n`);
  assert.equal(rest.length, 0);
  assert.equal(
    p,
    'svc.yaml:5:17: routes[0].hostnames[0]: must be at most 253 characters long, got 100000',
  );
  assert.deepEqual(problems(`${base}routes:\n  - hostnames: [Bad_Host]\n    gateway: gw\n`), [
    'svc.yaml:5:17: routes[0].hostnames[0]: must be a lower-case DNS name (letters, digits, "-" and "."), optionally starting with "*.", got "Bad_Host"',
  ]);
  const [g] = problems(`${base}routes:\n  - hostnames: [a.example]\n    gateway: "-${long}"\n`);
  assert.ok(g!.length < 300, g);
  assert.match(
    g!,
    /routes\[0\]\.gateway: must be NAME or NAMESPACE\/NAME .*, got "-a{58}"… \(100001 characters\)$/,
  );
  // Long keys too: the field path shows an excerpt.
  const [k] = problems(`${base}${'k'.repeat(1000)}: 1\n`);
  assert.match(k!, /^svc\.yaml:4:1: k{39}… \(1000 characters\): unknown field; known fields: /);
});

test('excerpt keeps 60 characters, never splits a surrogate pair, and says how long', () => {
  assert.equal(excerpt('short'), 'short');
  assert.equal(excerpt('x'.repeat(100)), `${'x'.repeat(59)}… (100 characters)`);
  const emoji = 'x'.repeat(58) + '😀'.repeat(10);
  assert.equal(excerpt(emoji), `${'x'.repeat(58)}… (78 characters)`);
});

test('an undefined alias, an alias cycle and a mapping as a key are spec errors with a place', () => {
  assert.deepEqual(problems(base + 'labels: {a: *nope}\n'), [
    'svc.yaml:4:13: labels.a: YAML: alias *nope names no anchor (&nope) set before it',
  ]);
  assert.deepEqual(problems(base + 'command: &c [*c]\n'), [
    'svc.yaml:4:14: command[0]: YAML: alias *c is inside the node it names (a cycle)',
  ]);
  assert.deepEqual(problems(base + 'labels:\n  ? {a: 1}\n  : x\n'), [
    'svc.yaml:5:5: labels: YAML: a key must be a plain value such as a name, not a mapping, a list or binary data',
  ]);
  assert.deepEqual(problems(base + '---\nname: other\n'), [
    'svc.yaml:4:1: YAML: a spec is one YAML document, and this file holds more (a second --- starts one)',
  ]);
});

test('an alias bomb ("billion laughs") is refused where it passes the limit, in little time', () => {
  let text = base + 'x0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n';
  for (let i = 1; i < 12; i++) {
    text += `x${i}: &a${i} [${Array(10)
      .fill(`*a${i - 1}`)
      .join(', ')}]\n`;
  }
  const t0 = Date.now();
  const [p, ...rest] = problems(text);
  assert.equal(rest.length, 0);
  assert.match(
    p!,
    /^svc\.yaml:\d+:\d+: x\d+\[\d+\]: YAML: the document grows past 2 MiB here when its aliases are expanded/,
  );
  assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms`);
});

test('an anchor used too often: over 100 aliases', () => {
  const text =
    base + 'env:\n  A: &v x\n' + Array.from({ length: 101 }, (_, i) => `  B${i}: *v\n`).join('');
  assert.deepEqual(problems(text), [
    'svc.yaml:106:9: env.B100: YAML: more than 100 aliases (*name) in one document',
  ]);
});

test('amplification: a large value aliased many times is refused before anything renders', () => {
  const big = 'x'.repeat(300_000);
  const text =
    base +
    `config:\n  k0: &v "${big}"\n` +
    Array.from({ length: 99 }, (_, i) => `  k${i + 1}: *v\n`).join('');
  const [p, ...rest] = problems(text);
  assert.equal(rest.length, 0);
  assert.match(p!, /^svc\.yaml:\d+:7: config\.k\d: YAML: the document grows past 2 MiB/);
});

test("config beyond a ConfigMap's 1 MiB is reported at config", () => {
  const big = 'x'.repeat(600_000);
  assert.deepEqual(problems(`${base}config:\n  a: &v "${big}"\n  b: *v\n`), [
    'svc.yaml:4:1: config: keys and values total 1200002 bytes; a ConfigMap holds at most 1048576 (1 MiB): ship larger files in the image or a volume',
  ]);
});

test('source size and nesting depth are capped before parsing', () => {
  const huge = base + `x: "${'a'.repeat(SPEC_LIMITS.sourceBytes)}"\n`;
  assert.deepEqual(problems(huge), [
    `svc.yaml:1:1: the spec is ${huge.length} bytes; a spec may be at most 1048576 bytes (1 MiB)`,
  ]);
  const t0 = Date.now();
  assert.deepEqual(problems(base + 'labels: ' + '['.repeat(200_000) + ']'.repeat(200_000) + '\n'), [
    'svc.yaml:4:521: YAML: nested too deeply to read (a spec needs a few levels)',
  ]);
  assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms`);

  const dir = mkdtempSync(join(tmpdir(), 'gantry-limits-'));
  try {
    const file = join(dir, 'gantry.yaml');
    writeFileSync(file, huge);
    assert.throws(
      () => loadSpecFile(file),
      (err: unknown) =>
        err instanceof SpecError &&
        formatProblem(err.problems[0]!) ===
          `${file}: the spec is ${huge.length} bytes; a spec may be at most 1048576 bytes (1 MiB)`,
    );
    assert.throws(
      () => loadSpecFile(dir),
      (err: unknown) =>
        err instanceof SpecError &&
        formatProblem(err.problems[0]!) === `${dir}: is a directory, not a spec file`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // A device or pipe has no size to check first: reading stops past the limit.
  if (existsSync('/dev/zero')) {
    assert.throws(
      () => loadSpecFile('/dev/zero'),
      (err: unknown) =>
        err instanceof SpecError &&
        formatProblem(err.problems[0]!) ===
          '/dev/zero: the spec is over 1048576 bytes (1 MiB), the most a spec may be',
    );
  }
});

test('at most 50 problems are listed; the rest are counted', () => {
  const text = base + 'env:\n' + Array.from({ length: 120 }, (_, i) => `  ${i}x: v\n`).join('');
  try {
    parseSpec(text, 'svc.yaml');
    assert.fail('spec was accepted');
  } catch (err) {
    assert.ok(err instanceof SpecError);
    assert.equal(err.problems.length, 50);
    assert.equal(err.omitted, 70);
    assert.match(err.message, /^invalid spec \(120 problems, the first 50 shown\):\n/);
  }
});

test("secret values read at deploy time are held to a Secret's 1 MiB, never echoed", () => {
  const spec = parseSpec(`${base}secrets:\n  A: { fromEnv: BIG_A }\n  B: { fromEnv: BIG_B }\n`);
  const big = 's3cr3t'.repeat(100_000);
  assert.throws(
    () => resolveSecretValues(spec, '.', { BIG_A: big, BIG_B: big }),
    (err: unknown) =>
      err instanceof SecretSourceError &&
      err.message ===
        'secrets: the values read and their keys total 1200002 bytes; a Secret holds at most 1048576 (1 MiB)',
  );
  assert.deepEqual(resolveSecretValues(spec, '.', { BIG_A: 'a', BIG_B: 'b' }), { A: 'a', B: 'b' });
});
