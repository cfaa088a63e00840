import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';

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
