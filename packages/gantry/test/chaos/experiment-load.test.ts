// Experiment files without a cluster: the loader's file:line:col problems with
// did-you-mean, the schema generated from the fault registry, parameter parsing, the
// resilience score, the report, and the CLI's exit 3 on an invalid file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { ExperimentError, parseExperiment } from '../../src/chaos/experiment/load.js';
import { durationMs, parseFaultParams, bytes } from '../../src/chaos/experiment/params.js';
import { htmlReport, markdownReport } from '../../src/chaos/experiment/report.js';
import { probePassed } from '../../src/chaos/experiment/run.js';
import { experimentJsonSchema } from '../../src/chaos/experiment/schema.js';
import { gamedayScore, resilienceScore } from '../../src/chaos/experiment/score.js';
import type { Journal } from '../../src/chaos/experiment/journal.js';
import { faultByKind, faults } from '../../src/chaos/faults/index.js';
import { chosenCount, maxPercentProblem } from '../../src/chaos/target.js';
import { k8sFaults } from '../../src/chaos/faults/k8s.js';
import { formatProblem } from '../../src/spec/index.js';
import { runGantry } from '../gantry-cli.js';

const drills = fileURLToPath(new URL('../../../../deploy/user-service/chaos/', import.meta.url));

const HEAD = `apiVersion: gantry.dev/v1alpha1
kind: ChaosExperiment
metadata: { name: demo }
target: { namespace: shop, service: cart }
`;

function problems(text: string): string[] {
  try {
    parseExperiment(text, 'x.yaml');
  } catch (err) {
    assert.ok(err instanceof ExperimentError, String(err));
    return err.problems.map(formatProblem);
  }
  assert.fail('the experiment was accepted');
}

test('a valid experiment loads with durations in ms and parameters parsed', () => {
  const exp = parseExperiment(
    `${HEAD}probes:
  - { name: up, kind: ready, mode: continuous, interval: 500ms }
  - { name: door, kind: http, url: "http://127.0.0.1:8000/healthz", host: cart.test, mode: during, maxLatency: 1s, weight: 3 }
  - { name: errors, kind: promql, query: "vector(0)", max: 0.01, mode: end }
method:
  - fault: service-down
    params: { mode: no-endpoints }
    duration: 1m
  - pause: 1500ms
  - parallel:
      - { fault: pod-kill, target: { percent: 30 }, duration: 5s }
      - { pause: 2s }
rollbacks:
  - action: wait-ready
`,
  );
  assert.equal(exp.spec.namespace, 'shop');
  assert.equal(exp.spec.name, 'cart');
  assert.deepEqual(
    exp.probes.map((p) => [p.name, p.mode, p.intervalMs, p.weight]),
    [
      ['up', 'continuous', 500, 1],
      ['door', 'during', 2000, 3],
      ['errors', 'end', 2000, 1],
    ],
  );
  const [down, pause, par] = exp.method;
  assert.deepEqual(down, {
    type: 'fault',
    name: 'step 1 (service-down)',
    fault: 'service-down',
    params: { mode: 'no-endpoints' },
    target: {},
    durationMs: 60_000,
  });
  assert.deepEqual(pause, { type: 'pause', name: 'step 2 (pause)', durationMs: 1500 });
  assert.equal(par?.type, 'parallel');
  assert.equal(exp.rollbacks[0]?.action, 'wait-ready');
});

test('problems point at file:line:col with the field and a did-you-mean', () => {
  const got = problems(`${HEAD}probes:
  - { name: up, kind: ready, mode: contnuous }
method:
  - fault: servce-down
    duration: 10s
  - fault: service-down
    params: { mod: no-endpoints }
    duration: 10
  - falt: pod-kill
`);
  assert.deepEqual(got, [
    'x.yaml:6:36: probes[0].mode: must be one of: start, end, continuous, during; got "contnuous" (did you mean "continuous"?)',
    `x.yaml:8:12: method[0].fault: unknown fault kind "servce-down" (did you mean "service-down"?); gantry chaos list shows the ${faults.length} kinds`,
    'x.yaml:11:15: method[1].params.mod: unknown field (did you mean "mode"?)',
    'x.yaml:12:15: method[1].duration: expected a duration such as 500ms, 30s or 5m, got 10',
    'x.yaml:13:5: method[2]: a step needs one of fault:, pause: or parallel:',
    'x.yaml:13:5: method[2].falt: unknown field (did you mean "fault"?)',
  ]);
});

