// kubeconfig files: the current context's server, CA and credentials.
// Client certificates, bearer tokens and basic auth are handled here; exec
// plugins and auth providers are left to the client library (see client.ts).
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import { parse } from 'yaml';

export interface ClusterAccess {
  server: string;
  ca?: Buffer;
  insecureSkipTLSVerify: boolean;
  cert?: Buffer;
  key?: Buffer;
  token?: string;
  basic?: { username: string; password: string };
  /** The user entry needs an exec plugin or auth provider. */
  needsPlugin: boolean;
  contextName: string;
  namespace?: string;
}

interface Named<T> {
  name: string;
  [k: string]: unknown;
  value?: T;
}

interface RawConfig {
  'current-context'?: string;
  clusters?: Named<unknown>[];
  users?: Named<unknown>[];
  contexts?: Named<unknown>[];
}

export class KubeconfigError extends Error {
  override name = 'KubeconfigError';
}

/** The kubeconfig file to use: explicit path, else the first of $KUBECONFIG, else ~/.kube/config. */
export function kubeconfigPath(explicit?: string): string {
  if (explicit) return explicit;
  const env = process.env.KUBECONFIG;
  if (env) return env.split(delimiter).find(Boolean) ?? env;
  return join(homedir(), '.kube', 'config');
}

export function loadClusterAccess(path: string, context?: string): ClusterAccess {
  let raw: RawConfig;
  try {
    raw = parse(readFileSync(path, 'utf8')) as RawConfig;
  } catch (err) {
    throw new KubeconfigError(`cannot read kubeconfig ${path}: ${(err as Error).message}`);
  }
  const ctxName = context ?? raw['current-context'];
  const find = (list: Named<unknown>[] | undefined, name: string | undefined, what: string) => {
    const entry = list?.find((e) => e.name === name);
    if (!entry) throw new KubeconfigError(`kubeconfig ${path}: no ${what} named "${name ?? ''}"`);
    return entry;
  };
  const ctx = find(raw.contexts, ctxName, 'context').context as {
    cluster: string;
    user: string;
    namespace?: string;
  };
  const cluster = find(raw.clusters, ctx.cluster, 'cluster').cluster as Record<string, unknown>;
  const user = (find(raw.users, ctx.user, 'user').user ?? {}) as Record<string, unknown>;
  const base = dirname(path);
  const fileOrData = (file: unknown, data: unknown): Buffer | undefined => {
    if (typeof data === 'string') return Buffer.from(data, 'base64');
    if (typeof file === 'string') return readFileSync(isAbsolute(file) ? file : join(base, file));
    return undefined;
  };
  const tokenFile = user.tokenFile;
  const token =
    typeof user.token === 'string'
      ? user.token
      : typeof tokenFile === 'string'
        ? readFileSync(isAbsolute(tokenFile) ? tokenFile : join(base, tokenFile), 'utf8').trim()
        : undefined;
  const access: ClusterAccess = {
    server: (typeof cluster.server === 'string' ? cluster.server : '').replace(/\/$/, ''),
    insecureSkipTLSVerify: cluster['insecure-skip-tls-verify'] === true,
    needsPlugin: user.exec !== undefined || user['auth-provider'] !== undefined,
    contextName: ctxName ?? '',
  };
  const ca = fileOrData(cluster['certificate-authority'], cluster['certificate-authority-data']);
  const cert = fileOrData(user['client-certificate'], user['client-certificate-data']);
  const key = fileOrData(user['client-key'], user['client-key-data']);
  if (ca) access.ca = ca;
  if (cert) access.cert = cert;
  if (key) access.key = key;
  if (token) access.token = token;
  if (typeof user.username === 'string' && typeof user.password === 'string') {
    access.basic = { username: user.username, password: user.password };
  }
  if (ctx.namespace) access.namespace = ctx.namespace;
  if (!access.server)
    throw new KubeconfigError(`kubeconfig ${path}: cluster "${ctx.cluster}" has no server`);
  return access;
}
