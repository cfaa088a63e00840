// What every cluster command needs from the global flags: the output format
// and a lazily loaded cluster client; plus the duration flags they share.
import type { Command } from 'commander';
import type { Kube } from '../kube/client.js';
import { parseFormat, UsageError } from './output.js';
import type { OutputFormat } from './output.js';

interface GlobalOpts {
  output?: string;
  kubeconfig?: string;
  context?: string;
}

export function globals(cmd: Command): { format: OutputFormat; kube: () => Promise<Kube> } {
  const g = cmd.optsWithGlobals<GlobalOpts>();
  return {
    format: parseFormat(g.output),
    // The client library takes a second to load: only commands that talk to a cluster pay.
    kube: async () => {
      const { Kube } = await import('../kube/client.js');
      return Kube.load({
        ...(g.kubeconfig ? { kubeconfig: g.kubeconfig } : {}),
        ...(g.context ? { context: g.context } : {}),
      });
    },
  };
}

export function parseDuration(v: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(v.trim());
  if (!m) throw new UsageError(`invalid duration "${v}" (examples: 90s, 5m, 1500ms)`);
  const n = Number(m[1]);
  return m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000;
}
