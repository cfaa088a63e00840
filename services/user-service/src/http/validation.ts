// Request validation. Bodies are validated strictly: no type coercion ("42" is not a number),
// no silent removal of unknown fields (they are rejected), all errors reported at once.
// Path and query parameters arrive as strings, so those coerce (e.g. ?limit=10 → 10).
import { Ajv } from 'ajv';
import type { Options } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';

// ajv-formats is CommonJS with a default export; under NodeNext the default import is the module.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

const common: Options = {
  removeAdditional: false,
  useDefaults: true,
  allErrors: true,
  strict: true,
  strictTypes: false,
  // Errors carry their schema, for PATTERN_DETAIL (problem.ts).
  verbose: true,
  // OpenAPI and TypeBox annotations that are not validation keywords.
  keywords: ['example', 'x-pattern-detail'],
};

export function createAjv(part: 'body' | 'other'): Ajv {
  const ajv = new Ajv({ ...common, coerceTypes: part === 'body' ? false : 'array' });
  addFormats(ajv);
  return ajv;
}

export function createValidatorCompiler(): FastifySchemaCompiler<unknown> {
  const body = createAjv('body');
  const other = createAjv('other');
  return ({ schema, httpPart }) => (httpPart === 'body' ? body : other).compile(schema as object);
}
