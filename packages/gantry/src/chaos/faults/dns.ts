import type { FaultDefinition } from '../fault.js';

export const dnsFaults: FaultDefinition[] = [];
