import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  bump,
  bumpVersion,
  compareSemver,
  formatSemver,
  parseSemver,
  sourceVersion,
  VersionError,
} from '../../src/version/index.js';

const v = (s: string) => {
  const p = parseSemver(s);
  assert.ok(p, `${s} should parse`);
  return p;
};

test('parses and formats semver, rejecting non-semver', () => {
  assert.equal(formatSemver(v('v1.4.0-dev.3+abc1234')), '1.4.0-dev.3+abc1234');
  for (const bad of ['1.2', '01.2.3', '1.2.3-', 'v1.2.x', 'release-1']) {
    assert.equal(parseSemver(bad), undefined, bad);
  }
});

test('orders versions by semver precedence', () => {
  const sorted = [
    '1.0.0',
    '1.0.0-alpha',
    '1.0.0-alpha.1',
    '1.0.0-beta.2',
    '1.0.0-beta.11',
    '1.0.0-rc.1',
    '0.9.9',
    '1.0.0-alpha.beta',
  ];
  const expected = [
    '0.9.9',
    '1.0.0-alpha',
    '1.0.0-alpha.1',
    '1.0.0-alpha.beta',
    '1.0.0-beta.2',
    '1.0.0-beta.11',
    '1.0.0-rc.1',
    '1.0.0',
  ];
  assert.deepEqual(sorted.map(v).sort(compareSemver).map(formatSemver), expected);
});

test('bumps', () => {
  assert.equal(formatSemver(bump(v('1.2.3'), 'major')), '2.0.0');
  assert.equal(formatSemver(bump(v('1.2.3'), 'minor')), '1.3.0');
  assert.equal(formatSemver(bump(v('1.2.3'), 'patch')), '1.2.4');
  assert.equal(formatSemver(bump(v('1.2.3-rc.1'), 'patch')), '1.2.3');
});

test('versions from git tags', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gantry-ver-'));
  // bumpVersion creates annotated tags: give git an identity on any machine.
  process.env.GIT_COMMITTER_NAME ??= 'gantry-test';
  process.env.GIT_COMMITTER_EMAIL ??= 'gantry-test@localhost';
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const git = (...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], {
      cwd: dir,
      encoding: 'utf8',
    });
  git('init', '-q');
  const commit = (msg: string) => {
    writeFileSync(join(dir, 'f'), msg);
    git('add', 'f');
    git('commit', '-qm', msg);
  };
  commit('one');
  const first = sourceVersion(dir);
  assert.match(first.version, /^0\.1\.0-dev\.1\+[0-9a-f]{7}$/);

  git('tag', 'not-a-version');
  git('-c', 'tag.gpgSign=false', 'tag', '-a', 'v1.3.2', '-m', 'r');
  assert.equal(sourceVersion(dir).version, '1.3.2');

  commit('two');
  commit('three');
  const dev = sourceVersion(dir);
  assert.equal(dev.version, `1.4.0-dev.2+${dev.gitSha.slice(0, 7)}`);
  writeFileSync(join(dir, 'f'), 'uncommitted');
  assert.match(sourceVersion(dir).version, /^1\.4\.0-dev\.2\+[0-9a-f]{7}\.dirty$/);
  assert.throws(() => bumpVersion(dir, 'minor'), VersionError);
  git('checkout', '-q', 'f');

  const r = bumpVersion(dir, 'minor');
  assert.deepEqual(r, { tag: 'v1.4.0', version: '1.4.0' });
  assert.equal(sourceVersion(dir).version, '1.4.0');
  assert.throws(() => bumpVersion(dir, 'patch'), /already released as v1\.4\.0/);
});
