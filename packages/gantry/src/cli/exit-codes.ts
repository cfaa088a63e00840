/**
 * Exit codes shared by every gantry command. Scripts may rely on them; they
 * are listed in the README and in `gantry --help`.
 */
export const ExitCode = {
  /** The command did what was asked. */
  Ok: 0,
  /** An unexpected failure (a bug, or an error Gantry could not classify). */
  Failure: 1,
  /** Bad usage: unknown flag, missing argument. */
  Usage: 2,
  /** The input (a spec file, a flag value) is invalid; nothing was changed. */
  InvalidInput: 3,
  /** The deploy failed; the service was returned to its last good release when one existed. */
  DeployFailed: 4,
  /** Another gantry holds the service's lock. */
  Locked: 5,
  /** The cluster could not be reached or refused the request. */
  ClusterError: 6,
  /** gantry diff: the deploy would change something (0 means it would change nothing). */
  Changes: 7,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];
