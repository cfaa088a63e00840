// `gantry validate` as a library function, and the check deploy runs before it
// touches a cluster: the spec schema (spec/), the Kubernetes API server's own
// rules on what the spec renders to (k8s-rules.ts, reported at the spec's
// fields), then the rendered objects against the Kubernetes OpenAPI schema
// (openapi.ts).
import { renderService } from '../render/index.js';
import type { KubeObject } from '../render/index.js';
import { SpecError, loadSpecFile, parseSpec } from '../spec/index.js';
import type { ServiceSpec } from '../spec/index.js';
import { k8sRuleProblems } from './k8s-rules.js';
import type { K8sRuleOptions } from './k8s-rules.js';
import { locateProblems } from './spec-source.js';

/**
 * Throws SpecError (file:line:col at the spec's field) when the API server would refuse
 * what `spec` renders to for a reason its OpenAPI schema does not show.
 */
export function checkKubernetesRules(spec: ServiceSpec, opts: K8sRuleOptions = {}): void {
  const problems = k8sRuleProblems(spec, opts);
  if (problems.length) throw new SpecError(locateProblems(spec, problems));
}

export interface ValidSpec {
  spec: ServiceSpec;
  objects: KubeObject[];
}

/**
 * Every offline check of a spec: throws SpecError or ObjectValidationError (both exit 3
 * in the CLI), or returns the spec and the objects it renders to. Touches no cluster.
 */
export async function validateSpec(spec: ServiceSpec): Promise<ValidSpec> {
  checkKubernetesRules(spec);
  const objects = renderService(spec);
  const { ObjectValidationError, validateObjects } = await import('./openapi.js');
  const problems = validateObjects(objects);
  if (problems.length) throw new ObjectValidationError(problems);
  return { spec, objects };
}

/** validateSpec of spec text; `file` names it in messages. */
export async function validateSpecText(text: string, file = 'gantry.yaml'): Promise<ValidSpec> {
  return validateSpec(parseSpec(text, file));
}

/** validateSpec of a spec file. */
export async function validateSpecFile(file: string): Promise<ValidSpec> {
  return validateSpec(loadSpecFile(file));
}
