// What the spec tests share: a minimal spec, and the formatted problems a text is refused with.
import assert from 'node:assert/strict';
import { SpecError, formatProblem, parseSpec } from '../../src/spec/index.js';

export const MINIMAL = `apiVersion: gantry.dev/v1alpha1
name: users
image: registry.local/users
`;

/** The problems (file:line:col: field: message) parseSpec refuses `text` with, as svc.yaml. */
export function problems(text: string): string[] {
  try {
    parseSpec(text, 'svc.yaml');
  } catch (err) {
    assert.ok(err instanceof SpecError, `expected SpecError, got ${String(err)}`);
    return err.problems.map(formatProblem);
  }
  assert.fail('spec was accepted');
}