test('parameter values, probe URLs and target rules are checked', () => {
  const got = problems(`${HEAD}probes:
  - { name: remote, kind: http, url: "http://example.com/", mode: start }
  - { name: q, kind: promql, query: up, min: 2, max: 1, mode: end }
  - { name: q, kind: ready, mode: end, query: up }
method:
  - fault: service-down
    params: { mode: everything }
    target: { count: 1, percent: 20 }
    duration: 10s
`);
  assert.deepEqual(got, [
    'x.yaml:6:38: probes[0].url: expected a loopback http:// URL (127.0.0.1, localhost, [::1]): probes send no traffic elsewhere, got "http://example.com/"',
    'x.yaml:8:40: probes[2].query: not a field of this kind of entry',
    'x.yaml:11:21: method[0].params.mode: must be one of: scale-to-zero, no-endpoints; got "everything"',
  ]);
  // The checks after the schema: once the schema holds.
  const later = problems(`${HEAD}probes:
  - { name: q, kind: promql, query: up, min: 2, max: 1, mode: end }
  - { name: q, kind: ready, mode: end }
method:
  - fault: pod-kill
    target: { count: 1, percent: 20 }
    duration: 10s
`);
  assert.deepEqual(later, [
    'x.yaml:6:46: probes[0].min: min 2 is above max 1',
    'x.yaml:7:13: probes[1].name: a second probe named "q" (first: probes[0])',
    'x.yaml:10:34: method[0].target.percent: give count or percent, not both',
  ]);
});

test('YAML errors and missing fields are located', () => {
  assert.deepEqual(problems('apiVersion: gantry.dev/v1alpha1\nkind: [\n'), [
    'x.yaml:3:1: YAML: Flow sequence in block collection must be sufficiently indented and end with a ]',
  ]);
  assert.deepEqual(problems(`${HEAD.replace('metadata: { name: demo }\n', '')}`), [
    'x.yaml:1:1: required field "metadata" is missing',
    'x.yaml:1:1: required field "method" is missing',
  ]);
});

test('the JSON Schema is generated from the registry and validates the shipped drills', () => {
  const schema = experimentJsonSchema();
  const fault = (
    schema.definitions as Record<string, { properties: { fault: { enum: string[] } } }>
  ).faultStep!;
  assert.deepEqual(
    fault.properties.fault.enum,
    faults.map((f) => f.kind),
  );
  const validate = new Ajv({ strict: false, allErrors: true }).compile(schema);
  for (const f of readdirSync(drills).filter((x) => x.endsWith('.yaml'))) {
    const doc = parseYaml(readFileSync(join(drills, f), 'utf8')) as {
      method: { fault?: string }[];
    };
    // Drills whose fault kinds are still being written validate once the registry has them.
    if (doc.method.some((s) => s.fault && !faultByKind(s.fault))) continue;
    assert.ok(validate(doc), `${f}: ${JSON.stringify(validate.errors)}`);
  }
});

test('deploy/chaos-experiment.schema.json is the generated schema', () => {
  const file = fileURLToPath(
    new URL('../../../../deploy/chaos-experiment.schema.json', import.meta.url),
  );
  assert.deepEqual(
    JSON.parse(readFileSync(file, 'utf8')),
    experimentJsonSchema(),
    'regenerate it: gantry chaos schema > deploy/chaos-experiment.schema.json',
  );
});

test('fault parameters parse the same from a flag and from a file', () => {
  const down = faultByKind('service-down')!;
  assert.deepEqual(parseFaultParams(down, {}), { params: { mode: 'scale-to-zero' }, problems: [] });
  assert.deepEqual(parseFaultParams(down, { mode: 'x', moed: 1 }).problems, [
    { param: 'mode', message: 'must be one of: scale-to-zero, no-endpoints' },
    { param: 'moed', message: 'service-down has no parameter "moed"' },
  ]);
  assert.equal(durationMs('1.5s'), 1500);
  assert.equal(durationMs('2m'), 120_000);
  assert.equal(durationMs('10'), undefined);
  assert.equal(bytes('256Mi'), 256 * 2 ** 20);
  assert.equal(bytes('1G'), 1e9);
});

test('target counts: percent rounds up, at least 1; the max-percent rail', () => {
  assert.equal(chosenCount({}, 4), 1);
  assert.equal(chosenCount({ percent: 30 }, 4), 2);
  assert.equal(chosenCount({ percent: 1 }, 3), 1);
  assert.equal(chosenCount({ count: 2 }, 4), 2);
  assert.throws(() => chosenCount({ count: 1, percent: 10 }, 4), /not both/);
  assert.equal(maxPercentProblem(1, 3, 50), undefined);
  assert.equal(maxPercentProblem(2, 4, 50), undefined);
  assert.match(maxPercentProblem(2, 3, 50) ?? '', /2 of 3 ready pods is 67 % .* over the 50 %/);
  assert.match(maxPercentProblem(1, 1, 50) ?? '', /100 %/);
  assert.equal(maxPercentProblem(1, 1, 100), undefined);
});

