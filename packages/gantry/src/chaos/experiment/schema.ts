// The experiment file's JSON Schema, generated from the fault registry: every
// fault kind's parameters become the schema of its step's `params`. The loader
// validates with this same schema (so the export and the check cannot drift), and
// `gantry chaos schema` prints it for editors.
import type { FaultDefinition } from '../fault.js';
import { faults as registry } from '../faults/index.js';
import { DURATION_PATTERN, paramJsonSchema } from './params.js';

export const EXPERIMENT_API_VERSION = 'gantry.dev/v1alpha1';
export const EXPERIMENT_KIND = 'ChaosExperiment';

/** A loopback http:// URL: probes and rollbacks never send traffic anywhere else. */
export const LOOPBACK_URL =
  '^http://(127\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}|localhost|\\[::1\\])(:[0-9]{1,5})?(/.*)?$';

type Schema = Record<string, unknown>;

const duration = (description: string, def?: string): Schema => ({
  type: 'string',
  pattern: DURATION_PATTERN,
  description,
  ...(def ? { default: def } : {}),
});
const dnsLabel: Schema = {
  type: 'string',
  pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$',
  maxLength: 63,
};

function targetSchema(): Schema {
  return {
    type: 'object',
    additionalProperties: false,
    description: "which of the service's ready pods (stable track) the fault acts on",
    properties: {
      count: { type: 'integer', minimum: 1, description: 'pods by count (default 1)' },
      percent: {
        type: 'number',
        exclusiveMinimum: 0,
        maximum: 100,
        description: 'pods by percent of the ready ones, rounded up, at least 1',
      },
      container: {
        type: 'string',
        minLength: 1,
        description: "default: the service's main container",
      },
      node: {
        type: 'string',
        minLength: 1,
        description: 'node faults: the node; default the node of the first chosen pod',
      },
      maxPercent: {
        type: 'number',
        exclusiveMinimum: 0,
        maximum: 100,
        description: "most of the service's ready pods one fault may touch (default 50)",
      },
    },
  };
}

function faultStepSchema(defs: readonly FaultDefinition[]): Schema {
  return {
    type: 'object',
    additionalProperties: false,
    required: ['fault', 'duration'],
    properties: {
      name: { type: 'string', minLength: 1, description: 'shown in the journal and report' },
      fault: {
        type: 'string',
        enum: defs.map((d) => d.kind),
        description: 'the fault kind (gantry chaos list)',
      },
      params: { type: 'object', description: "the fault's parameters (see each kind)" },
      target: { $ref: '#/definitions/target' },
      duration: duration('how long the fault stays in effect (it ends by its own expiry)'),
    },
    allOf: defs.map((d) => ({
      if: { properties: { fault: { const: d.kind } }, required: ['fault'] },
      then: {
        properties: {
          params: {
            type: 'object',
            additionalProperties: false,
            description: d.summary,
            properties: Object.fromEntries(d.params.map((p) => [p.name, paramJsonSchema(p)])),
            required: d.params.filter((p) => p.required).map((p) => p.name),
          },
        },
        ...(d.params.some((p) => p.required) ? { required: ['params'] } : {}),
      },
    })),
  };
}

const probeModes = ['start', 'end', 'continuous', 'during'];

function probeSchema(): Schema {
  const common = {
    name: { type: 'string', minLength: 1 },
    kind: { type: 'string', enum: ['ready', 'promql', 'http'] },
    mode: {
      type: 'string',
      enum: probeModes,
      description:
        'start: must hold before any fault; end: after the faults; continuous: from start to end; during: while faults are in effect',
    },
    interval: duration('how often a continuous/during probe is evaluated', '2s'),
    weight: {
      type: 'number',
      minimum: 0,
      default: 1,
      description: "the probe's weight in the resilience score",
    },
  };
  return {
    type: 'object',
    required: ['name', 'kind', 'mode'],
    properties: {
      ...common,
      query: {
        type: 'string',
        minLength: 1,
        description: 'promql: an instant query; its first value is checked',
      },
      min: { type: 'number', description: 'promql: the value must be at least this' },
      max: { type: 'number', description: 'promql: the value must be at most this' },
      prometheus: {
        type: 'string',
        pattern: '^https?://',
        description: 'promql: Prometheus base URL',
      },
      url: {
        type: 'string',
        pattern: LOOPBACK_URL,
        description: 'http: a loopback URL (gateway, NodePort)',
      },
      host: { type: 'string', minLength: 1, description: 'http: Host header (a gateway route)' },
      status: {
        type: 'integer',
        minimum: 100,
        maximum: 599,
        default: 200,
        description: 'http: expected status',
      },
      maxLatency: duration('http: slowest acceptable answer'),
      timeout: duration('http: give up after this (default 2s)'),
    },
    additionalProperties: false,
    allOf: [
      {
        if: { properties: { kind: { const: 'ready' } }, required: ['kind'] },
        then: {
          properties: {
            query: false,
            min: false,
            max: false,
            prometheus: false,
            url: false,
            host: false,
            status: false,
            maxLatency: false,
            timeout: false,
          },
        },
      },
      {
        if: { properties: { kind: { const: 'promql' } }, required: ['kind'] },
        then: {
          required: ['query'],
          anyOf: [{ required: ['min'] }, { required: ['max'] }],
          properties: { url: false, host: false, status: false, maxLatency: false, timeout: false },
        },
      },
      {
        if: { properties: { kind: { const: 'http' } }, required: ['kind'] },
        then: {
          required: ['url'],
          properties: { query: false, min: false, max: false, prometheus: false },
        },
      },
    ],
  };
}

