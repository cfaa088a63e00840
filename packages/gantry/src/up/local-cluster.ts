// Finding and starting the local cluster (hack/cluster) from a Gantry checkout.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

/** The repository root of this Gantry checkout, if the CLI runs from one. */
export function gantryRepo(): string | undefined {
  const fromEnv = process.env.GANTRY_REPO;
  if (fromEnv && existsSync(join(fromEnv, 'hack/cluster/cluster'))) return fromEnv;
  // This file runs from packages/gantry/dist/up/ or, bundled, from packages/gantry/bundle/:
  // the nearest directory above it with hack/cluster/cluster is the checkout.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'hack/cluster/cluster'))) return dir;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return undefined;
}

export class LocalClusterError extends Error {
  override name = 'LocalClusterError';
}

/**
 * Brings the local cluster up (idempotent; progress goes to stderr) and
 * returns its environment: KUBECONFIG, registry, Prometheus and gateway URLs.
 */
export function localClusterUp(repo: string): Record<string, string> {
  const script = join(repo, 'hack/cluster/cluster');
  const up = spawnSync(script, ['up'], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (up.status !== 0) {
    throw new LocalClusterError(
      `hack/cluster/cluster up failed (exit ${up.status ?? 'signal'}); see its output above`,
    );
  }
  return localClusterEnv(repo);
}

export function localClusterEnv(repo: string): Record<string, string> {
  const out = spawnSync(join(repo, 'hack/cluster/cluster'), ['env'], { encoding: 'utf8' });
  const env: Record<string, string> = {};
  for (const line of out.stdout.split('\n')) {
    const m = /^export ([A-Z_]+)=(.*)$/.exec(line);
    if (m?.[1] && m[2] !== undefined) env[m[1]] = m[2].replace('$PATH', process.env.PATH ?? '');
  }
  if (!env.KUBECONFIG)
    throw new LocalClusterError('hack/cluster/cluster env printed no KUBECONFIG');
  return env;
}
