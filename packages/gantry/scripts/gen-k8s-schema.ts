// Generates src/validate/schemas/k8s-v1.34.json: a self-contained JSON Schema
// (draft-07) bundle of every kind Gantry renders, for offline validation with
// ajv before anything is applied. Sources, both from the Go module cache
// (downloaded through the Go module proxy when absent):
//   - k8s.io/kubernetes@v1.34.4 api/openapi-spec/v3/*.json (built-in kinds)
//   - sigs.k8s.io/gateway-api@v1.4.0 config/crd/standard/ (HTTPRoute, a CRD)
// Only definitions reachable from those kinds are kept; descriptions, defaults
// and the x-kubernetes-* annotations are dropped, and the OpenAPI quirks are
// turned into plain JSON Schema:
//   - IntOrString (oneOf integer|string, or x-kubernetes-int-or-string) and
//     Quantity (oneOf string|number) become type unions, so a mismatch is one
//     error; Quantity strings must match the Kubernetes quantity syntax;
//   - format int32 becomes integer bounds, int64/double are plain numbers,
//     byte (Secret data) must be base64, date-time is left to the server;
//   - an object schema that lists properties gets additionalProperties: false
//     (the API server rejects unknown fields under strict field validation);
//     maps (additionalProperties: schema) and free-form objects stay open;
//   - CEL rules (x-kubernetes-validations) are not evaluated offline: the
//     server-side dry run still runs them.
//
// It then regenerates the precompiled validators (scripts/gen-k8s-validators.ts).
//
//   node --import tsx packages/gantry/scripts/gen-k8s-schema.ts
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { format } from 'prettier';
import { parse } from 'yaml';
import { writeValidatorModule } from './gen-k8s-validators.js';

const KUBERNETES = 'k8s.io/kubernetes@v1.34.4';
const GATEWAY_API = 'sigs.k8s.io/gateway-api@v1.4.0';
const TARGET = '1.34';

/** apiVersion/kind -> the OpenAPI v3 file that defines it. */
const BUILTIN: [gvk: string, file: string][] = [
  ['v1/Namespace', 'api__v1_openapi.json'],
  ['v1/ServiceAccount', 'api__v1_openapi.json'],
  ['v1/ConfigMap', 'api__v1_openapi.json'],
  ['v1/Secret', 'api__v1_openapi.json'],
  ['v1/Service', 'api__v1_openapi.json'],
  ['apps/v1/Deployment', 'apis__apps__v1_openapi.json'],
  ['autoscaling/v2/HorizontalPodAutoscaler', 'apis__autoscaling__v2_openapi.json'],
  ['policy/v1/PodDisruptionBudget', 'apis__policy__v1_openapi.json'],
  ['networking.k8s.io/v1/NetworkPolicy', 'apis__networking.k8s.io__v1_openapi.json'],
  ['coordination.k8s.io/v1/Lease', 'apis__coordination.k8s.io__v1_openapi.json'],
];
const CRDS: [gvk: string, file: string, definition: string][] = [
  [
    'gateway.networking.k8s.io/v1/HTTPRoute',
    'config/crd/standard/gateway.networking.k8s.io_httproutes.yaml',
    'io.k8s.networking.gateway.v1.HTTPRoute',
  ],
];

const OBJECT_META = 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta';
const QUANTITY = 'io.k8s.apimachinery.pkg.api.resource.Quantity';
/** The syntax resource.ParseQuantity accepts (sign, number, suffix or exponent). */
const QUANTITY_PATTERN =
  '^[+-]?(?:[0-9]+(?:\\.[0-9]*)?|\\.[0-9]+)(?:[KMGTPE]i|[mkMGTPE]|[eE][+-]?[0-9]+)?$';
const BASE64 = '^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$';
const INT32 = { minimum: -2147483648, maximum: 2147483647 };

type Schema = Record<string, unknown>;

function moduleDir(mod: string): string {
  const info = JSON.parse(
    execFileSync('go', ['mod', 'download', '-json', mod], { encoding: 'utf8' }),
  ) as { Dir?: string; Error?: string };
  if (!info.Dir) throw new Error(`go mod download ${mod}: ${info.Error ?? 'no directory'}`);
  return info.Dir;
}

