// Shell completion. The shell scripts (`gantry completion bash|zsh|fish`) are thin:
// on every <Tab> they run `gantry __complete WORD...` with the words typed so far
// (the last one is the word being completed, possibly empty) and show what it
// prints. All the knowledge is here, read from the command tree itself, so a new
// command or flag completes without touching this file. Values that live in the
// cluster or the spec (revisions, receivers, alert names, silences, contexts) come
// from small providers bounded by a short timeout: a slow or absent cluster makes
// completion quiet, never slow.
//
// Output protocol: one candidate per line, each `value` or `value\tdescription`;
// then one last line `:files` (complete file paths), `:dirs` or `:none`.
import { readFileSync } from 'node:fs';
import type { Command, Option } from 'commander';
import { parse } from 'yaml';
import { contextNamespace, serviceRef } from './target.js';

export type CompletionDirective = 'files' | 'dirs' | 'none';

export interface Completion {
  candidates: { value: string; description?: string }[];
  directive: CompletionDirective;
}

/** Values of an argument or option that only the cluster or the spec knows. */
export type Provider = (ctx: ProviderContext) => Promise<{ value: string; description?: string }[]>;

export interface ProviderContext {
  /** The spec file named by -f/--file so far (default gantry.yaml). */
  specFile: string;
  kubeconfig?: string;
  context?: string;
  /** --service and -n/--namespace typed so far. */
  service?: string;
  namespace?: string;
}

/** Fixed value lists of options and arguments, by "command path:name". */
const FIXED: Record<string, string[]> = {
  '*:output': ['text', 'json'],
  'alerts render:format': ['rules', 'alertmanager', 'operator'],
  'version bump:kind': ['major', 'minor', 'patch'],
  'pipeline:system': ['github', 'gitlab'],
  'completion:shell': ['bash', 'zsh', 'fish'],
};

/** Options whose value is a file or a directory. */
const FILE_OPTIONS = new Set(['file', 'kubeconfig', 'relay-secret', 'alertmanager-config']);
const DIR_OPTIONS = new Set(['dir', 'out', 'rules-dir', 'report']);

/** How long a value from the cluster may take; $GANTRY_COMPLETION_TIMEOUT_MS for slow links. */
const providerTimeoutMs = () => Number(process.env.GANTRY_COMPLETION_TIMEOUT_MS) || 2000;

