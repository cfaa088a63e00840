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

// bin/gantry.js runs bundle/main.cjs from a V8 code cache when the bundle is fresh (after
// `npm run build`, as the test command does); with only `tsc -b` there is no bundle to test.
const bundle = fileURLToPath(new URL('../bundle/main.cjs', import.meta.url));
const buildInfo = fileURLToPath(new URL('../tsconfig.tsbuildinfo', import.meta.url));
const bundleFresh = existsSync(bundle) && statSync(bundle).mtimeMs >= statSync(buildInfo).mtimeMs;

test(
  'the bundle writes its code cache once, reuses it, and replaces one V8 refuses',
  { skip: bundleFresh ? false : 'bundle/main.cjs is missing or older than dist/ (npm run build)' },
  () => {
    const home = mkdtempSync(join(tmpdir(), 'gantry-cache-'));
    try {
      const env = { ...process.env, XDG_CACHE_HOME: home };
      const dir = join(home, 'gantry', 'code');
      const gantry = () => {
        const r = spawnSync(process.execPath, [bin, 'schema'], { encoding: 'utf8', env });
        assert.equal(r.status, 0, r.stderr);
        return r.stdout;
      };
      const first = gantry();
      const files = readdirSync(dir);
      assert.equal(files.length, 1, `one cache file: ${files.join(', ')}`);
      const cache = join(dir, files[0]!);
      const written = statSync(cache);
      assert.ok(written.size > 100_000, `cache of ${written.size} bytes`);

      // Accepted: the second run leaves it as it was and prints the same.
      assert.equal(gantry(), first);
      assert.equal(statSync(cache).mtimeMs, written.mtimeMs);

      // Refused (here: garbage): the run still works and writes a good cache in its place.
      writeFileSync(cache, Buffer.alloc(4096, 7));
      assert.equal(gantry(), first);
      assert.ok(statSync(cache).size > 100_000);
      assert.deepEqual(readdirSync(dir), files);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  },
);
