// Property tests of the spec loader: whatever text it is given — YAML-ish noise, or a valid
// spec with one field changed to anything — it either accepts it, or throws a SpecError whose
// problems each have a position and a short, one-line message (the CLI exits 3). Never an
// unexpected error (exit 1), and a spec it accepts renders, and passes the Kubernetes
// schema check, without one either. FUZZ_RUNS sets the number of cases per property.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { parse, stringify } from 'yaml';
import { SpecError, formatProblem, parseSpec } from '../../src/spec/index.js';
import type { ServiceSpec } from '../../src/spec/index.js';
import { renderChart, renderService, toYaml } from '../../src/render/index.js';
import { renderAlertRules } from '../../src/monitor/index.js';
import { validateSpec } from '../../src/validate/spec-check.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
/** FUZZ_SEED replays a run fast-check reported (its "seed"). */
const SEED = process.env.FUZZ_SEED ? { seed: Number(process.env.FUZZ_SEED) } : {};
const reference = readFileSync(
  new URL('../../../../deploy/user-service/gantry.yaml', import.meta.url),
  'utf8',
);

/** Checks a SpecError the way the CLI prints it: positions, one short line per problem. */
function checkSpecError(err: unknown): string[] {
  if (!(err instanceof SpecError)) {
    throw new Error(`not a SpecError: ${err instanceof Error ? err.stack : String(err)}`);
  }
  assert.ok(err.problems.length > 0, 'a SpecError names its problems');
  const lines = err.problems.map(formatProblem);
  for (const [i, p] of err.problems.entries()) {
    assert.ok(p.line >= 1 && p.column >= 1, `no position: ${lines[i]}`);
    assert.doesNotMatch(lines[i]!, /\n/, 'one line per problem');
    // The longest lines list the known fields; values are cut to short excerpts.
    assert.ok(lines[i]!.length <= 600, `too long (${lines[i]!.length}): ${lines[i]!}`);
  }
  return lines;
}

/** Loads `text`: a spec, or undefined after a well-formed SpecError; anything else fails. */
function load(text: string): ServiceSpec | undefined {
  try {
    return parseSpec(text, 'f.yaml');
  } catch (err) {
    checkSpecError(err);
    return undefined;
  }
}

/**
 * What the CLI does with a spec it accepted: `gantry validate` (the Kubernetes rules, then
 * the rendered objects' schema, which must find nothing the spec's own checks let through:
 * its problems would be reported against rendered paths) may refuse it only with a
 * well-formed SpecError; a spec it passes renders, charts and gets its alert rules without
 * an error.
 */
async function use(spec: ServiceSpec): Promise<void> {
  try {
    await validateSpec(spec);
  } catch (err) {
    checkSpecError(err);
    return;
  }
  toYaml(renderService(spec));
  renderAlertRules(spec);
  renderChart(spec);
}

const KEYS = [
  'name',
  'port',
  'path',
  'ports',
  'containerPort',
  'servicePort',
  'protocol',
  'hostnames',
  'gateway',
  'matches',
  'pathType',
  'fromEnv',
  'fromFile',
  'value',
  'minReplicas',
  'maxReplicas',
  'minAvailable',
  'maxUnavailable',
  'type',
  'weight',
  'strategy',
  'router',
  'liveness',
  'readiness',
  'startup',
  'cpu',
  'memory',
  'above',
  'for',
  'window',
];

// Values a field may be changed to: wrong types, edge numbers, odd strings.
const scalar = fc.oneof(
  fc.constantFrom(
    0,
    -1,
    1,
    1.5,
    65536,
    2 ** 31 - 1,
    2 ** 31,
    2 ** 53,
    Infinity,
    -Infinity,
    Number.NaN,
    null,
    true,
    false,
    '',
    ' ',
    'http',
    'metrics',
    'no',
    'yes',
    '1_000',
    '0x1F',
    '25%',
    '101%',
    '500ms',
    '1e309',
    '/',
    '/x',
    'Bad_Name',
    'a.example',
    '*.a.example',
    'gw',
    'ns/gw',
    '-gw',
    '__proto__',
    'constructor',
    'x'.repeat(300),
    '\u200b',
    '\ud800',
    'a\nb',
  ),
  fc.integer(),
  fc.double(),
  fc.string({ maxLength: 12 }),
);
const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.array(tie('v'), { maxLength: 3 }),
    fc.dictionary(fc.oneof(fc.constantFrom(...KEYS), fc.string({ maxLength: 6 })), tie('v'), {
      maxKeys: 3,
    }),
  ),
})).v;

