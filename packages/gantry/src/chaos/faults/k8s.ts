import type { FaultDefinition } from '../fault.js';

export const k8sFaults: FaultDefinition[] = [];
