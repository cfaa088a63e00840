import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadBuildInfo } from '../../src/ops/version.js';
import { tempDir } from '../helpers/dirs.js';

const dir = tempDir();
after(() => rmSync(dir, { recursive: true, force: true }));
const pkg = join(dir, 'package.json');
const info = join(dir, 'build-info.json');
writeFileSync(pkg, JSON.stringify({ version: '0.1.0' }));

test('falls back to package.json version and "unknown"', () => {
  const r = loadBuildInfo({
    env: {},
    buildInfoFile: join(dir, 'absent.json'),
    packageJsonFile: pkg,
  });
  assert.deepEqual(r.info, { version: '0.1.0', gitSha: 'unknown', buildTime: 'unknown' });
});

test('build-info.json wins over package.json; env wins over both, per field', () => {
  writeFileSync(
    info,
    JSON.stringify({
      version: '1.4.0-rc.1+build.7',
      gitSha: 'deadbee',
      buildTime: '2026-02-03T04:05:06Z',
    }),
  );
  assert.deepEqual(loadBuildInfo({ env: {}, buildInfoFile: info, packageJsonFile: pkg }).info, {
    version: '1.4.0-rc.1+build.7',
    gitSha: 'deadbee',
    buildTime: '2026-02-03T04:05:06Z',
  });
  const r = loadBuildInfo({
    env: { BUILD_GIT_SHA: 'cafe123' },
    buildInfoFile: info,
    packageJsonFile: pkg,
  });
  assert.equal(r.info.gitSha, 'cafe123');
  assert.equal(r.info.version, '1.4.0-rc.1+build.7');
});

test('a version that is not semver is reported and replaced', () => {
  const r = loadBuildInfo({
    env: { BUILD_VERSION: 'v1' },
    buildInfoFile: info,
    packageJsonFile: pkg,
  });
  assert.equal(r.info.version, '0.0.0');
  assert.match(r.warnings[0] ?? '', /not semantic versioning/);
});
