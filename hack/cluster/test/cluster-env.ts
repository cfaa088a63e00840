// Test helpers for anything that needs the local cluster: find it, talk to it
// with kubectl, and wait for conditions with bounded retries.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

export const clusterScript = fileURLToPath(new URL('../cluster', import.meta.url));
const echoSource = fileURLToPath(new URL('./fixtures/echo', import.meta.url));

export interface ClusterEnv {
  KUBECONFIG: string;
  PATH: string;
  GANTRY_REGISTRY: string;
  PROMETHEUS_URL: string;
  ALERTMANAGER_URL: string;
  GANTRY_NODE_BASE_IMAGE: string;
  /** The node's address (10.201.0.1): where pods reach services on the host. */
  GANTRY_NODE_IP?: string;
}

/**
 * The running local cluster's environment, or a reason it cannot be used.
 * Tests skip on a reason outside CI and fail on it in CI.
 */
export function localCluster(): { env: ClusterEnv } | { reason: string } {
  const status = spawnSync(clusterScript, ['status'], { encoding: 'utf8' });
  if (status.status !== 0) {
    return {
      reason: `local cluster is not healthy (hack/cluster/cluster status):\n${status.stdout}`,
    };
  }
  const out = spawnSync(clusterScript, ['env'], { encoding: 'utf8' });
  const vars: Record<string, string> = {};
  for (const line of out.stdout.split('\n')) {
    const m = /^export ([A-Z_]+)=(.*)$/.exec(line);
    if (m?.[1] && m[2] !== undefined) {
      vars[m[1]] = m[2].replace('$PATH', process.env.PATH ?? '');
    }
  }
  return { env: vars as unknown as ClusterEnv };
}

/** Resolves the cluster or, in CI, throws; elsewhere returns a skip message. */
export function requireCluster(): ClusterEnv | string {
  const c = localCluster();
  if ('env' in c) return c.env;
  if (process.env.CI === 'true') throw new Error(c.reason);
  return c.reason;
}

/** The cluster's environment with its Gateway (Traefik on the host). */
export interface GatewayEnv extends ClusterEnv {
  /** http://127.0.0.1:8000: the Gateway's HTTP listener. */
  GANTRY_GATEWAY_URL: string;
  /** NAMESPACE/NAME of the Gateway routes attach to. */
  GANTRY_GATEWAY: string;
}

/** requireCluster, and the Gateway in its environment (else a skip message, or in CI a throw). */
export function requireGateway(): GatewayEnv | string {
  const c = requireCluster();
  if (typeof c === 'string') return c;
  const env = c as Partial<GatewayEnv> & ClusterEnv;
  if (env.GANTRY_GATEWAY_URL && env.GANTRY_GATEWAY) return env as GatewayEnv;
  const reason = 'cluster env has no GANTRY_GATEWAY_URL/GANTRY_GATEWAY (gateway not set up)';
  if (process.env.CI === 'true') throw new Error(reason);
  return reason;
}

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  input?: string;
  cwd?: string;
  extraEnv?: Record<string, string>;
}

export function run(
  cmd: string,
  args: readonly string[],
  env: ClusterEnv,
  opts: RunOptions = {},
): Run {
  const r = spawnSync(cmd, args, {
    encoding: 'utf8',
    input: opts.input,
    cwd: opts.cwd,
    env: { ...process.env, ...env, ...opts.extraEnv },
    maxBuffer: 64 * 1024 * 1024,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function kubectl(env: ClusterEnv, args: readonly string[], input?: string): string {
  const r = run('kubectl', args, env, input === undefined ? {} : { input });
  if (r.status !== 0) {
    throw new Error(`kubectl ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  }
  return r.stdout;
}

/**
 * Builds the echo fixture (a static Go binary on an empty base image) and
 * pushes it to the cluster's registry as `repo:tag`; returns the image by digest.
 * The fixture answers / with $NAME, /healthz and /metrics on $PORT (8080).
 */
export function pushEchoImage(env: ClusterEnv, repo: string, tag = `${Date.now()}`): string {
  const work = mkdtempSync(join(tmpdir(), 'gantry-echo-'));
  try {
    mkdirSync(join(work, 'rootfs'));
    const build = run(
      'go',
      ['build', '-trimpath', '-ldflags=-s -w', '-o', join(work, 'rootfs', 'echo'), '.'],
      env,
      { cwd: echoSource, extraEnv: { CGO_ENABLED: '0' } },
    );
    if (build.status !== 0) throw new Error(`go build of the echo fixture failed: ${build.stderr}`);
    const push = run(
      clusterScript,
      [
        'push-image',
        `${repo}:${tag}`,
        join(work, 'rootfs'),
        '{"Entrypoint":["/echo"],"User":"65532:65532"}',
      ],
      env,
    );
    const digest = push.stdout.trim();
    if (push.status !== 0 || !/^sha256:[0-9a-f]{64}$/.test(digest)) {
      throw new Error(`cluster push-image ${repo}:${tag} failed (${push.status}): ${push.stderr}`);
    }
    return `${env.GANTRY_REGISTRY}/${repo}@${digest}`;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  timeoutMs: number,
  check: () => Promise<T | undefined> | T | undefined,
  intervalMs = 500,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const detail = last instanceof Error ? `: ${last.message}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
    }
    await sleep(intervalMs);
  }
}

/**
 * A node port no Service of the cluster holds, from 32100-32699 (a range the differential
 * test's generator keeps clear of), for a test's own NodePort Service.
 */
export function freeNodePort(env: ClusterEnv): number {
  const used = new Set(
    kubectl(env, [
      'get',
      'services',
      '-A',
      '-o',
      'jsonpath={range .items[*]}{range .spec.ports[*]}{.nodePort}{"\\n"}{end}{end}',
    ])
      .split('\n')
      .filter(Boolean)
      .map(Number),
  );
  for (;;) {
    const p = 32100 + Math.floor(Math.random() * 600);
    if (!used.has(p)) return p;
  }
}
