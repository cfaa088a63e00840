// Every fault Gantry can inject, by kind. The CLI's one-line commands, the
// experiment file schema and `gantry chaos list` are generated from this list.
import type { FaultDefinition } from '../fault.js';
import { httpFaults } from './http.js';
import { k8sFaults } from './k8s.js';
import { networkFaults } from './network.js';
import { processFaults } from './process.js';
import { stressFaults } from './stress.js';
import { dnsFaults } from './dns.js';

export const faults: readonly FaultDefinition[] = [
  ...k8sFaults,
  ...processFaults,
  ...networkFaults,
  ...httpFaults,
  ...dnsFaults,
  ...stressFaults,
];

export function faultByKind(kind: string): FaultDefinition | undefined {
  return faults.find((f) => f.kind === kind);
}