export async function complete(
  program: Command,
  words: readonly string[],
  providers: Record<string, Provider> = defaultProviders,
): Promise<Completion> {
  const current = words.length > 0 ? words[words.length - 1]! : '';
  const before = words.slice(0, -1);
  let cmd = program;
  const path: string[] = [];
  const positionals: string[] = [];
  const values: Record<string, string> = {};
  let pendingOption: Option | undefined;
  for (const w of before) {
    if (pendingOption) {
      values[optionKey(pendingOption)] = w;
      pendingOption = undefined;
      continue;
    }
    if (w.startsWith('-') && w !== '-') {
      const [flag, inline] = w.split('=', 2) as [string, string | undefined];
      const opt = findOption(cmd, program, flag);
      if (opt && takesValue(opt)) {
        if (inline === undefined) pendingOption = opt;
        else values[optionKey(opt)] = inline;
      }
      continue;
    }
    const sub = positionals.length === 0 ? findCommand(cmd, w) : undefined;
    if (sub) {
      cmd = sub;
      path.push(sub.name());
    } else {
      positionals.push(w);
    }
  }
  const ctx: ProviderContext = {
    specFile: values.file ?? 'gantry.yaml',
    ...(values.kubeconfig ? { kubeconfig: values.kubeconfig } : {}),
    ...(values.context ? { context: values.context } : {}),
    ...(values.service ? { service: values.service } : {}),
    ...(values.namespace ? { namespace: values.namespace } : {}),
  };
  const cmdPath = path.join(' ');
  const filter = (list: { value: string; description?: string }[]): Completion['candidates'] =>
    list.filter((c) => c.value.startsWith(current));

  // A value for the option just typed.
  if (pendingOption) {
    return valueCompletion(cmdPath, optionKey(pendingOption), ctx, providers, filter);
  }
  // --flag=value in one word.
  if (current.startsWith('--') && current.includes('=')) {
    const [flag, partial] = current.split('=', 2) as [string, string];
    const opt = findOption(cmd, program, flag);
    if (opt && takesValue(opt)) {
      const c = await valueCompletion(cmdPath, optionKey(opt), ctx, providers, (l) =>
        l.filter((x) => x.value.startsWith(partial)),
      );
      return {
        candidates: c.candidates.map((x) => ({ ...x, value: `${flag}=${x.value}` })),
        directive: c.directive === 'none' ? 'none' : c.directive,
      };
    }
  }
  if (current.startsWith('-')) {
    // The program's own flags apply after a command too, except --version.
    const globals = visibleOptions(program).filter(
      (o) => cmd === program || o.long !== '--version',
    );
    const opts = [...visibleOptions(cmd), ...(cmd === program ? [] : globals)];
    const candidates: Completion['candidates'] = [];
    for (const o of opts) {
      for (const flag of [o.long, o.short]) {
        if (flag && flag.startsWith(current))
          candidates.push({ value: flag, description: o.description });
      }
    }
    if ('--help'.startsWith(current))
      candidates.push({ value: '--help', description: 'show help' });
    return { candidates: dedupe(candidates), directive: 'none' };
  }
  // Subcommands, before any positional argument.
  const subs = positionals.length === 0 ? visibleCommands(cmd) : [];
  if (subs.length > 0) {
    return {
      candidates: filter(subs.map((c) => ({ value: c.name(), description: c.description() }))),
      directive: 'none',
    };
  }
  // A positional argument of the command.
  const arg = cmd.registeredArguments[positionals.length];
  if (arg) return valueCompletion(cmdPath, arg.name(), ctx, providers, filter);
  return { candidates: [], directive: 'none' };
}

async function valueCompletion(
  cmdPath: string,
  name: string,
  ctx: ProviderContext,
  providers: Record<string, Provider>,
  filter: (l: { value: string; description?: string }[]) => Completion['candidates'],
): Promise<Completion> {
  const fixed = FIXED[`${cmdPath}:${name}`] ?? FIXED[`*:${name}`];
  if (fixed) return { candidates: filter(fixed.map((value) => ({ value }))), directive: 'none' };
  if (FILE_OPTIONS.has(name)) return { candidates: [], directive: 'files' };
  if (DIR_OPTIONS.has(name)) return { candidates: [], directive: 'dirs' };
  const provider = providers[`${cmdPath}:${name}`] ?? providers[`*:${name}`];
  if (!provider) return { candidates: [], directive: 'none' };
  const found = await withTimeout(provider(ctx), providerTimeoutMs()).catch(() => []);
  return { candidates: filter(found), directive: 'none' };
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('timeout')), ms);
    p.then(resolve, reject).finally(() => clearTimeout(t));
  });
}

function optionKey(o: Option): string {
  return (o.long ?? o.short ?? '').replace(/^--?/, '');
}

function takesValue(o: Option): boolean {
  return o.required || o.optional;
}

function findOption(cmd: Command, program: Command, flag: string): Option | undefined {
  const match = (c: Command) => c.options.find((o) => o.long === flag || o.short === flag);
  return match(cmd) ?? match(program);
}

function findCommand(cmd: Command, name: string): Command | undefined {
  return cmd.commands.find((c) => c.name() === name || c.aliases().includes(name));
}

function visibleCommands(cmd: Command): Command[] {
  return cmd.commands.filter((c) => !(c as Command & { _hidden?: boolean })._hidden);
}

function visibleOptions(cmd: Command): Option[] {
  return cmd.options.filter((o) => !o.hidden);
}

function dedupe(list: Completion['candidates']): Completion['candidates'] {
  const seen = new Set<string>();
  return list.filter((c) => (seen.has(c.value) ? false : (seen.add(c.value), true)));
}

