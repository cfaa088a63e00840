// Putting a service's routing into an Alertmanager that reads a configuration file.
//
// The file is composed, never edited in place: a base configuration (the file next to
// it named <config>.base.yml; adopted from the live file the first time) plus one
// fragment per service in <config dir>/gantry.d/<namespace>.<service>.yml, in name
// order. Each fragment is a route subtree matched on namespace and service (placed
// before the base's own routes), receivers named <namespace>.<service>.<name> and
// inhibit rules, so services never overwrite each other and the same fragments always
// give the same file. The composed file is checked with `amtool check-config`, written
// atomically (mode 0600), loaded with POST /-/reload and confirmed through
// /api/v2/status; when Alertmanager refuses it, the previous file and fragment are put
// back and Alertmanager reloaded.
import { execFile } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { parse } from 'yaml';
import { stringifyYaml } from '../render/yaml.js';
import type { ServiceSpec } from '../spec/index.js';
import type {
  AlertmanagerFragment,
  AmRoute,
  RenderedAlertmanager,
  ReceiverSecrets,
} from './receivers.js';
import { getJson, postReload, writeAtomic } from './lifecycle.js';
import { describeReceiver, matcher, receiverKey, scrubSecrets } from './receivers.js';

export class AlertmanagerConfigError extends Error {
  override name = 'AlertmanagerConfigError';
  /** true: bad input or configuration (nothing changed); false: Alertmanager refused or is unreachable. */
  constructor(
    message: string,
    readonly input = false,
  ) {
    super(message);
  }
}

export interface AlertmanagerTarget {
  /** The configuration file Alertmanager was started with (--config.file). */
  configPath: string;
  /** Alertmanager base URL. */
  url: string;
  /** Per-service fragments; default <config dir>/gantry.d. */
  fragmentsDir?: string;
  /** amtool binary. Default "amtool". */
  amtool?: string;
  /** How long to wait for Alertmanager to show the new configuration. Default 15 s. */
  timeoutMs?: number;
  /** Values to scrub from any message (amtool's or Alertmanager's output). */
  secrets?: ReceiverSecrets;
  onProgress?: (message: string) => void;
}

export interface AppliedAlertmanager {
  configPath: string;
  fragment: string;
  receivers: string[];
  changed: boolean;
}

export function fragmentsDirOf(t: Pick<AlertmanagerTarget, 'configPath' | 'fragmentsDir'>) {
  return resolve(t.fragmentsDir ?? join(dirname(resolve(t.configPath)), 'gantry.d'));
}

export function basePathOf(configPath: string): string {
  const abs = resolve(configPath);
  const ext = extname(abs) || '.yml';
  return join(dirname(abs), `${basename(abs, extname(abs))}.base${ext}`);
}

export function fragmentName(spec: Pick<ServiceSpec, 'namespace' | 'name'>): string {
  return `${spec.namespace}.${spec.name}.yml`;
}

interface AmConfig {
  route?: AmRoute & Record<string, unknown>;
  receivers?: { name: string }[];
  inhibit_rules?: unknown[];
  [k: string]: unknown;
}

/** The base configuration plus the fragments, in the order given. */
export function composeAlertmanagerConfig(
  baseText: string,
  fragments: readonly AlertmanagerFragment[],
): string {
  const doc = (parse(baseText) ?? {}) as AmConfig;
  if (typeof doc !== 'object' || Array.isArray(doc) || !doc.route) {
    throw new AlertmanagerConfigError('the base Alertmanager configuration has no route', true);
  }
  const base = {
    routes: doc.route.routes ?? [],
    receivers: doc.receivers ?? [],
    inhibit: doc.inhibit_rules ?? [],
  };
  const taken = new Set(base.receivers.map((r) => r.name));
  for (const f of fragments) {
    for (const r of f.receivers) {
      if (taken.has(r.name)) {
        throw new AlertmanagerConfigError(
          `receiver ${r.name} is defined twice (in the base configuration or another fragment)`,
          true,
        );
      }
      taken.add(r.name);
    }
  }
  const out: AmConfig = {
    ...doc,
    route: { ...doc.route, routes: [...fragments.map((f) => f.route), ...base.routes] },
    receivers: [...base.receivers, ...fragments.flatMap((f) => f.receivers)],
  };
  const inhibit = [...base.inhibit, ...fragments.flatMap((f) => f.inhibit_rules)];
  if (inhibit.length) out.inhibit_rules = inhibit;
  if (!out.route!.routes!.length) delete out.route!.routes;
  return stringifyYaml(out);
}

