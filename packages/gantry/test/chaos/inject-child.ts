// A gantry process of its own for recover.test.ts: injects one fault (JSON in argv[2]:
// kind, params, durationMs, target, namespace, kubeconfig), prints "injected <id>", and
// then waits to be killed (the test SIGKILLs it mid-fault).
import { faultByKind } from '../../src/chaos/faults/index.js';
import type { FaultContext, ResolvedTarget } from '../../src/chaos/fault.js';
import { Kube } from '../../src/kube/client.js';
import { parseSpec } from '../../src/spec/load.js';

const arg = JSON.parse(process.argv[2] ?? '{}') as {
  kind: string;
  params: Record<string, unknown>;
  durationMs: number;
  target: ResolvedTarget;
  kubeconfig: string;
};
const ctx: FaultContext = {
  kube: Kube.load({ kubeconfig: arg.kubeconfig }),
  spec: parseSpec(
    `apiVersion: gantry.dev/v1alpha1\nname: ${arg.target.service}\nnamespace: ${arg.target.namespace}\nimage: x\nports: [{ containerPort: 8080 }]\n`,
  ),
  experiment: 'test-sigkill',
  emit: () => undefined,
};
const def = faultByKind(arg.kind);
if (!def) throw new Error(arg.kind);
const a = await def.inject(ctx, arg.params as never, arg.target, arg.durationMs);
process.stdout.write(`injected ${a.id}\n`);
setInterval(() => undefined, 60_000);