const refName = (ref: string) => ref.replace(/^#\/components\/schemas\//, '');

/** One schema, converted (see the header); `refs` collects the definitions it references. */
function convert(s: Schema, refs: Set<string>): Schema {
  // allOf: [{$ref}] with only annotations beside it is just the reference.
  if (Array.isArray(s.allOf) && s.allOf.length === 1 && !s.properties && !s.type) {
    return convert(s.allOf[0] as Schema, refs);
  }
  if (typeof s.$ref === 'string') {
    const name = refName(s.$ref);
    refs.add(name);
    return { $ref: `#/definitions/${name}` };
  }
  const out: Schema = {};
  const alternatives = (s.oneOf ?? s.anyOf) as Schema[] | undefined;
  if (
    alternatives?.every((a) => Object.keys(a).length === 1 && typeof a.type === 'string') ||
    s['x-kubernetes-int-or-string'] === true
  ) {
    // IntOrString and Quantity: a union of scalar types.
    out.type = alternatives
      ? alternatives.map((a) => (a.type === 'number' ? 'number' : String(a.type)))
      : ['integer', 'string'];
  } else if (alternatives) {
    out[s.oneOf ? 'oneOf' : 'anyOf'] = alternatives.map((a) => convert(a, refs));
  } else if (s.type !== undefined) {
    out.type = s.type;
  }
  for (const k of [
    'enum',
    'pattern',
    'minimum',
    'maximum',
    'exclusiveMinimum',
    'exclusiveMaximum',
    'minLength',
    'maxLength',
    'minItems',
    'maxItems',
    'minProperties',
    'maxProperties',
    'required',
  ]) {
    if (s[k] !== undefined) out[k] = s[k];
  }
  switch (s.format) {
    case 'int32':
      out.minimum ??= INT32.minimum;
      out.maximum ??= INT32.maximum;
      break;
    case 'byte':
      out.pattern ??= BASE64;
      break;
  }
  if (s.properties) {
    const props: Schema = {};
    for (const [name, p] of Object.entries(s.properties as Record<string, Schema>)) {
      props[name] = convert(p, refs);
    }
    out.type ??= 'object';
    out.properties = props;
  }
  if (s.items) out.items = convert(s.items as Schema, refs);
  if (s['x-kubernetes-preserve-unknown-fields'] === true) {
    // Free-form: nothing more to check.
  } else if (typeof s.additionalProperties === 'object') {
    out.additionalProperties = convert(s.additionalProperties as Schema, refs);
  } else if (s.additionalProperties !== undefined) {
    out.additionalProperties = s.additionalProperties;
  } else if (s.properties) {
    out.additionalProperties = false;
  }
  return out;
}

function main(): void {
  const kube = moduleDir(KUBERNETES);
  const gateway = moduleDir(GATEWAY_API);
  const definitions: Record<string, Schema> = {};
  const roots: Record<string, string> = {};

  const files = new Map<string, Record<string, Schema>>();
  const openapi = (file: string) => {
    let schemas = files.get(file);
    if (!schemas) {
      const doc = JSON.parse(readFileSync(join(kube, 'api/openapi-spec/v3', file), 'utf8')) as {
        components: { schemas: Record<string, Schema> };
      };
      schemas = doc.components.schemas;
      files.set(file, schemas);
    }
    return schemas;
  };
  const add = (name: string, schemas: Record<string, Schema>) => {
    if (definitions[name]) return;
    const s = schemas[name];
    if (!s) throw new Error(`no definition ${name}`);
    const refs = new Set<string>();
    definitions[name] = convert(s, refs);
    if (name === QUANTITY) definitions[name].pattern = QUANTITY_PATTERN;
    for (const r of refs) add(r, schemas);
  };

  for (const [gvk, file] of BUILTIN) {
    const schemas = openapi(file);
    const root = Object.keys(schemas).find((name) =>
      (
        (schemas[name]!['x-kubernetes-group-version-kind'] ?? []) as {
          group: string;
          version: string;
          kind: string;
        }[]
      ).some((g) => `${g.group ? `${g.group}/` : ''}${g.version}/${g.kind}` === gvk),
    );
    if (!root) throw new Error(`no schema for ${gvk} in ${file}`);
    roots[gvk] = root;
    add(root, schemas);
  }

  for (const [gvk, file, name] of CRDS) {
    const crd = parse(readFileSync(join(gateway, file), 'utf8')) as {
      spec: { versions: { name: string; schema: { openAPIV3Schema: Schema } }[] };
    };
    const version = gvk.split('/').at(-2);
    const v = crd.spec.versions.find((x) => x.name === version);
    if (!v) throw new Error(`${file} does not serve ${version}`);
    const refs = new Set<string>();
    const s = convert(v.schema.openAPIV3Schema, refs);
    // The API server validates a custom resource's metadata as ObjectMeta.
    (s.properties as Schema).metadata = { $ref: `#/definitions/${OBJECT_META}` };
    add(OBJECT_META, openapi('api__v1_openapi.json'));
    definitions[name] = s;
    roots[gvk] = name;
  }

  const sorted: Record<string, Schema> = {};
  for (const k of Object.keys(definitions).sort()) sorted[k] = definitions[k]!;
  const bundle = {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $comment:
      'Generated by packages/gantry/scripts/gen-k8s-schema.ts; do not edit. Derived from the ' +
      'upstream API definitions named in provenance.',
    kubernetesVersion: TARGET,
    provenance: {
      builtin: `${KUBERNETES} api/openapi-spec/v3`,
      crds: CRDS.map(([, file]) => `${GATEWAY_API} ${file}`),
      notes:
        'descriptions, defaults and x-kubernetes-* annotations removed; IntOrString and Quantity ' +
        'as type unions; int32 as bounds; additionalProperties false where properties are listed; ' +
        'CEL rules (x-kubernetes-validations) not included',
    },
    roots,
    definitions: sorted,
  };
  const out = fileURLToPath(new URL('../src/validate/schemas/k8s-v1.34.json', import.meta.url));
  mkdirSync(dirname(out), { recursive: true });
  void format(JSON.stringify(bundle), { parser: 'json', printWidth: 100 }).then((text) => {
    writeFileSync(out, text);
    console.log(
      `wrote ${out}: ${Object.keys(roots).length} kinds, ${Object.keys(sorted).length} definitions, ` +
        `${statSync(out).size} bytes`,
    );
    writeValidatorModule();
  });
}

main();
