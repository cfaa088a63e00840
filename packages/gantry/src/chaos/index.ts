export { describe as describeSteadyState, podKill } from './pod-kill.js';
export type { PodKillOptions, PodKillReport, PodKillRound } from './pod-kill.js';
export { readSteadyState } from './steady-state.js';
export type { SteadyState, SteadyStateOptions } from './steady-state.js';
