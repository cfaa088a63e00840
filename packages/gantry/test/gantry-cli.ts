// The gantry CLI as the integration tests run it: a child process of this Node, with the
// local cluster's environment (KUBECONFIG, PATH, registry, Prometheus) and a time bound.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ClusterEnv } from '../../../hack/cluster/test/cluster-env.js';

export const gantryBin = fileURLToPath(new URL('../bin/gantry.js', import.meta.url));

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `gantry ARGS` with `env` over this process's environment; waits at most `timeoutMs`. */
export function runGantry(
  args: readonly string[],
  env: ClusterEnv | NodeJS.ProcessEnv,
  timeoutMs = 240_000,
): CliResult {
  const r = spawnSync(process.execPath, [gantryBin, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: timeoutMs,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
