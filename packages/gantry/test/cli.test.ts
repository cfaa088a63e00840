import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const bin = fileURLToPath(new URL('../bin/gantry.js', import.meta.url));
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

test('gantry --version prints the package version', () => {
  const r = spawnSync(process.execPath, [bin, '--version'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), pkg.version);
});

test('gantry --help lists usage and exit codes', () => {
  const r = spawnSync(process.execPath, [bin, '--help'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /Usage: gantry/);
  assert.match(r.stdout, /Exit codes:/);
});

test('an unknown flag is a usage error with exit code 2', () => {
  const r = spawnSync(process.execPath, [bin, '--no-such-flag'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown option/);
});

test('gantry release --help teaches the commands; start needs --image', () => {
  const help = spawnSync(process.execPath, [bin, 'release', '--help'], { encoding: 'utf8' });
  assert.equal(help.status, 0, help.stderr);
  for (const c of ['start', 'status', 'pause', 'resume', 'promote', 'abort']) {
    assert.match(help.stdout, new RegExp(`\\n\\s+${c}\\b`));
  }
  assert.match(help.stdout, /gantry release start -f/);
  const r = spawnSync(process.execPath, [bin, 'release', 'start', '-f', 'x.yaml'], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--image/);
});

test('--image and --version-label are checked before anything is read or applied (exit 2)', () => {
  const spec = fileURLToPath(new URL('../../../deploy/user-service/gantry.yaml', import.meta.url));
  const run = (args: string[]) =>
    spawnSync(process.execPath, [bin, ...args], {
      encoding: 'utf8',
      // No cluster: a check that came after the cluster call would fail differently.
      env: { ...process.env, KUBECONFIG: '/nonexistent/kubeconfig' },
    });
  for (const cmd of [
    ['render'],
    ['deploy'],
    ['diff'],
    ['release', 'start'],
    ['chart', '--out', '/tmp/x'],
  ]) {
    const bad = run([...cmd, '-f', spec, '--image', 'Registry.example/Shop:1 0']);
    assert.equal(bad.status, 2, `${cmd.join(' ')}: ${bad.stderr}`);
    assert.match(bad.stderr, /--image <ref>' argument 'Registry.example\/Shop:1 0' is invalid/);
  }
  for (const cmd of [['render'], ['deploy'], ['diff'], ['release', 'start', '--image', 'a:1']]) {
    const bad = run([...cmd, '-f', spec, '--version-label', 'x y']);
    assert.equal(bad.status, 2, `${cmd.join(' ')}: ${bad.stderr}`);
    assert.match(bad.stderr, /--version-label <semver>' argument 'x y' is invalid/);
  }
  // What `gantry version` prints is accepted; the label holds it with + as _.
  const ok = run([
    'render',
    '--no-secret-sources',
    '-f',
    spec,
    '--image',
    '127.0.0.1:5000/gantry/user-service:1.5.0-dev.3',
    '--version-label',
    '1.5.0-dev.3+g1a2b3c',
  ]);
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /app\.kubernetes\.io\/version: 1\.5\.0-dev\.3_g1a2b3c/);
});

// bin/gantry.js runs bundle/main.cjs from a V8 code cache when the bundle is fresh (after
// `npm run build`, as the test command does); with only `tsc -b` there is no bundle to test.
const bundle = fileURLToPath(new URL('../bundle/main.cjs', import.meta.url));
const buildInfo = fileURLToPath(new URL('../tsconfig.tsbuildinfo', import.meta.url));
const bundleFresh = existsSync(bundle) && statSync(bundle).mtimeMs >= statSync(buildInfo).mtimeMs;

test(
  'the bundle writes its code cache once per command, reuses it, and replaces one V8 refuses',
  { skip: bundleFresh ? false : 'bundle/main.cjs is missing or older than dist/ (npm run build)' },
  () => {
    const home = mkdtempSync(join(tmpdir(), 'gantry-cache-'));
    try {
      const env = { ...process.env, XDG_CACHE_HOME: home };
      const dir = join(home, 'gantry', 'code');
      const gantry = (...args: string[]) => {
        const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env });
        assert.equal(r.status, 0, r.stderr);
        return r.stdout;
      };
      const schema = gantry('schema');
      const files = readdirSync(dir).sort();
      assert.equal(files.length, 2, `a cache and its command list: ${files.join(', ')}`);
      const cache = join(
        dir,
        files.find((f) => f.endsWith('.v8'))!,
      );
      const list = join(
        dir,
        files.find((f) => f.endsWith('.json'))!,
      );
      const commands = () => JSON.parse(readFileSync(list, 'utf8')) as string[];
      assert.deepEqual(commands(), ['schema']);
      const first = statSync(cache);
      assert.ok(first.size > 100_000, `cache of ${first.size} bytes`);

      // Accepted and covering the command: the second run leaves it as it was.
      assert.equal(gantry('schema'), schema);
      assert.equal(statSync(cache).mtimeMs, first.mtimeMs);

      // Another command adds what it compiled, once.
      const help = gantry('-o', 'json', 'render', '--help');
      const second = statSync(cache);
      assert.notEqual(second.mtimeMs, first.mtimeMs);
      assert.deepEqual(commands(), ['schema', 'render']);
      assert.equal(gantry('-o', 'json', 'render', '--help'), help);
      assert.equal(gantry('schema'), schema);
      assert.equal(statSync(cache).mtimeMs, second.mtimeMs);

      // Refused (here: garbage): the run still works and writes a good cache in its place.
      writeFileSync(cache, Buffer.alloc(4096, 7));
      assert.equal(gantry('schema'), schema);
      assert.ok(statSync(cache).size > 100_000);
      assert.deepEqual(commands(), ['schema']);
      assert.deepEqual(readdirSync(dir).sort(), files);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  },
);

test('invalid input of every kind exits 3 with file:line:col: field: message, and JSON under -o json', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gantry-invalid-'));
  const head = 'apiVersion: gantry.dev/v1alpha1\nname: users\nimage: registry.local/users\n';
  let bomb = head + 'x0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n';
  for (let i = 1; i < 12; i++)
    bomb += `x${i}: &a${i} [${Array(10)
      .fill(`*a${i - 1}`)
      .join(', ')}]\n`;
  const cases: [string, string, RegExp][] = [
    ['syntax', head + 'replicas: [1,\n', /:\d+:\d+: YAML: /],
    [
      'alias',
      head + 'labels: {a: *nope}\n',
      /:4:13: labels\.a: YAML: alias \*nope names no anchor/,
    ],
    ['bomb', bomb, /:\d+:\d+: x\d+\[\d+\]: YAML: the document grows past 2 MiB/],
    [
      'nan',
      head + 'replicas: .nan\n',
      /:4:11: replicas: expected a whole number, got \.nan \(not a number\)/,
    ],
    [
      'route-port',
      head + 'routes:\n  - hostnames: [a.example]\n    gateway: gw\n    port: admin\n',
      /:7:11: routes\[0\]\.port: names no port of the service/,
    ],
    [
      'hostname',
      head + `routes:\n  - hostnames: ["${'a'.repeat(100_000)}"]\n    gateway: gw\n`,
      /:5:17: routes\[0\]\.hostnames\[0\]: must be at most 253 characters long, got 100000/,
    ],
  ];
  try {
    for (const [name, text, expected] of cases) {
      const file = join(dir, `${name}.yaml`);
      writeFileSync(file, text);
      const r = spawnSync(process.execPath, [bin, 'validate', '-f', file], { encoding: 'utf8' });
      assert.equal(r.status, 3, `${name}: ${r.stderr}`);
      assert.match(r.stderr, expected, name);
      assert.ok(r.stderr.length < 1000, `${name}: ${r.stderr.length} characters on stderr`);
      const j = spawnSync(process.execPath, [bin, '-o', 'json', 'validate', '-f', file], {
        encoding: 'utf8',
      });
      assert.equal(j.status, 3, `${name} -o json: ${j.stderr}`);
      const out = JSON.parse(j.stdout) as {
        valid: boolean;
        problems: { file: string; line: number; column: number; field: string; message: string }[];
      };
      assert.equal(out.valid, false);
      assert.equal(out.problems[0]?.file, file);
      assert.ok((out.problems[0]?.line ?? 0) > 0 && (out.problems[0]?.column ?? 0) > 0, name);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
