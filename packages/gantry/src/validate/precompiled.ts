// The shape of a precompiled validator module (generated/k8s-<version>.ts,
// written by scripts/gen-k8s-validators.ts). Types only: nothing to load.
import type { ErrorObject } from 'ajv';

/** An ajv validate function generated ahead of time: true, or false with errors set. */
export interface PrecompiledValidator {
  (data: unknown): boolean;
  errors?: ErrorObject[] | null;
}

export interface PrecompiledBundle {
  kubernetesVersion: string;
  /** sha256 of the schema bundle file the validators were generated from. */
  schemaSha256: string;
  /** The pattern Quantity strings must match (its errors get a friendlier message). */
  quantityPattern: string;
  /** By "apiVersion/kind", e.g. "apps/v1/Deployment". */
  validators: Readonly<Record<string, PrecompiledValidator>>;
}