type Path = (string | number)[];

/** Every path in a parsed document, the root included. */
function paths(v: unknown, at: Path = []): Path[] {
  const out: Path[] = [at];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...paths(x, [...at, i])));
  else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...at, k]));
  }
  return out;
}

function mutate(doc: unknown, path: Path, op: 'set' | 'delete' | 'add', v: unknown, key: string) {
  const copy = structuredClone(doc) as Record<string | number, unknown>;
  if (path.length === 0) return op === 'set' ? v : copy;
  let parent: Record<string | number, unknown> = copy;
  for (const seg of path.slice(0, -1)) parent = parent[seg] as Record<string | number, unknown>;
  const last = path.at(-1)!;
  if (op === 'set') parent[last] = v;
  else if (op === 'delete') {
    if (Array.isArray(parent)) parent.splice(Number(last), 1);
    else delete parent[last];
  } else {
    const target = parent[last];
    if (target && typeof target === 'object' && !Array.isArray(target)) {
      (target as Record<string, unknown>)[key] = v;
    } else parent[last] = v;
  }
  return copy;
}

const base = parse(reference) as Record<string, unknown>;
const basePaths = paths(base);

test('the reference spec loads, renders and passes the schema check', async () => {
  const spec = load(reference);
  assert.ok(spec);
  await validateSpec(spec);
});

test('a valid spec with one or two fields changed: accepted and usable, or a SpecError', async () => {
  const change = fc.record({
    path: fc.constantFrom(...basePaths),
    op: fc.constantFrom<'set' | 'delete' | 'add'>('set', 'set', 'delete', 'add'),
    value,
    key: fc.oneof(fc.constantFrom(...KEYS), fc.string({ maxLength: 6 })),
  });
  await fc.assert(
    fc.asyncProperty(fc.array(change, { minLength: 1, maxLength: 2 }), async (changes) => {
      let doc: unknown = base;
      for (const c of changes) {
        // A path may be gone after the first change; then the change is skipped.
        try {
          doc = mutate(doc, c.path, c.op, c.value, c.key);
        } catch {
          continue;
        }
      }
      const spec = load(stringify(doc));
      if (spec) await use(spec);
    }),
    { numRuns: RUNS, includeErrorInReport: true, ...SEED },
  );
});

// Pieces of YAML: structure, anchors and aliases, tags, odd scalars.
const TOKENS = [
  '\n',
  '\n  ',
  '\n    ',
  '- ',
  ': ',
  ':',
  '? ',
  '[',
  ']',
  '{',
  '}',
  ', ',
  '&a ',
  '*a',
  '&b ',
  '*b',
  '*zz',
  '!!binary ',
  '!!str ',
  '!!int ',
  '!!float ',
  '!!map ',
  '!!seq ',
  '!custom ',
  '|\n  ',
  '>-\n  ',
  '"',
  "'",
  '#',
  '---\n',
  '...\n',
  '%YAML 1.1\n',
  '<<: ',
  '.nan',
  '-.inf',
  '1e309',
  '0x1F',
  '0o17',
  '99999999999',
  '~',
  'null',
  'apiVersion: gantry.dev/v1alpha1\n',
  'name: users\n',
  'image: x\n',
  'replicas',
  'ports',
  'containerPort',
  'routes',
  'hostnames',
  'gateway',
  'port',
  'probes',
  'liveness',
  'path',
  'config',
  'secrets',
  'env',
  'labels',
  '__proto__',
  'http',
  '8080',
];

// The yaml package warns on stderr about what it cannot represent (a mapping as a key):
// the loader refuses such input before it gets there.
const warnings: string[] = [];
process.on('warning', (w) => warnings.push(w.message));

test('YAML-ish text: a spec or a SpecError with positions, never another error', async () => {
  const text = fc
    .array(fc.oneof(fc.constantFrom(...TOKENS), fc.string({ maxLength: 4 })), { maxLength: 40 })
    .map((parts) => parts.join(''));
  await fc.assert(
    fc.asyncProperty(text, async (t) => {
      const spec = load('apiVersion: gantry.dev/v1alpha1\nname: users\nimage: x\n' + t);
      if (spec) await use(spec);
      load(t);
    }),
    { numRuns: RUNS, includeErrorInReport: true, ...SEED },
  );
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(warnings, []);
});