const HEADER =
  '# Composed by gantry alerts apply from the base configuration next to this file and\n' +
  '# the per-service fragments in gantry.d; edit the base, not this file.\n';

/**
 * Writes (or, with `rendered.fragment` undefined, removes) the service's fragment,
 * composes, checks, loads and confirms the configuration.
 */
export async function applyAlertmanagerConfig(
  spec: Pick<ServiceSpec, 'namespace' | 'name'>,
  rendered: RenderedAlertmanager,
  target: AlertmanagerTarget,
): Promise<AppliedAlertmanager> {
  const config = resolve(target.configPath);
  if (!existsSync(config) || !statSync(config).isFile()) {
    throw new AlertmanagerConfigError(
      `no Alertmanager configuration at ${config}: give the file Alertmanager reads ` +
        '(--alertmanager-config or $GANTRY_ALERTMANAGER_CONFIG)',
      true,
    );
  }
  const dir = fragmentsDirOf(target);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const base = basePathOf(config);
  if (!existsSync(base)) {
    // First use: what Alertmanager reads now becomes the base.
    writeAtomic(base, readFileSync(config, 'utf8'), 0o600);
    target.onProgress?.(`adopted ${config} as the base configuration ${base}`);
  }
  const fragFile = join(dir, fragmentName(spec));
  const prevFragment = readIfExists(fragFile);
  const prefix = `${receiverKey(spec, '')}`;
  const prevFiles = Object.fromEntries(
    readdirSync(dir)
      .filter((n) => n.startsWith(prefix) && n.endsWith('.smtp-password'))
      .map((n) => [join(dir, n), readFileSync(join(dir, n), 'utf8')]),
  );
  const nextFragment = rendered.fragment
    ? `# gantry alerts apply for ${spec.namespace}/${spec.name}\n${stringifyYaml(rendered.fragment)}`
    : undefined;
  const restoreFragment = () => {
    if (prevFragment === undefined) rmIfExists(fragFile);
    else writeAtomic(fragFile, prevFragment, 0o600);
    for (const f of Object.keys(rendered.files)) if (!(f in prevFiles)) rmIfExists(f);
    for (const [f, text] of Object.entries(prevFiles)) writeAtomic(f, text, 0o600);
  };
  if (nextFragment === undefined) rmIfExists(fragFile);
  else writeAtomic(fragFile, nextFragment, 0o600);
  for (const f of Object.keys(prevFiles)) if (!(f in rendered.files)) rmIfExists(f);
  for (const [f, text] of Object.entries(rendered.files)) writeAtomic(f, text, 0o600);

  const receivers = rendered.fragment?.receivers.map((r) => r.name) ?? [];
  try {
    const r = await load(config, dir, target, (live) =>
      rendered.fragment ? hasSubtree(live, spec, receivers) : !hasSubtree(live, spec, []),
    );
    return { configPath: config, fragment: fragFile, receivers, changed: r.changed };
  } catch (err) {
    restoreFragment();
    throw err;
  }
}

/** Removes the service's subtree: applyAlertmanagerConfig without a fragment. */
export async function removeAlertmanagerConfig(
  spec: Pick<ServiceSpec, 'namespace' | 'name'>,
  target: AlertmanagerTarget,
): Promise<{ configPath: string; removed: boolean }> {
  const fragFile = join(fragmentsDirOf(target), fragmentName(spec));
  const had = existsSync(fragFile);
  if (!had) return { configPath: resolve(target.configPath), removed: false };
  await applyAlertmanagerConfig(spec, { fragment: undefined, files: {}, warnings: [] }, target);
  return { configPath: resolve(target.configPath), removed: true };
}

/** The fragments in the directory, in name order. */
export function readFragments(dir: string): AlertmanagerFragment[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => n.endsWith('.yml') && !n.includes('.tmp-'))
    .sort()
    .map((n) => parse(readFileSync(join(dir, n), 'utf8')) as AlertmanagerFragment);
}

