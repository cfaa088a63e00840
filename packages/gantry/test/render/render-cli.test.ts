// gantry render prints what deploy applies: the secret sources are read as deploy
// reads them, so the pod template (and its gantry.dev/config-hash) is deploy's, while
// the printed Secret shows <redacted>. A source that cannot be read is an error.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ANNOTATION_CONFIG_HASH, redactSecrets, renderService } from '../../src/render/index.js';
import type { KubeObject } from '../../src/render/index.js';
import { parseSpec, resolveSecretValues } from '../../src/spec/index.js';
import { runGantry } from '../gantry-cli.js';

const specText = `apiVersion: gantry.dev/v1alpha1
name: vault
namespace: shop
image: reg.local/vault:1.0.0
ports: [{ name: http, containerPort: 8080 }]
config: { LOG_LEVEL: info }
secrets: { DB_URL: { fromEnv: VAULT_DB_URL }, key.pem: { fromFile: key.pem } }
`;

let dir = '';
let file = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'gantry-render-'));
  file = join(dir, 'gantry.yaml');
  writeFileSync(file, specText);
  writeFileSync(join(dir, 'key.pem'), 'PEM\n');
});
after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const env = { VAULT_DB_URL: 'postgres://db/vault' };
const deployment = (objects: KubeObject[]) => objects.find((o) => o.kind === 'Deployment')!;
const podAnnotations = (d: KubeObject) =>
  (d.spec as { template: { metadata: { annotations: Record<string, string> } } }).template.metadata
    .annotations;

test('the Deployment gantry render prints is the one deploy applies', () => {
  const spec = parseSpec(specText);
  // What deploy applies: the CLI reads the sources (resolveSecretValues), deploy() renders.
  const applied = renderService(spec, {
    version: '1.0.0',
    secretValues: resolveSecretValues(spec, dir, env),
  });
  for (const args of [[], ['-o', 'json']]) {
    const r = runGantry([...args, 'render', '-f', file, '--version-label', '1.0.0'], env, 60_000);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    const objects = args.length
      ? (JSON.parse(r.stdout) as { items: KubeObject[] }).items
      : r.stdout.split(/^---\n/m).map((t) => parse(t, { version: '1.1' }) as KubeObject);
    assert.deepEqual(deployment(objects), JSON.parse(JSON.stringify(deployment(applied))));
    // Everything else too, with the Secret's values redacted.
    assert.deepEqual(objects, JSON.parse(JSON.stringify(redactSecrets(applied))));
    const secret = objects.find((o) => o.kind === 'Secret')!;
    for (const v of Object.values(secret.data as Record<string, string>)) {
      assert.equal(Buffer.from(v, 'base64').toString(), '<redacted>');
    }
  }
  // The hash is of the real values: another value, another hash.
  const other = renderService(spec, {
    version: '1.0.0',
    secretValues: resolveSecretValues(spec, dir, { VAULT_DB_URL: 'postgres://db/other' }),
  });
  assert.notEqual(
    podAnnotations(deployment(other))[ANNOTATION_CONFIG_HASH],
    podAnnotations(deployment(applied))[ANNOTATION_CONFIG_HASH],
  );
});

test('a secret source that cannot be read is an error naming it (exit 3)', () => {
  const r = runGantry(['render', '-f', file], { VAULT_DB_URL: undefined }, 60_000);
  assert.equal(r.status, 3, r.stderr);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /secret DB_URL: environment variable VAULT_DB_URL is not set/);
  assert.match(r.stderr, /--no-secret-sources/);
  rmSync(join(dir, 'key.pem'));
  try {
    const m = runGantry(['render', '-f', file], env, 60_000);
    assert.equal(m.status, 3, m.stderr);
    assert.match(m.stderr, /secret key\.pem: cannot read .*key\.pem \(ENOENT\)/);
  } finally {
    writeFileSync(join(dir, 'key.pem'), 'PEM\n');
  }
});

test('--no-secret-sources renders without reading them, and says the hash differs', () => {
  const r = runGantry(
    ['-o', 'json', 'render', '-f', file, '--no-secret-sources'],
    { VAULT_DB_URL: undefined },
    60_000,
  );
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /secret sources not read: gantry\.dev\/config-hash .* differs/);
  const { items } = JSON.parse(r.stdout) as { items: KubeObject[] };
  const secret = items.find((o) => o.kind === 'Secret')!;
  assert.deepEqual(Object.keys(secret.data as object).sort(), ['DB_URL', 'key.pem']);
});
