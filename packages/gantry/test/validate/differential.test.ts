// Differential test: `gantry validate` (validateSpecText, the library function behind
// it) must accept exactly the specs whose rendered objects the real API server accepts
// in a server-side dry run on the local cluster. Specs come from a fast-check generator
// (spec-gen.ts), valid and invalid near the server's boundaries. The server sees what
// Gantry would apply: the service's objects, and for a progressive release the canary's
// objects and the HTTPRoutes of its traffic split.
//
// GANTRY_DIFF_RUNS (default 300) cases, GANTRY_DIFF_SEED to replay a run (the seed is
// printed). Dry runs go out concurrently, a few cases at a time. Requests the server
// refuses for reasons that are not the spec's (throttling, timeouts, a missing
// namespace) are retried, then fail the test as an infrastructure problem rather than
// count as a verdict.
//
// Where Gantry is deliberately stricter than the API server, the generator does not go
// (its header lists those); the spec schema refuses, by design:
//   - env names other than C identifiers (the server takes any printable ASCII but "=");
//   - probe periods, timeouts and thresholds of 0 (the server would default them);
//   - routes when service.type is None, and route ports that are not TCP (no Service or no
//     HTTP to route to: objects the server takes, that never carry traffic);
//   - autoscaling targets above 100% and replicas above autoscaling.maxReplicas.
// Deliberate disagreements that the generator does reach are listed in KNOWN below. An
// object larger than etcd's request limit (1.5 MiB) is refused offline too, but a dry run
// never reaches etcd to confirm it; the generator stays below that size.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { requireCluster } from '../../../../hack/cluster/test/cluster-env.js';
import { Kube, KubeApiError } from '../../src/kube/client.js';
import { renderCanary } from '../../src/progressive/canary.js';
import { trafficFor } from '../../src/progressive/plan.js';
import { renderService } from '../../src/render/index.js';
import type { KubeObject } from '../../src/render/index.js';
import { SpecError, parseSpec } from '../../src/spec/index.js';
import type { ServiceSpec } from '../../src/spec/index.js';
import { renderRoutes } from '../../src/traffic/gateway-api.js';
import { routerKind } from '../../src/traffic/router.js';
import { ObjectValidationError } from '../../src/validate/openapi.js';
import { validateSpecText } from '../../src/validate/spec-check.js';
import { lenientSpec, specArbitrary, specYaml } from './spec-gen.js';
import type { SpecInput } from './spec-gen.js';

const cluster = requireCluster();
const skip = typeof cluster === 'string' ? cluster : false;

const RUNS = Number(process.env.GANTRY_DIFF_RUNS || 300);
const SEED = Number(process.env.GANTRY_DIFF_SEED || Date.now() % 2 ** 31);
/** Cases whose dry runs are in flight at once (each sends its objects together). */
const CONCURRENCY = 6;
const NAMESPACE = `gantry-diff-${process.pid}`;

type Verdict = { ok: true } | { ok: false; messages: string[] };

/**
 * Problems Gantry reports that the API server lets through (in a dry run, or in the object
 * it is shown), each with the reason. A case Gantry refuses and the server takes is a known
 * difference when every one of Gantry's messages is one of these, in any combination.
 */
const STRICTER: [RegExp, string][] = [
  // The API server checks an image for surrounding whitespace in pods only (not in pod
  // templates): it takes the Deployment and then refuses every pod the Deployment makes.
  [/^image: /, 'image with surrounding whitespace: pods refused, not the Deployment'],
  // A dry run never asks the node port allocator for its range (30000-32767 here): a real
  // create refuses a port outside it ("provided port is not in the valid range").
  [
    /^ports\[\d+\]\.nodePort: must be a node port, 30000-32767/,
    'node port outside 30000-32767: refused by a real create, not by a dry run',
  ],
  // The API server takes any name for a Secret or ConfigMap volume; no such object can exist,
  // so the pod would never start (or, optional, start with an empty directory).
  [
    /^mounts\[\d+\]\.(secret|configMap): names a /,
    'mount of a Secret or ConfigMap name that is not a DNS subdomain',
  ],
  // Kubernetes stores terminationGracePeriodSeconds as int64; the spec schema bounds it,
  // like every count and duration, to int32 (68 years): a larger one is a mistake.
  [
    /^terminationGracePeriodSeconds: must be at most 2147483647/,
    'terminationGracePeriodSeconds above int32',
  ],
];

/** Deliberate disagreements: a reason when Gantry may differ from the server on this case. */
const KNOWN: ((input: SpecInput, gantry: Verdict, server: Verdict) => string | undefined)[] = [
  (_input, gantry, server) => {
    if (gantry.ok || !server.ok) return undefined;
    const reasons = gantry.messages.map((m) => STRICTER.find(([re]) => re.test(m))?.[1]);
    return reasons.every((r) => r !== undefined) ? [...new Set(reasons)].join('; ') : undefined;
  },
];

/** What Gantry says: validateSpecText, as `gantry validate` runs it. */
async function gantryVerdict(text: string): Promise<Verdict> {
  try {
    await validateSpecText(text, 'gen.yaml');
    return { ok: true };
  } catch (err) {
    if (err instanceof SpecError) {
      return { ok: false, messages: err.problems.map((p) => `${p.field}: ${p.message}`) };
    }
    if (err instanceof ObjectValidationError) {
      return { ok: false, messages: err.problems.map((p) => `${p.kind} ${p.path}: ${p.message}`) };
    }
    throw err;
  }
}

