import type { FaultDefinition } from '../fault.js';

export const httpFaults: FaultDefinition[] = [];