test('the reference spec with text inserted anywhere: a spec or a SpecError', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.nat({ max: reference.length }),
      fc.array(fc.constantFrom(...TOKENS), { minLength: 1, maxLength: 4 }),
      async (at, parts) => {
        const spec = load(reference.slice(0, at) + parts.join('') + reference.slice(at));
        if (spec) await use(spec);
      },
    ),
    { numRuns: RUNS, includeErrorInReport: true, ...SEED },
  );
});

// Specs built field by field from plausible values and, now and then, an edge one, so that
// references between fields (ports named by routes, probes and metrics), routes and release
// routers meet; most are valid, and what they render goes through every check.
function mostly<T>(valid: readonly T[], edge: readonly T[]): fc.Arbitrary<T> {
  return fc.oneof(
    { weight: 30, arbitrary: fc.constantFrom(...valid) },
    { weight: 1, arbitrary: fc.constantFrom(...edge) },
  );
}
const portRef = fc.oneof(
  mostly(['http', 'metrics', 'dns'], ['nope', 'Bad_Name']),
  mostly([80, 8080, 9090, 53], [0, 70000]),
);
const probe = fc.record(
  {
    path: mostly(['/healthz', '/'], ['healthz']),
    port: portRef,
    periodSeconds: mostly([1, 10], [0, 2 ** 31]),
    successThreshold: mostly([1], [2]),
  },
  { requiredKeys: ['path'] },
);
const built = fc.record(
  {
    apiVersion: fc.constant('gantry.dev/v1alpha1'),
    name: mostly(['users', 'a'], ['1web', 'x'.repeat(60)]),
    image: fc.constantFrom('registry.local/users', 'x'),
    replicas: mostly([0, 1, 3], [1000, 1001]),
    ports: fc.array(
      fc.record(
        {
          name: mostly(['http', 'metrics', 'dns', 'a-b'], ['p'.repeat(16)]),
          containerPort: mostly([53, 80, 8080, 9090], [0, 65535, 70000]),
          servicePort: fc.constantFrom(80, 443, 8080),
          protocol: mostly(['TCP'], ['UDP']),
        },
        { requiredKeys: ['containerPort'] },
      ),
      { minLength: 1, maxLength: 3 },
    ),
    probes: fc.record({ liveness: probe, readiness: probe, startup: probe }, { requiredKeys: [] }),
    metrics: fc.record({ port: portRef, path: fc.constant('/metrics') }, { requiredKeys: [] }),
    service: fc.record({ type: mostly(['ClusterIP', 'NodePort'], ['None']) }),
    routes: fc.array(
      fc.record(
        {
          hostnames: fc.array(
            mostly(['a.example', '*.a.example'], ['A.example', '1.2.3.4', 'a..b', 'x']),
            { minLength: 1, maxLength: 2 },
          ),
          gateway: mostly(['gw', 'ns/gw'], ['-gw', 'ns/']),
          port: portRef,
          matches: fc.array(fc.record({ path: mostly(['/', '/api'], ['/a b', '//x']) }), {
            maxLength: 2,
          }),
        },
        { requiredKeys: ['hostnames', 'gateway'] },
      ),
      { maxLength: 2 },
    ),
    autoscaling: fc.record({
      minReplicas: fc.constantFrom(1, 2),
      maxReplicas: mostly([3, 5], [1, 2 ** 31]),
    }),
    release: fc.record(
      {
        strategy: fc.constantFrom('rolling', 'canary', 'gray', 'blueGreen'),
        router: fc.constantFrom('gateway', 'replicas'),
      },
      { requiredKeys: [] },
    ),
    config: fc.dictionary(mostly(['A', 'b.c'], ['-x', 'a/b']), fc.string({ maxLength: 8 }), {
      maxKeys: 2,
    }),
    labels: fc.dictionary(
      mostly(['tier'], ['a/b', 'x'.repeat(70)]),
      mostly(['no', 'yes', ''], ['x'.repeat(64)]),
      { maxKeys: 2 },
    ),
  },
  { requiredKeys: ['apiVersion', 'name', 'image'] },
);

test('specs built field by field: accepted and usable, or a SpecError', async () => {
  await fc.assert(
    fc.asyncProperty(built, async (doc) => {
      const spec = load(stringify(doc));
      if (spec) await use(spec);
    }),
    { numRuns: RUNS, includeErrorInReport: true, ...SEED },
  );
});
