// Compiling the Kubernetes schema bundle (schemas/k8s-v1.34.json) with ajv.
// Nothing here runs when gantry validates: scripts/gen-k8s-validators.ts uses
// it to generate the precompiled validators (generated/k8s-v1.34.ts), and the
// tests use it to compile the bundle at run time with the same options and
// prove the precompiled validators agree with the schema.
import { Ajv } from 'ajv';
import type { Options } from 'ajv';

/** The bundle scripts/gen-k8s-schema.ts writes. */
export interface SchemaBundle {
  kubernetesVersion: string;
  roots: Record<string, string>;
  definitions: Record<string, Record<string, unknown>>;
}

export const AJV_OPTIONS = {
  allErrors: true,
  // Errors carry the failing schema, its parent and the data ("did you mean", messages).
  verbose: true,
  strict: true,
  allowUnionTypes: true,
  // Upstream patterns are Go (RE2) expressions, not necessarily valid with the u flag.
  unicodeRegExp: false,
} as const satisfies Options;

/** The bundle's definitions registered as "k8s", ready for getSchema(rootRef(name)). */
export function compileBundle(bundle: SchemaBundle, opts: { source?: boolean } = {}): Ajv {
  const ajv = new Ajv({
    ...AJV_OPTIONS,
    ...(opts.source ? { code: { source: true, esm: true, lines: true } } : {}),
  });
  ajv.addSchema({ $id: 'k8s', definitions: bundle.definitions });
  return ajv;
}

export const rootRef = (definition: string) => `k8s#/definitions/${definition}`;
