// Rendered YAML reads the same through YAML 1.1 and YAML 1.2 readers: every
// string that one of them (YAML 1.1, the 1.2 core schema, or Go's yaml.v2 as
// kubectl, Helm and Prometheus use it) would resolve to something else is
// quoted. Checked here with the `yaml` package's 1.1 and core schemas and by
// the scalar styles written; real-tools.test.ts checks with kubectl and Helm.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isMap, isScalar, isSeq, parse, parseAllDocuments } from 'yaml';
import { renderAlertRules, prometheusRuleObject, rulesYaml } from '../../src/monitor/index.js';
import { renderChart } from '../../src/render/chart.js';
import { renderService, stringifyYaml, toYaml } from '../../src/render/index.js';
import { parseSpec } from '../../src/spec/index.js';
import { ADVERSARIAL, adversarialSpec } from './adversarial.js';

/** Every case variant of a word: yes -> yes, yeS, yEs, ..., YES. */
function caseVariants(word: string): string[] {
  let out = [''];
  for (const c of word) {
    const forms = [...new Set([c.toLowerCase(), c.toUpperCase()])];
    out = out.flatMap((prefix) => forms.map((f) => prefix + f));
  }
  return out;
}

/** What a reader must get back: the value as JSON carries it. */
const json = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

/** Both readers read the whole stream as the given documents. */
function assertReadsBack(text: string, expected: unknown[]): void {
  for (const opts of [{ version: '1.1' as const }, { schema: 'core' as const }]) {
    const docs = parseAllDocuments(text, opts);
    assert.ok(Array.isArray(docs), 'a stream of documents');
    for (const d of docs) assert.deepEqual(d.errors, []);
    assert.deepEqual(
      docs.map((d) => json(d.toJS())),
      expected.map(json),
      `read with ${JSON.stringify(opts)}`,
    );
  }
}

/** Every plain (unquoted, not block) string scalar of a document, keys and values. */
function plainScalars(text: string): string[] {
  const out: string[] = [];
  const walk = (n: unknown): void => {
    if (isScalar(n)) {
      if (n.type === 'PLAIN' && typeof n.source === 'string') out.push(n.source);
    } else if (isMap(n)) {
      for (const p of n.items) {
        walk(p.key);
        walk(p.value);
      }
    } else if (isSeq(n)) n.items.forEach(walk);
  };
  const docs = parseAllDocuments(text);
  assert.ok(Array.isArray(docs));
  for (const d of docs) walk(d.contents);
  return out;
}

const MUST_QUOTE = [
  ...['y', 'n', 'yes', 'no', 'on', 'off', 'true', 'false', 'null'].flatMap(caseVariants),
  ...['~', '', '=', '<<', '.inf', '-.Inf', '+.INF', '.nan', '.NaN'],
  ...['1_000', '1__0', '+_1', '0x1F', '0X1f', '0x_1F', '0o17', '0O17', '0b101', '0B11', '0777'],
  ...['089', '1e3', '1E+3', '-1.5', '.5', '1.', '+1', '-0', '12345678901234567890'],
  ...['1:20', '-1:20:30', '190:20:30.15', '2001-12-14', '2001-12-14t21:59:43.10-05:00'],
  ...['2001-12-14 21:59:43.10 -5', ' leading', 'trailing ', 'tab\tinside', '\ttab'],
  ...['nel\u0085inside', 'ls\u2028inside', 'ps\u2029inside', 'bom\ufeff', 'del\u007f', 'c1\u0090'],
];

test('strings YAML 1.1, YAML 1.2 or Go would read as something else are quoted', () => {
  for (const s of MUST_QUOTE) {
    const value = { [s]: s, list: [s], nested: { k: s } };
    const text = stringifyYaml(value);
    assertReadsBack(text, [value]);
    assert.deepEqual(
      plainScalars(text).filter((p) => p !== 'list' && p !== 'nested' && p !== 'k'),
      [],
      `${JSON.stringify(s)} written unquoted:\n${text}`,
    );
  }
});

test('ordinary strings stay plain, and multi-line text stays a block', () => {
  const value = {
    image: 'reg.local/shop/api:1.2.3',
    quantity: '64Mi',
    name: 'user-service',
    path: '/healthz',
    text: 'line one\nline two\n',
  };
  const text = stringifyYaml(value);
  assertReadsBack(text, [value]);
  assert.deepEqual(
    plainScalars(text).sort(),
    [...Object.keys(value), '/healthz', '64Mi', 'reg.local/shop/api:1.2.3', 'user-service'].sort(),
  );
  assert.match(text, /^text: \|\n {2}line one\n {2}line two\n/m);
});

test('gantry render output of adversarial values reads back as the objects', () => {
  const spec = adversarialSpec();
  const objects = renderService(spec, {
    secretValues: Object.fromEntries(Object.keys(spec.secrets).map((k) => [k, 'no'])),
  });
  const text = toYaml(objects);
  assertReadsBack(text, objects);
  // Spot checks of what the issue found, as text.
  assert.match(text, /^ {4}tier: "no"$/m);
  assert.match(text, /^ {2}namespace: "off"$/m);
  for (const s of ADVERSARIAL) {
    assert.ok(!plainScalars(text).includes(s), `${JSON.stringify(s)} written unquoted`);
  }
});

test('gantry chart values.yaml and Chart.yaml read back as the values', () => {
  const spec = adversarialSpec();
  const chart = renderChart(spec, { appVersion: '1_000', chartVersion: '1.0.0' });
  const file = (p: string) => chart.files.find((f) => f.path === p)!.content;
  assertReadsBack(file('values.yaml'), [chart.values]);
  assertReadsBack(file('Chart.yaml'), [
    {
      apiVersion: 'v2',
      name: 'yes',
      description: 'yes, exported by gantry chart from its gantry.yaml',
      type: 'application',
      version: '1.0.0',
      appVersion: '1_000',
    },
  ]);
  assert.equal((chart.values.env as Record<string, string>).NO, 'no');
});

test('gantry alerts render output reads back as the rules', () => {
  const spec = parseSpec(`apiVersion: gantry.dev/v1alpha1
name: "on"
namespace: "no"
image: registry.local/users
metrics: { path: /metrics }
monitoring:
  labels: { team: "no", tier: "1_000", page: "y", since: "2001-12-14", owner: "~" }
  slo: { availability: 0.999 }
`);
  const rendered = renderAlertRules(spec);
  for (const doc of [rendered.file, prometheusRuleObject(spec, rendered)]) {
    const text = rulesYaml(doc);
    assertReadsBack(text, [doc]);
    for (const s of ['no', '1_000', 'y', '2001-12-14', '~', 'on']) {
      assert.ok(!plainScalars(text).includes(s), `${JSON.stringify(s)} written unquoted`);
    }
  }
  assert.equal(
    parse(rulesYaml(rendered.file), { version: '1.1' }).groups[0].rules[0].labels.team,
    'no',
  );
});