/** The protocol the shell scripts read. */
export function formatCompletion(c: Completion): string {
  const lines = c.candidates.map((x) =>
    x.description ? `${x.value}\t${firstLine(x.description)}` : x.value,
  );
  return [...lines, `:${c.directive}`].join('\n') + '\n';
}

function firstLine(s: string): string {
  return s.split('\n')[0]!.replace(/\s+/g, ' ').slice(0, 80);
}

// --- providers: what the spec and the cluster know ----------------------------------

async function specOf(ctx: ProviderContext) {
  const { loadSpecFile } = await import('../spec/index.js');
  return loadSpecFile(ctx.specFile);
}

async function kubeOf(ctx: ProviderContext) {
  const { Kube } = await import('../kube/client.js');
  return Kube.load({
    ...(ctx.kubeconfig ? { kubeconfig: ctx.kubeconfig } : {}),
    ...(ctx.context ? { context: ctx.context } : {}),
  });
}

/** The service --service names so far, else the spec's. */
async function serviceOf(ctx: ProviderContext): Promise<{ namespace: string; name: string }> {
  const ref = ctx.service
    ? serviceRef({ service: ctx.service, namespace: ctx.namespace }, false, () =>
        contextNamespace(ctx.kubeconfig, ctx.context),
      )
    : undefined;
  return ref ?? specOf(ctx);
}

export const defaultProviders: Record<string, Provider> = {
  // gantry rollback REVISION: the service's recorded revisions, newest first.
  'rollback:revision': async (ctx) => {
    const svc = await serviceOf(ctx);
    const { ReleaseStore } = await import('../release/store.js');
    const history = await new ReleaseStore(await kubeOf(ctx), svc.namespace, svc.name).history();
    return history.map((r) => ({
      value: String(r.revision),
      description: `${r.status} ${r.image} ${r.startedAt}`,
    }));
  },
  'alerts test:receiver': async (ctx) =>
    Object.keys((await specOf(ctx)).monitoring.receivers).map((value) => ({ value })),
  'alerts silence:alert': async (ctx) => {
    const { renderAlertRules } = await import('../monitor/rules.js');
    const rendered = renderAlertRules(await specOf(ctx));
    return rendered.file.groups.flatMap((g) =>
      g.rules.flatMap((r) => ('alert' in r && r.alert ? [{ value: r.alert }] : [])),
    );
  },
  'alerts unsilence:id': async (ctx) => {
    const { listSilences } = await import('../monitor/silences.js');
    const url = process.env.ALERTMANAGER_URL ?? 'http://127.0.0.1:9093';
    const spec = await specOf(ctx).catch(() => undefined);
    const list = await listSilences(url, spec);
    return list.map((s) => ({
      value: s.id,
      description: s.matchers.map((m) => `${m.name}=${m.value}`).join(','),
    }));
  },
  // --service: the services Gantry manages, in -n's namespace (bare names) or in every
  // namespace (NAMESPACE/NAME, bare in the context's own namespace).
  '*:service': async (ctx) => {
    const { managedServices } = await import('../fleet/status.js');
    const found = await managedServices(await kubeOf(ctx), ctx.namespace);
    const home = ctx.namespace ?? contextNamespace(ctx.kubeconfig, ctx.context);
    return found.map((s) => ({
      value: s.namespace === home ? s.name : `${s.namespace}/${s.name}`,
      description: `namespace ${s.namespace}`,
    }));
  },
  '*:namespace': async (ctx) => {
    const kube = await kubeOf(ctx);
    const list = await kube.list<{ metadata?: { name?: string } }>('v1', 'Namespace', undefined);
    return list.flatMap((n) => (n.metadata?.name ? [{ value: n.metadata.name }] : []));
  },
  '*:context': async (ctx) => {
    const { kubeconfigPath } = await import('../kube/kubeconfig.js');
    const raw = parse(readFileSync(kubeconfigPath(ctx.kubeconfig), 'utf8')) as {
      contexts?: { name: string }[];
    };
    return (raw.contexts ?? []).map((c) => ({ value: c.name }));
  },
};
