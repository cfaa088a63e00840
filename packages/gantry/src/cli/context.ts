// What every cluster command needs from the global flags: the output format
// and a lazily loaded cluster client; plus the duration flags they share.
import type { Command } from 'commander';
import type { Kube } from '../kube/client.js';
import { parseDuration as specDuration } from '../spec/duration.js';
import { parseFormat, UsageError } from './output.js';
import type { OutputFormat } from './output.js';
import { contextNamespace } from './target.js';

interface GlobalOpts {
  output?: string;
  kubeconfig?: string;
  context?: string;
}

export function globals(cmd: Command): {
  format: OutputFormat;
  kube: () => Promise<Kube>;
  /** The kubeconfig context's namespace (for --service NAME without -n). */
  defaultNamespace: () => string;
} {
  const g = cmd.optsWithGlobals<GlobalOpts>();
  return {
    format: parseFormat(g.output),
    defaultNamespace: () => contextNamespace(g.kubeconfig, g.context),
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

/** Milliseconds in a duration flag: 1500ms, 90s, 5m, 1h, or a bare number of seconds. */
export function parseDuration(v: string): number {
  const t = v.trim();
  try {
    return Math.round(specDuration(/^\d+(?:\.\d+)?$/.test(t) ? `${t}s` : t) * 1000);
  } catch {
    throw new UsageError(`invalid duration "${v}" (examples: 90s, 5m, 1500ms)`);
  }
}

/** Default wait of a bare --wait (no duration) for another holder's lock. */
export const DEFAULT_LOCK_WAIT = '5m';

/**
 * The --wait[=DURATION] option of commands that take the service's lock: absent → 0 (refuse
 * at once), bare → DEFAULT_LOCK_WAIT, else the duration.
 */
export function lockWaitMs(v: string | boolean | undefined): number {
  if (v === undefined || v === false) return 0;
  return parseDuration(v === true ? DEFAULT_LOCK_WAIT : v);
}

export const LOCK_WAIT_HELP =
  'wait up to DURATION (bare: 5m) while another gantry holds the service lock, instead of refusing';