async function load(
  config: string,
  dir: string,
  target: AlertmanagerTarget,
  live: (original: unknown) => boolean,
): Promise<{ changed: boolean }> {
  const scrub = (s: string) => (target.secrets ? scrubSecrets(s, target.secrets) : s);
  const baseText = readFileSync(basePathOf(config), 'utf8');
  const fragments = readFragments(dir);
  // Without fragments the file is the base itself, byte for byte.
  const text = fragments.length
    ? HEADER + composeAlertmanagerConfig(baseText, fragments)
    : baseText;
  const previous = readFileSync(config, 'utf8');
  const changed = previous !== text;
  if (changed) {
    const candidate = `${config}.tmp-${process.pid}`;
    writeFileSync(candidate, text, { mode: 0o600 });
    try {
      await amtoolCheck(target.amtool ?? 'amtool', candidate);
    } catch (err) {
      rmIfExists(candidate);
      throw new AlertmanagerConfigError(
        `amtool check-config refused the composed configuration; nothing changed: ${scrub((err as Error).message)}`,
        true,
      );
    }
    renameSync(candidate, config);
    target.onProgress?.(`checked with amtool and wrote ${config}`);
  } else {
    target.onProgress?.(`${config} unchanged`);
  }
  try {
    await reload(target.url);
    const deadline = Date.now() + (target.timeoutMs ?? 15_000);
    for (;;) {
      const status = (await call(target.url, '/api/v2/status')) as {
        config?: { original?: string };
      };
      if (live(parse(status.config?.original ?? '') as unknown)) break;
      if (Date.now() > deadline) {
        throw new Error(
          `Alertmanager at ${target.url} reloaded but its status does not show the new ` +
            `configuration: does it read ${config}?`,
        );
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  } catch (err) {
    if (changed) {
      writeAtomic(config, previous, 0o600);
      await reload(target.url).catch(() => undefined);
    }
    throw new AlertmanagerConfigError(
      `${scrub((err as Error).message)}${changed ? '; the previous configuration was put back' : ''}`,
    );
  }
  target.onProgress?.(`Alertmanager at ${target.url} reloaded and shows the configuration`);
  return { changed };
}

/** Whether a configuration (parsed) holds the service's subtree and these receivers. */
export function hasSubtree(
  config: unknown,
  spec: Pick<ServiceSpec, 'namespace' | 'name'>,
  receivers: readonly string[],
): boolean {
  const c = config as AmConfig | null;
  const want = [matcher('namespace', '=', spec.namespace), matcher('service', '=', spec.name)];
  const norm = (m: string) => m.replace(/\s+/g, '');
  const routes = c?.route?.routes ?? [];
  const subtree = routes.some((r) => {
    const ms = (r.matchers ?? []).map(norm);
    return want.every((w) => ms.includes(w));
  });
  if (!subtree) return false;
  const names = new Set((c?.receivers ?? []).map((r) => r.name));
  return receivers.every((r) => names.has(r));
}

function amtoolCheck(amtool: string, file: string): Promise<void> {
  return new Promise((resolveP, reject) => {
    execFile(amtool, ['check-config', file], { timeout: 20_000 }, (err, stdout, stderr) => {
      if (!err) return resolveP();
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') {
        reject(new Error(`${amtool} not found: install amtool (Debian: prometheus-alertmanager)`));
        return;
      }
      const out = `${stdout}\n${stderr}`
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l && !/^amtool: error: failed to validate/.test(l))
        .join(' ')
        .replace(new RegExp(`'?${escape(file)}'?`, 'g'), 'the configuration');
      reject(new Error(out || err.message));
    });
  });
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

async function reload(url: string): Promise<void> {
  const res = await postReload(
    url,
    (why) => new Error(`cannot reach Alertmanager at ${url} to reload: ${why}`),
  );
  if (res.ok) return;
  throw new Error(
    `Alertmanager at ${url} refused the configuration (HTTP ${res.status}): ${res.text}`,
  );
}

function call(url: string, path: string): Promise<unknown> {
  return getJson('Alertmanager', url, path, (m) => new AlertmanagerConfigError(m));
}

function readIfExists(file: string): string | undefined {
  return existsSync(file) ? readFileSync(file, 'utf8') : undefined;
}

function rmIfExists(file: string): void {
  if (existsSync(file)) unlinkSync(file);
}

// ---- Prometheus Operator ----

/**
 * The routing as an AlertmanagerConfig (monitoring.coreos.com/v1alpha1) in the service's
 * namespace: the operator adds the namespace matcher and prefixes receiver names itself.
 * Credentials are references to keys of the Secret `<service>-alert-receivers`, which
 * holds them (create it from the same sources); relay receivers point at the relay.
 */
export function alertmanagerConfigObject(
  spec: Pick<ServiceSpec, 'namespace' | 'name' | 'monitoring'>,
  rendered: RenderedAlertmanager,
) {
  const secretName = `${spec.name}-alert-receivers`;
  const prefix = receiverKey(spec, '');
  const short = (n: string) => (n.startsWith(prefix) ? n.slice(prefix.length) : n);
  const m = (s: string) => {
    const x = /^([a-zA-Z_][a-zA-Z0-9_]*)(=~|!~|!=|=)"?(.*?)"?$/.exec(s.replace(/\s+/g, ''))!;
    return { name: x[1], matchType: x[2], value: JSON.parse(`"${x[3]}"`) as string };
  };
  const route = (r: AmRoute): Record<string, unknown> => ({
    ...(r.receiver ? { receiver: short(r.receiver) } : {}),
    ...(r.matchers ? { matchers: r.matchers.map(m) } : {}),
    ...(r.group_by ? { groupBy: r.group_by } : {}),
    ...(r.group_wait ? { groupWait: r.group_wait } : {}),
    ...(r.group_interval ? { groupInterval: r.group_interval } : {}),
    ...(r.repeat_interval ? { repeatInterval: r.repeat_interval } : {}),
    ...(r.continue !== undefined ? { continue: r.continue } : {}),
    ...(r.routes ? { routes: r.routes.map(route) } : {}),
  });
  const f = rendered.fragment;
  const receivers = (f?.receivers ?? []).map((r) => {
    const name = short(r.name);
    const spec0 = spec.monitoring.receivers[name];
    if (r.email_configs) {
      const c = r.email_configs[0]!;
      return {
        name,
        emailConfigs: [
          {
            sendResolved: true,
            to: c.to,
            from: c.from,
            smarthost: c.smarthost,
            requireTLS: c.require_tls,
            ...(c.auth_username ? { authUsername: c.auth_username } : {}),
            ...(c.auth_password_file
              ? { authPassword: { name: secretName, key: `${name}-smtp-password` } }
              : {}),
          },
        ],
      };
    }
    const c = r.webhook_configs![0]!;
    const secretUrl = spec0?.kind === 'webhook' && typeof spec0.url !== 'string';
    return {
      name,
      webhookConfigs: [
        {
          sendResolved: true,
          ...(secretUrl ? { urlSecret: { name: secretName, key: `${name}-url` } } : { url: c.url }),
        },
      ],
    };
  });
  return {
    apiVersion: 'monitoring.coreos.com/v1alpha1',
    kind: 'AlertmanagerConfig',
    metadata: {
      name: `${spec.name}-gantry`,
      namespace: spec.namespace,
      labels: { 'app.kubernetes.io/name': spec.name, 'app.kubernetes.io/managed-by': 'gantry' },
    },
    spec: {
      route: f
        ? {
            ...route({ ...f.route, matchers: [matcher('service', '=', spec.name)] }),
            receiver: 'unrouted',
          }
        : { receiver: 'unrouted' },
      receivers: [{ name: 'unrouted' }, ...receivers],
      inhibitRules: (f?.inhibit_rules ?? []).map((i) => ({
        sourceMatch: i.source_matchers.map(m),
        targetMatch: i.target_matchers.map(m),
        equal: i.equal,
      })),
    },
  };
}

/** One line per receiver, for `gantry alerts render`'s notes. */
export function describeReceivers(spec: Pick<ServiceSpec, 'namespace' | 'name' | 'monitoring'>) {
  return Object.entries(spec.monitoring.receivers).map(
    ([n, r]) => `${receiverKey(spec, n)}: ${describeReceiver(r)}`,
  );
}