function stepSchema(inner: boolean): Schema {
  const parallel = {
    type: 'object',
    additionalProperties: false,
    required: ['parallel'],
    properties: {
      name: { type: 'string', minLength: 1 },
      parallel: {
        type: 'array',
        minItems: 1,
        items: { $ref: '#/definitions/innerStep' },
        description: 'steps started together; the group ends when all have',
      },
    },
  };
  return {
    type: 'object',
    description: inner
      ? 'a fault or a pause, inside a parallel group'
      : 'a fault, a pause or a parallel group: one of fault:, pause:, parallel:',
    if: { required: ['fault'] },
    then: { $ref: '#/definitions/faultStep' },
    else: inner
      ? { $ref: '#/definitions/pauseStep' }
      : {
          if: { required: ['parallel'] },
          then: parallel,
          else: { $ref: '#/definitions/pauseStep' },
        },
  };
}

function rollbackSchema(): Schema {
  return {
    type: 'object',
    additionalProperties: false,
    required: ['action'],
    properties: {
      name: { type: 'string', minLength: 1 },
      action: {
        type: 'string',
        enum: ['recover', 'wait-ready', 'http'],
        description:
          'recover: revert whatever of this experiment is still injected; wait-ready: until every replica is ready; http: a request to a loopback URL',
      },
      timeout: duration('wait-ready and http: how long at most', '60s'),
      url: { type: 'string', pattern: LOOPBACK_URL },
      method: { type: 'string', enum: ['GET', 'POST', 'PUT', 'DELETE'], default: 'GET' },
      host: { type: 'string', minLength: 1 },
    },
    if: { properties: { action: { const: 'http' } }, required: ['action'] },
    then: { required: ['url'] },
  };
}

/** The experiment file's JSON Schema (draft-07) for the given fault registry. */
export function experimentJsonSchema(defs: readonly FaultDefinition[] = registry): Schema {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'https://gantry.dev/schemas/chaos-experiment.json',
    title: 'Gantry chaos experiment',
    type: 'object',
    additionalProperties: false,
    required: ['apiVersion', 'kind', 'metadata', 'target', 'method'],
    properties: {
      apiVersion: { const: EXPERIMENT_API_VERSION },
      kind: { const: EXPERIMENT_KIND },
      metadata: {
        type: 'object',
        additionalProperties: false,
        required: ['name'],
        properties: {
          name: dnsLabel,
          description: { type: 'string' },
        },
      },
      target: {
        type: 'object',
        additionalProperties: false,
        description:
          'the service under test: a spec file (relative to this file), or namespace and service',
        properties: {
          spec: { type: 'string', minLength: 1, description: 'gantry.yaml of the service' },
          namespace: dnsLabel,
          service: dnsLabel,
        },
        if: { required: ['spec'] },
        then: { properties: { namespace: false, service: false } },
        else: { required: ['namespace', 'service'] },
      },
      probes: {
        type: 'array',
        items: probeSchema(),
        description: 'the steady-state hypothesis',
      },
      method: { type: 'array', minItems: 1, items: { $ref: '#/definitions/step' } },
      rollbacks: {
        type: 'array',
        items: rollbackSchema(),
        description: 'run whatever happened, after the faults and the end probes',
      },
    },
    definitions: {
      target: targetSchema(),
      faultStep: faultStepSchema(defs),
      pauseStep: {
        type: 'object',
        additionalProperties: false,
        required: ['pause'],
        properties: { name: { type: 'string', minLength: 1 }, pause: duration('wait this long') },
      },
      step: stepSchema(false),
      innerStep: stepSchema(true),
    },
  };
}
