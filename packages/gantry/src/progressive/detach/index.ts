// Releases that outlive the terminal: a release handed to a driver in the cluster
// (gantry release start --detach), the driver itself (gantry release drive), following a
// release (gantry release status --watch) and removing a driver whose release ended.
export { startDetached } from './start.js';
export type { DetachOptions, DetachResult } from './start.js';
export { runDriver } from './run.js';
export type { DriverRunOptions } from './run.js';
export { followRelease, changesBetween } from './follow.js';
export type { Change, FollowResult } from './follow.js';
export { cleanUpFinishedDriver, removeDriverObjects } from './cleanup.js';
export { ensureDriverImage, DriverImageError, DRIVER_REPOSITORY } from './image.js';
export {
  driverName,
  driverRules,
  driverHolder,
  isDriverHolder,
  renderDriverAccess,
  renderDriverDeployment,
  DRIVER_LABEL,
} from './objects.js';
export type { DriverInput } from './objects.js';
