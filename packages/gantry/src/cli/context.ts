// What every cluster command needs from the global flags: the output format
// and a lazily loaded cluster client; plus the duration flags they share.
import { InvalidArgumentError } from 'commander';
import type { Command } from 'commander';
import { parseImageRef } from '../image/ref.js';
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

/** commander parser of --image: a reference registries accept, checked before anything runs. */
export function imageFlag(v: string): string {
  try {
    parseImageRef(v);
  } catch (err) {
    throw new InvalidArgumentError(err instanceof Error ? err.message : String(err));
  }
  return v;
}

/**
 * commander parser of --version-label: what `gantry version` prints (1.4.2,
 * 1.5.0-dev.3+g1a2b3c) or another label-like value. The label keeps it with `+` as `_`;
 * anything else a label cannot hold is refused rather than rewritten behind the user's back.
 */
export function versionLabelFlag(v: string): string {
  if (!/^[A-Za-z0-9](?:[A-Za-z0-9._+-]{0,61}[A-Za-z0-9])?$/.test(v))
    throw new InvalidArgumentError(
      "a version such as 1.4.2 or 1.5.0-dev.3+g1a2b3c: letters, digits, '.', '_', '-' and '+', at most 63, a letter or digit at both ends",
    );
  return v;
}
