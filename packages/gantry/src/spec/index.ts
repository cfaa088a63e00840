export { SPEC_API_VERSION, serviceSpecSchema, specJsonSchema } from './schema.js';
export type {
  ServiceSpec,
  ServiceSpecInput,
  ProbeSpec,
  ReleaseSpec,
  AnalysisSpec,
  ReleaseStepSpec,
} from './schema.js';
export { parseDuration } from './schema.js';
export { loadSpecFile, parseSpec } from './load.js';
export { SpecError, formatProblem, excerpt } from './errors.js';
export { SPEC_LIMITS } from './limits.js';
export { checkReferences } from './refs.js';
export type { RefProblem } from './refs.js';
export type { SpecProblem } from './errors.js';
export {
  resolveNotifyTargets,
  resolveSecretValues,
  SecretSourceError,
  withoutInlineWebhooks,
} from './secrets.js';
export type { ResolvedWebhook } from './secrets.js';
