// Mutable process state read on every request: draining (set by shutdown) and the fault
// configuration (replaced by config reloads).
import { NO_FAULTS } from './faults.js';
import type { FaultConfig } from './faults.js';

export class RuntimeState {
  draining = false;
  faults: FaultConfig = NO_FAULTS;

  constructor(faults: FaultConfig = NO_FAULTS) {
    this.faults = faults;
  }
}