test('resilience score: weighted probe success (Litmus), a GameDay the mean of its runs', () => {
  assert.equal(
    resilienceScore(
      [
        { weight: 2, passed: true },
        { weight: 1, passed: false },
        { weight: 1, passed: true },
      ],
      false,
    ),
    75,
  );
  assert.equal(resilienceScore([{ weight: 1, passed: false }], false), 0);
  assert.equal(resilienceScore([], true), 100);
  assert.equal(resilienceScore([], false), 0);
  assert.equal(gamedayScore([{ score: 100 }, { score: 50 }, { score: 0 }]), 50);
  // A probe passes when evaluated and never violated; end probes by their last evaluation.
  const s = (ok: boolean, phase: 'start' | 'during' | 'end') => ({ at: 0, ok, message: '', phase });
  assert.equal(probePassed({ samples: [] }), false);
  assert.equal(probePassed({ samples: [s(true, 'start'), s(false, 'during')] }), false);
  assert.equal(probePassed({ samples: [s(false, 'end'), s(true, 'end')] }), true);
});

test('the report: Markdown tables and a self-contained HTML page with an SVG per probe', () => {
  const t0 = Date.parse('2026-01-01T00:00:00Z');
  const j: Journal = {
    experiment: 'demo',
    runId: 'demo-1',
    file: 'x.yaml',
    namespace: 'shop',
    service: 'cart',
    startedAt: new Date(t0).toISOString(),
    finishedAt: new Date(t0 + 30_000).toISOString(),
    verdict: 'failed',
    reason: 'probe door violated: HTTP 503 <b>',
    score: 50,
    steps: [
      {
        name: 'down',
        type: 'fault',
        fault: 'service-down',
        targets: ['shop/cart-1'],
        startedAt: new Date(t0 + 5000).toISOString(),
        endedAt: new Date(t0 + 9000).toISOString(),
        status: 'reverted-early',
      },
    ],
    probes: [
      {
        name: 'door',
        kind: 'http',
        mode: 'continuous',
        weight: 1,
        passed: false,
        samples: [
          { at: t0 + 1000, ok: true, value: 12, message: 'HTTP 200 in 12 ms', phase: 'start' },
          { at: t0 + 8000, ok: false, message: 'HTTP 503 <b>', phase: 'during' },
        ],
      },
      {
        name: 'up',
        kind: 'ready',
        mode: 'end',
        weight: 1,
        passed: true,
        samples: [{ at: t0 + 20_000, ok: true, value: 3, message: '3/3', phase: 'end' }],
      },
    ],
    rollbacks: [],
    abortRevertMs: 140,
  };
  const md = markdownReport(j);
  assert.match(md, /# Chaos experiment demo: failed/);
  assert.match(md, /Resilience score: \*\*50\*\*/);
  assert.match(
    md,
    /\| down \| service-down \| shop\/cart-1 \| \+5\.0 s \| \+9\.0 s \| reverted-early \|/,
  );
  assert.match(md, /First violation of door at \+8\.0 s: HTTP 503/);
  const html = htmlReport(j);
  assert.equal((html.match(/<svg /g) ?? []).length, 2);
  assert.ok(!/<script|https?:\/\/(?!www\.w3\.org)/.test(html), 'no script, no external URL');
  assert.ok(html.includes('HTTP 503 &lt;b&gt;') && !html.includes('503 <b>'), 'escaped');
  assert.match(html, /fill="#c0392b"/); // the violation
});

test('gantry chaos run: an invalid file exits 3 with file:line:col; schema prints JSON', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gantry-exp-'));
  try {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, `${HEAD}method:\n  - fault: pod-kil\n    duration: 5s\n`);
    const r = runGantry(['chaos', 'run', file], {});
    assert.equal(r.status, 3, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `${file.replace(/[/.]/g, '\\$&')}:6:12: method\\[0\\]\\.fault: unknown fault kind "pod-kil" \\(did you mean "pod-kill"\\?\\)`,
      ),
    );
    const j = runGantry(['-o', 'json', 'chaos', 'run', file], {});
    assert.equal(j.status, 3);
    const out = JSON.parse(j.stdout) as {
      valid: boolean;
      problems: { line: number; column: number }[];
    };
    assert.deepEqual([out.valid, out.problems[0]?.line, out.problems[0]?.column], [false, 6, 12]);
    const flag = runGantry(
      ['chaos', 'service-down', '-f', file, '--mode', 'sideways', '--duration', 'soon'],
      {},
    );
    assert.equal(flag.status, 3, flag.stderr);
    assert.match(
      flag.stderr,
      /<command line>: --mode: must be one of: scale-to-zero, no-endpoints/,
    );
    assert.match(flag.stderr, /<command line>: --duration: expected a duration/);
    const schema = runGantry(['chaos', 'schema'], {});
    assert.equal(schema.status, 0, schema.stderr);
    assert.equal((JSON.parse(schema.stdout) as { title: string }).title, 'Gantry chaos experiment');
    const list = runGantry(['chaos', 'list', '--kinds'], {});
    assert.equal(list.status, 0, list.stderr);
    for (const f of k8sFaults) assert.match(list.stdout, new RegExp(`^  ${f.kind} `, 'm'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
