// The canary's objects: the new version beside the stable one. A copy of the
// rendered Deployment (its pods labelled gantry.dev/track=canary, its config
// and secrets in their own ConfigMap and Secret so stable keeps its own), and
// a Service selecting only canary pods, for the router to send traffic to.
import { TRACK_LABEL, renderService, trackSelector } from '../render/index.js';
import type { KubeObject, RenderOptions } from '../render/index.js';
import type { ServiceSpec } from '../spec/index.js';
import { canaryName } from '../traffic/router.js';

export { canaryName };

type Obj = Record<string, unknown>;

/** ConfigMap, Secret, Deployment and Service of the canary, in apply order. */
export function renderCanary(
  spec: ServiceSpec,
  opts: RenderOptions & { replicas: number },
): KubeObject[] {
  const name = canaryName(spec);
  const rename = (n: string) => (n.startsWith(spec.name) ? name + n.slice(spec.name.length) : n);
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
        if (cm) cm.name = rename(cm.name);
        if (sec) sec.secretName = rename(sec.secretName);
      }
    }
    if (o.kind === 'Service') {
      const s = o.spec as Obj;
      s.type = 'ClusterIP';
      s.selector = trackSelector(spec, 'canary');
    }
    out.push(o);
  }
  return out;
}
