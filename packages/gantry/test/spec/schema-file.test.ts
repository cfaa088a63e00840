// The JSON Schema kept for editors must follow the schema in code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { specJsonSchema } from '../../src/spec/index.js';

test('deploy/gantry.schema.json is what `gantry schema` prints (regenerate it when the spec changes)', () => {
  const file = new URL('../../../../deploy/gantry.schema.json', import.meta.url);
  const kept = JSON.parse(readFileSync(file, 'utf8')) as unknown;
  assert.deepEqual(kept, JSON.parse(JSON.stringify(specJsonSchema())));
});
