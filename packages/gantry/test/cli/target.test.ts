// --service NAME instead of a spec: how the name, -n and the context's namespace combine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { namespaceInKubeconfig, serviceRef } from '../../src/cli/target.js';

const home = () => 'team-a';

test('--service: NAME in -n or the context namespace, NAMESPACE/NAME, and the refusals', () => {
  assert.equal(serviceRef({}, true, home), undefined);
  assert.deepEqual(serviceRef({ service: 'shop' }, false, home), {
    namespace: 'team-a',
    name: 'shop',
  });
  assert.deepEqual(serviceRef({ service: 'shop', namespace: 'b' }, false, home), {
    namespace: 'b',
    name: 'shop',
  });
  assert.deepEqual(serviceRef({ service: 'b/shop', namespace: 'b' }, false, home), {
    namespace: 'b',
    name: 'shop',
  });
  assert.throws(
    () => serviceRef({ service: 'shop' }, true, home),
    /give -f or --service, not both/,
  );
  assert.throws(
    () => serviceRef({ namespace: 'b' }, false, home),
    /-n\/--namespace goes with --service/,
  );
  assert.throws(
    () => serviceRef({ service: 'a/shop', namespace: 'b' }, false, home),
    /is in namespace a, but -n says b/,
  );
  assert.throws(
    () => serviceRef({ service: 'Shop' }, false, home),
    /"Shop" is not a valid service name/,
  );
  assert.throws(() => serviceRef({ service: '/shop' }, false, home), /"" is not a valid namespace/);
});

test("the context's namespace is read from the kubeconfig, current or named context", () => {
  const kc = `apiVersion: v1
current-context: dev
contexts:
- name: dev
  context: { cluster: c, user: u, namespace: team-a }
- name: prod
  context: { cluster: c, user: u }
`;
  assert.equal(namespaceInKubeconfig(kc), 'team-a');
  assert.equal(namespaceInKubeconfig(kc, 'prod'), undefined);
  assert.equal(namespaceInKubeconfig(kc, 'missing'), undefined);
  assert.equal(namespaceInKubeconfig(''), undefined);
});
