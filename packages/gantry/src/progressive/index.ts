export { startRelease, requestAction, ReleaseError, driverLeaseName } from './driver.js';
export type { RolloutEvent, DriveOptions } from './driver.js';
export {
  RolloutStore,
  isActive,
  rolloutSecretName,
  TERMINAL_PHASES,
  assertNoActiveRelease,
} from './state.js';
export type {
  RolloutState,
  RolloutPhase,
  RolloutAction,
  DecisionRecord,
  CheckRecord,
} from './state.js';
export { planSteps, trafficFor } from './plan.js';
export type { PlannedStep } from './plan.js';
export { renderCanary, canaryName } from './canary.js';
