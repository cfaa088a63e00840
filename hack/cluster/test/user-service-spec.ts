// The gantry.yaml that release tests and bench/canary deploy user-service with: two
// replicas behind the local gateway, readiness checked every second, metrics scraped by
// the cluster's Prometheus, config values (faults included) from the caller.

export interface UserServiceSpec {
  namespace: string;
  image: string;
  /** services/user-service, for `build:`. */
  serviceDir: string;
  /** BUILD_VERSION, which the service reports in x-app-version. */
  version: string;
  /** Config values beside LOG_LEVEL=warn (e.g. FAULT_ERROR_RATE). */
  config?: Record<string, string>;
  /** The environment variable holding DATABASE_URL at deploy time. */
  databaseUrlEnv: string;
  /** The Host the gateway routes to the service. */
  host: string;
  /** A whole `release:` block (top-level YAML), appended as is. */
  release: string;
}

export function userServiceSpec(s: UserServiceSpec): string {
  const config = Object.entries({ LOG_LEVEL: 'warn', ...s.config })
    .map(([k, v]) => `${k}: '${v}'`)
    .join(', ');
  return `apiVersion: gantry.dev/v1alpha1
name: users
namespace: ${s.namespace}
image: ${s.image}
build: { kind: node, context: ${s.serviceDir} }
replicas: 2
ports: [{ name: http, containerPort: 8080, servicePort: 80 }]
env: { CONFIG_DIR: /etc/app/config, SECRETS_DIR: /etc/app/secrets, BUILD_VERSION: '${s.version}' }
config: { ${config} }
secrets: { DATABASE_URL: { fromEnv: ${s.databaseUrlEnv} } }
resources: { requests: { cpu: 50m, memory: 64Mi } }
probes:
  readiness: { path: /readyz, periodSeconds: 1, failureThreshold: 1 }
metrics: { path: /metrics }
routes: [{ hostnames: [${s.host}], gateway: gantry-system/gantry }]
${s.release.trimEnd()}
`;
}
