// Cluster access from inside a pod: the API server behind the kubernetes Service
// ($KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT), the cluster CA and the pod's
// ServiceAccount token mounted at /var/run/secrets/kubernetes.io/serviceaccount. The
// kubelet rotates a projected token in that file well before it expires, so it is read
// again whenever the API server refuses the one in use (the transport asks the credential
// source afresh on a 401 and retries the request once).
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import type { ClusterAccess } from './kubeconfig.js';
import { KubeconfigError } from './kubeconfig.js';
import type { CredentialSource } from './transport.js';

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** True when this process runs in a pod with a mounted ServiceAccount token. */
export function inClusterAvailable(
  env: NodeJS.ProcessEnv = process.env,
  dir = SERVICE_ACCOUNT_DIR,
): boolean {
  return (
    Boolean(env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT) &&
    existsSync(join(dir, 'token'))
  );
}

/** The access of this pod's ServiceAccount (the token comes from `inClusterToken`). */
export function loadInClusterAccess(
  env: NodeJS.ProcessEnv = process.env,
  dir = SERVICE_ACCOUNT_DIR,
): ClusterAccess {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) {
    throw new KubeconfigError(
      'not running in a pod: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set',
    );
  }
  let ca: Buffer;
  try {
    ca = readFileSync(join(dir, 'ca.crt'));
  } catch (err) {
    throw new KubeconfigError(
      `cannot read the cluster CA ${join(dir, 'ca.crt')}: ${(err as Error).message}`,
    );
  }
  let namespace: string | undefined;
  try {
    namespace = readFileSync(join(dir, 'namespace'), 'utf8').trim() || undefined;
  } catch {
    // no namespace file: commands name their namespace anyway
  }
  return {
    server: `https://${isIP(host) === 6 ? `[${host}]` : host}:${port}`,
    ca,
    insecureSkipTLSVerify: false,
    needsPlugin: false,
    contextName: 'in-cluster',
    ...(namespace ? { namespace } : {}),
  };
}

/** The ServiceAccount token as request headers, read from its file each time it is asked for. */
export function inClusterToken(dir = SERVICE_ACCOUNT_DIR): CredentialSource {
  return () => {
    try {
      const token = readFileSync(join(dir, 'token'), 'utf8').trim();
      return Promise.resolve({ headers: { Authorization: `Bearer ${token}` } });
    } catch (err) {
      return Promise.reject(
        new KubeconfigError(
          `cannot read the ServiceAccount token ${join(dir, 'token')}: ${(err as Error).message}`,
        ),
      );
    }
  };
}
