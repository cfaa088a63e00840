import type { FaultDefinition } from '../fault.js';

export const processFaults: FaultDefinition[] = [];
