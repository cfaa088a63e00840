// Library entry point. Every CLI command is a thin wrapper over what is
// exported here, so scripts can drive Gantry without shelling out.
export { gantryVersion } from './gantry-version.js';
export { ExitCode } from './cli/exit-codes.js';
export * from './version/index.js';
export * from './image/index.js';
