// Which service a command acts on: the spec named by -f (its name and namespace), or a
// service already in the cluster named by --service, for the commands that need no more
// than that (status, history, rollback, release status|pause|resume|promote|abort). A person
// paged at night, or a second terminal, rarely has the right gantry.yaml at hand; kubectl
// and `kubectl argo rollouts` take a name and -n for the same reason.
import { existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { kubeconfigPath } from '../kube/kubeconfig.js';
import { UsageError } from './output.js';

export interface ServiceRef {
  namespace: string;
  name: string;
}

export interface TargetOpts {
  service?: string;
  namespace?: string;
}

export const SERVICE_HELP =
  "a service in the cluster instead of a spec: NAME (in -n NAMESPACE, default the context's) or NAMESPACE/NAME";
export const NAMESPACE_HELP = "with --service: the service's namespace (default: the context's)";

/** Adds --service and -n/--namespace to a command. */
export function withServiceOption(cmd: Command): Command {
  return cmd
    .option('-s, --service <name>', SERVICE_HELP)
    .option('-n, --namespace <namespace>', NAMESPACE_HELP);
}

const LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/**
 * The service --service names, or undefined when it is not given. `fileGiven` says whether
 * -f was given too (both is a usage error); `defaultNamespace` is the kubeconfig context's.
 */
export function serviceRef(
  opts: TargetOpts,
  fileGiven: boolean,
  defaultNamespace: () => string,
): ServiceRef | undefined {
  if (opts.service === undefined) {
    if (opts.namespace !== undefined)
      throw new UsageError('-n/--namespace goes with --service (a spec names its own namespace)');
    return undefined;
  }
  if (fileGiven) throw new UsageError('give -f or --service, not both');
  const parts = opts.service.split('/');
  if (parts.length > 2) throw new UsageError(`--service ${opts.service}: NAME or NAMESPACE/NAME`);
  const [nsPart, name] = parts.length === 2 ? parts : [undefined, parts[0]];
  if (nsPart !== undefined && opts.namespace !== undefined && nsPart !== opts.namespace)
    throw new UsageError(
      `--service ${opts.service} is in namespace ${nsPart}, but -n says ${opts.namespace}`,
    );
  const namespace = nsPart ?? opts.namespace ?? defaultNamespace();
  for (const [what, v] of [
    ['namespace', namespace],
    ['service name', name],
  ] as const) {
    if (!v || !LABEL.test(v))
      throw new UsageError(
        `--service ${opts.service}: "${v ?? ''}" is not a valid ${what} (lower-case letters, digits and '-', at most 63)`,
      );
  }
  return { namespace, name: name! };
}

/**
 * The namespace of the kubeconfig's current (or given) context, as kubectl uses it; in a
 * pod without a kubeconfig, the pod's own; else "default".
 */
export function contextNamespace(kubeconfig?: string, context?: string): string {
  return tryRead(() => contextNamespaceOf(kubeconfig, context)) ?? 'default';
}

function contextNamespaceOf(kubeconfig?: string, context?: string): string | undefined {
  const path = kubeconfigPath(kubeconfig);
  if (!existsSync(path)) {
    const sa = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';
    return existsSync(sa) ? readFileSync(sa, 'utf8').trim() || undefined : undefined;
  }
  return namespaceInKubeconfig(readFileSync(path, 'utf8'), context);
}

/** The namespace of `context` (default: current-context) in kubeconfig YAML text. */
export function namespaceInKubeconfig(text: string, context?: string): string | undefined {
  const doc = parseYaml(text) as {
    'current-context'?: string;
    contexts?: { name?: string; context?: { namespace?: string } }[];
  } | null;
  const want = context ?? doc?.['current-context'];
  const ns = doc?.contexts?.find((c) => c.name === want)?.context?.namespace;
  return typeof ns === 'string' && ns !== '' ? ns : undefined;
}

function tryRead<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}
