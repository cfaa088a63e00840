// REST paths of Kubernetes objects. Kinds Gantry works with are known here;
// anything else is looked up once through API discovery.

interface Resource {
  plural: string;
  namespaced: boolean;
}

const KNOWN: Record<string, Resource> = {
  'v1/Namespace': { plural: 'namespaces', namespaced: false },
  'v1/ServiceAccount': { plural: 'serviceaccounts', namespaced: true },
  'v1/ConfigMap': { plural: 'configmaps', namespaced: true },
  'v1/Secret': { plural: 'secrets', namespaced: true },
  'v1/Service': { plural: 'services', namespaced: true },
  'v1/Pod': { plural: 'pods', namespaced: true },
  'v1/Event': { plural: 'events', namespaced: true },
  'v1/Endpoints': { plural: 'endpoints', namespaced: true },
  'v1/Node': { plural: 'nodes', namespaced: false },
  'apps/v1/Deployment': { plural: 'deployments', namespaced: true },
  'apps/v1/ReplicaSet': { plural: 'replicasets', namespaced: true },
  'autoscaling/v2/HorizontalPodAutoscaler': {
    plural: 'horizontalpodautoscalers',
    namespaced: true,
  },
  'policy/v1/PodDisruptionBudget': { plural: 'poddisruptionbudgets', namespaced: true },
  'networking.k8s.io/v1/NetworkPolicy': { plural: 'networkpolicies', namespaced: true },
  'coordination.k8s.io/v1/Lease': { plural: 'leases', namespaced: true },
  'gateway.networking.k8s.io/v1/HTTPRoute': { plural: 'httproutes', namespaced: true },
  'gateway.networking.k8s.io/v1/Gateway': { plural: 'gateways', namespaced: true },
  'events.k8s.io/v1/Event': { plural: 'events', namespaced: true },
};

export type Discover = (
  apiVersion: string,
) => Promise<{ kind: string; name: string; namespaced: boolean }[]>;

export class ResourcePaths {
  private readonly cache = new Map<string, Resource>(Object.entries(KNOWN));

  constructor(private readonly discover: Discover) {}

  async resource(apiVersion: string, kind: string): Promise<Resource> {
    const key = `${apiVersion}/${kind}`;
    const hit = this.cache.get(key);
    if (hit) return hit;
    for (const r of await this.discover(apiVersion)) {
      if (!r.name.includes('/'))
        this.cache.set(`${apiVersion}/${r.kind}`, { plural: r.name, namespaced: r.namespaced });
    }
    const found = this.cache.get(key);
    if (!found) throw new Error(`the cluster serves no kind ${kind} in ${apiVersion}`);
    return found;
  }

  /** Collection path (name undefined) or object path. */
  async path(
    apiVersion: string,
    kind: string,
    namespace: string | undefined,
    name?: string,
  ): Promise<string> {
    const r = await this.resource(apiVersion, kind);
    const prefix = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    const ns = r.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
    return `${prefix}${ns}/${r.plural}${name ? `/${encodeURIComponent(name)}` : ''}`;
  }
}
