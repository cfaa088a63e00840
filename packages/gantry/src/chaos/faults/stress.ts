import type { FaultDefinition } from '../fault.js';

export const stressFaults: FaultDefinition[] = [];
