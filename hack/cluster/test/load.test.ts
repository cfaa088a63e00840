// The load generator's guard: load goes to loopback only (the gateway, a NodePort on
// 127.0.0.1); a pod address only when the caller asks for it; never a Service's virtual
// IP, the node address or anything else.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Load, assertLocal } from './load.js';

test('loopback URLs are accepted', () => {
  for (const url of [
    'http://127.0.0.1:8000/',
    'http://127.0.0.1:30080/x?y=1',
    'http://127.1.2.3/',
    'http://localhost:8000/',
    'http://LOCALHOST/',
    'http://[::1]:8000/',
  ]) {
    assert.equal(assertLocal(url).protocol, 'http:', url);
  }
});

test("a Service's virtual IP, the node address and other hosts are refused", () => {
  for (const url of [
    'http://10.96.0.10/',
    'http://10.96.101.26:80/api/users',
    'http://10.201.0.1:30080/',
    'http://10.0.0.1/',
    'http://192.168.1.1/',
    'http://example.com/',
    'http://[::ffff:10.96.0.1]/',
  ]) {
    assert.throws(() => assertLocal(url), /is not loopback/, url);
    assert.throws(() => assertLocal(url, { podAddress: true }), /is not loopback/, url);
    assert.throws(() => new Load({ url, rps: 1, maxDurationMs: 1 }), /is not loopback/, url);
  }
});

test('a pod address only with podAddress', () => {
  assert.throws(() => assertLocal('http://10.244.0.7:8080/'), /pod address; pass podAddress/);
  assert.throws(
    () => new Load({ url: 'http://10.244.0.7:8080/', rps: 1, maxDurationMs: 1 }),
    /pod address/,
  );
  assert.equal(assertLocal('http://10.244.0.7:8080/', { podAddress: true }).hostname, '10.244.0.7');
  new Load({ url: 'http://10.244.0.7:8080/', rps: 1, maxDurationMs: 1, podAddress: true });
});

test('only http://', () => {
  assert.throws(() => assertLocal('https://127.0.0.1/'), /only http:\/\//);
});