/** Every object Gantry would apply for this spec, over a whole release. */
function objectsFor(spec: ServiceSpec): KubeObject[] {
  const objects = renderService(spec);
  if (spec.release.strategy !== 'rolling') {
    objects.push(...renderCanary(spec, { replicas: 1 }));
    if (spec.routes.length && routerKind(spec) === 'gateway') {
      const weight = spec.release.strategy === 'blueGreen' ? 0 : 50;
      const state = trafficFor(spec.release, {
        weight,
        pauseSeconds: 0,
        gate: 'auto',
        analyze: false,
        baseline: 'concurrent',
      });
      objects.push(...renderRoutes(spec, state));
    }
  }
  return objects;
}

/**
 * A refusal because of the object itself, as opposed to the cluster's state or load. Server-side
 * apply answers 500 when it cannot build the typed patch, e.g. for two list entries with the
 * same key (two volume mounts at one path): that too is the object's fault.
 */
const specRefusal = (err: unknown) =>
  err instanceof KubeApiError &&
  ([400, 413, 422].includes(err.status) ||
    (err.status === 500 && err.message.includes('failed to create typed patch object')));

async function serverVerdict(kube: Kube, objects: readonly KubeObject[]): Promise<Verdict> {
  const results = await Promise.all(
    objects.map(async (o) => {
      for (let attempt = 1; ; attempt++) {
        try {
          await kube.apply(o, { dryRun: true });
          return undefined;
        } catch (err) {
          if (specRefusal(err)) return (err as Error).message;
          if (attempt >= 4) {
            throw new Error(`infrastructure: dry run failed ${attempt} times: ${String(err)}`, {
              cause: err,
            });
          }
          await new Promise((r) => setTimeout(r, 250 * attempt));
        }
      }
    }),
  );
  const messages = results.filter((m): m is string => m !== undefined);
  return messages.length ? { ok: false, messages } : { ok: true };
}

async function pool<T, R>(items: readonly T[], n: number, fn: (t: T) => Promise<R>) {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

const clip = (s: string, n = 300) => (s.length > n ? `${s.slice(0, n)}… (${s.length} chars)` : s);
const clipYaml = (y: string) =>
  y
    .split('\n')
    .map((l) => clip(l, 160))
    .join('\n');

test(
  'gantry validate accepts exactly what the API server accepts (server-side dry run)',
  { skip, timeout: 600_000 },
  async (t) => {
    const env = cluster as Exclude<typeof cluster, string>;
    const kube = Kube.load({ kubeconfig: env.KUBECONFIG });
    await kube.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } });
    t.after(() =>
      kube
        .delete({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } })
        .catch(() => undefined),
    );
    const started = Date.now();
    const inputs = fc.sample(specArbitrary(NAMESPACE), { seed: SEED, numRuns: RUNS });
    let unrenderable = 0;
    const rows = await pool(inputs, CONCURRENCY, async (input) => {
      const text = specYaml(input);
      const gantry = await gantryVerdict(text);
      let spec: ServiceSpec;
      try {
        spec = parseSpec(text, 'gen.yaml');
      } catch {
        spec = lenientSpec(input);
      }
      let objects: KubeObject[];
      try {
        objects = objectsFor(spec);
      } catch {
        // Gantry cannot even render it (so it refuses it); nothing to show the server.
        unrenderable++;
        return undefined;
      }
      const server = await serverVerdict(kube, objects);
      return { input, text, gantry, server };
    });

    let agree = 0;
    let known = 0;
    let bothValid = 0;
    const disagreements: string[] = [];
    for (const row of rows) {
      if (!row) continue;
      const { input, text, gantry, server } = row;
      if (gantry.ok === server.ok) {
        agree++;
        if (gantry.ok) bothValid++;
        continue;
      }
      const reason = KNOWN.map((f) => f(input, gantry, server)).find((r) => r !== undefined);
      if (reason) {
        known++;
        continue;
      }
      disagreements.push(
        [
          `--- spec (gantry says ${gantry.ok ? 'VALID' : 'INVALID'}, the API server says ${server.ok ? 'VALID' : 'INVALID'})`,
          clipYaml(text).trimEnd(),
          '--- gantry:',
          ...(gantry.ok ? ['  valid'] : gantry.messages.slice(0, 5).map((m) => `  ${clip(m)}`)),
          '--- API server:',
          ...(server.ok ? ['  accepted'] : server.messages.slice(0, 5).map((m) => `  ${clip(m)}`)),
        ].join('\n'),
      );
    }
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    t.diagnostic(
      `seed ${SEED}: ${inputs.length} cases in ${seconds} s; ${agree} agree (${bothValid} valid), ` +
        `${known} known differences, ${unrenderable} not renderable, ${disagreements.length} disagreements`,
    );
    assert.ok(bothValid > RUNS / 10, `too few valid cases (${bothValid}): the generator drifted`);
    assert.ok(
      agree - bothValid > RUNS / 10,
      `too few invalid cases (${agree - bothValid}): the generator drifted`,
    );
    assert.equal(
      disagreements.length,
      0,
      `gantry validate and the API server disagree on ${disagreements.length} specs ` +
        `(replay with GANTRY_DIFF_SEED=${SEED} GANTRY_DIFF_RUNS=${RUNS}):\n\n${disagreements.join('\n\n')}`,
    );
  },
);
