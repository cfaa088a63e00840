// Image references normalise as docker normalises them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatImageRef,
  isInsecureRegistry,
  parseImageRef,
  referenceOf,
  registryBaseUrl,
} from '../../src/image/ref.js';

const d = `sha256:${'a'.repeat(64)}`;

test('docker.io and library/ defaults', () => {
  assert.deepEqual(parseImageRef('nginx'), { registry: 'docker.io', repository: 'library/nginx' });
  assert.deepEqual(parseImageRef('nginx:1.27'), {
    registry: 'docker.io',
    repository: 'library/nginx',
    tag: '1.27',
  });
  assert.deepEqual(parseImageRef('docker.io/nginx'), {
    registry: 'docker.io',
    repository: 'library/nginx',
  });
  assert.deepEqual(parseImageRef('index.docker.io/library/nginx:latest'), {
    registry: 'docker.io',
    repository: 'library/nginx',
    tag: 'latest',
  });
  assert.deepEqual(parseImageRef('bitnami/redis'), {
    registry: 'docker.io',
    repository: 'bitnami/redis',
  });
  assert.deepEqual(parseImageRef('a/b/c:v'), {
    registry: 'docker.io',
    repository: 'a/b/c',
    tag: 'v',
  });
});

test('registries: a first component with "." or ":", localhost, or upper case', () => {
  assert.deepEqual(parseImageRef('127.0.0.1:5000/gantry/user-service:0.1.0'), {
    registry: '127.0.0.1:5000',
    repository: 'gantry/user-service',
    tag: '0.1.0',
  });
  assert.deepEqual(parseImageRef('localhost/app'), { registry: 'localhost', repository: 'app' });
  assert.deepEqual(parseImageRef('localhost:5000/app:1'), {
    registry: 'localhost:5000',
    repository: 'app',
    tag: '1',
  });
  assert.deepEqual(parseImageRef('ghcr.io/org/app'), {
    registry: 'ghcr.io',
    repository: 'org/app',
  });
  assert.deepEqual(parseImageRef('Registry/app'), { registry: 'Registry', repository: 'app' });
  assert.deepEqual(parseImageRef('[::1]:5000/app'), { registry: '[::1]:5000', repository: 'app' });
  // Without a slash, "localhost:5000" is repository "localhost" with tag "5000", as docker reads it.
  assert.deepEqual(parseImageRef('localhost:5000'), {
    registry: 'docker.io',
    repository: 'library/localhost',
    tag: '5000',
  });
});

test('digests, with or without a tag', () => {
  assert.deepEqual(parseImageRef(`ghcr.io/a/b@${d}`), {
    registry: 'ghcr.io',
    repository: 'a/b',
    digest: d,
  });
  assert.deepEqual(parseImageRef(`127.0.0.1:5000/a:1.0@${d}`), {
    registry: '127.0.0.1:5000',
    repository: 'a',
    tag: '1.0',
    digest: d,
  });
  assert.equal(referenceOf(parseImageRef(`a:1@${d}`)), d, 'the digest wins');
  assert.equal(referenceOf(parseImageRef('a:1')), '1');
  assert.equal(referenceOf(parseImageRef('a')), 'latest');
  assert.equal(formatImageRef(parseImageRef(`x.io/a:1@${d}`)), `x.io/a:1@${d}`);
  assert.equal(formatImageRef(parseImageRef('nginx')), 'docker.io/library/nginx');
});

test('invalid references are refused with the reason', () => {
  assert.throws(() => parseImageRef('Bad/Name'), /lower-case/);
  assert.throws(() => parseImageRef('docker.io/Bad'), /lower-case/);
  assert.throws(() => parseImageRef('app:-bad'), /tag "-bad"/);
  assert.throws(() => parseImageRef(`app:${'t'.repeat(129)}`), /tag/);
  assert.throws(() => parseImageRef('app@sha256:abc'), /digest/);
  assert.throws(() => parseImageRef(`app@sha256:${'A'.repeat(64)}`), /64 lower-case hex/);
  assert.throws(() => parseImageRef(''), /empty/);
  assert.throws(() => parseImageRef('a//b'), /lower-case/);
  assert.throws(() => parseImageRef('ex ample.com/a'), /not a valid image reference/);
});

test('loopback registries (and GANTRY_INSECURE_REGISTRIES) speak http', (t) => {
  assert.equal(registryBaseUrl('127.0.0.1:5000'), 'http://127.0.0.1:5000');
  assert.equal(registryBaseUrl('localhost:5000'), 'http://localhost:5000');
  assert.equal(registryBaseUrl('[::1]:5000'), 'http://[::1]:5000');
  assert.equal(registryBaseUrl('ghcr.io'), 'https://ghcr.io');
  assert.equal(registryBaseUrl('docker.io'), 'https://registry-1.docker.io');
  assert.equal(registryBaseUrl('ghcr.io', true), 'http://ghcr.io');
  t.after(() => delete process.env.GANTRY_INSECURE_REGISTRIES);
  process.env.GANTRY_INSECURE_REGISTRIES = 'registry.lan:5000, other.lan';
  assert.equal(isInsecureRegistry('registry.lan:5000'), true);
  assert.equal(isInsecureRegistry('other.lan:443'), true);
  assert.equal(isInsecureRegistry('registry.lan:6000'), false);
});
