// The canary's objects: the new version beside the stable one. A copy of the
// rendered Deployment (its pods labelled gantry.dev/track=canary, its config
// and secrets in their own ConfigMap and Secret so stable keeps its own), and
// a Service selecting only canary pods, for the router to send traffic to.
import {
  TRACK_LABEL,
  configMapName,
  renderService,
  secretName,
  trackSelector,
} from '../render/index.js';
import type { KubeObject, RenderOptions } from '../render/index.js';
import type { ServiceSpec } from '../spec/index.js';
import { canaryName } from '../traffic/router.js';

export { canaryName };

type Obj = Record<string, unknown>;

/** The canary's name for one of the service's objects: <name>-x becomes <name>-canary-x. */
function canaryObjectName(spec: ServiceSpec, stableName: string): string {
  return stableName.startsWith(spec.name)
    ? canaryName(spec) + stableName.slice(spec.name.length)
    : stableName;
}

/** References to every object renderCanary can produce (for removing the canary). */
export function canaryRefs(spec: ServiceSpec): KubeObject[] {
  const ref = (apiVersion: string, kind: string, stableName: string): KubeObject => ({
    apiVersion,
    kind,
    metadata: { name: canaryObjectName(spec, stableName), namespace: spec.namespace },
  });
  return [
    ref('apps/v1', 'Deployment', spec.name),
    ref('v1', 'Service', spec.name),
    ref('v1', 'ConfigMap', configMapName(spec)),
    ref('v1', 'Secret', secretName(spec)),
  ];
}

/** ConfigMap, Secret, Deployment and Service of the canary, in apply order. */
export function renderCanary(
  spec: ServiceSpec,
  opts: RenderOptions & { replicas: number },
): KubeObject[] {
  const rename = (n: string) => canaryObjectName(spec, n);
  const out: KubeObject[] = [];
  for (const original of renderService(spec, opts)) {
    if (!['ConfigMap', 'Secret', 'Deployment', 'Service'].includes(original.kind)) continue;
    const o = structuredClone(original);
    o.metadata.name = rename(o.metadata.name);
    o.metadata.labels = { ...o.metadata.labels, [TRACK_LABEL]: 'canary' };
    if (o.kind === 'Deployment') {
      const s = o.spec as Obj & { template: { metadata: Obj; spec: Obj } };
      delete s.replicas;
      s.replicas = opts.replicas;
      s.selector = { matchLabels: trackSelector(spec, 'canary') };
      s.template.metadata.labels = {
        ...(s.template.metadata.labels as Record<string, string>),
        [TRACK_LABEL]: 'canary',
      };
      for (const v of (s.template.spec.volumes ?? []) as Obj[]) {
        const cm = v.configMap as { name: string } | undefined;
        const sec = v.secret as { secretName: string } | undefined;
        // Only the service's own ConfigMap and Secret have canary copies; mounts of
        // objects made elsewhere stay as they are.
        if (cm?.name === configMapName(spec)) cm.name = rename(cm.name);
        if (sec?.secretName === secretName(spec)) sec.secretName = rename(sec.secretName);
      }
    }
    if (o.kind === 'Service') {
      const s = o.spec as Obj;
      s.type = 'ClusterIP';
      s.selector = trackSelector(spec, 'canary');
      // A ClusterIP Service takes no node ports (and the stable Service holds them).
      for (const p of (s.ports ?? []) as Obj[]) delete p.nodePort;
    }
    out.push(o);
  }
  return out;
}
