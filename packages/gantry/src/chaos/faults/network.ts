import type { FaultDefinition } from '../fault.js';

export const networkFaults: FaultDefinition[] = [];
