// Library entry point. Every CLI command is a thin wrapper over what is
// exported here, so scripts can drive Gantry without shelling out.
export { gantryVersion } from './version.js';
export { ExitCode } from './cli/exit-codes.js';
