// Who is told about the service's alerts: the spec's monitoring.receivers and
// monitoring.routes, rendered into Alertmanager's configuration (a route subtree
// matched on the service's namespace and service labels, its receivers and its
// inhibit rules) and into the alert relay's channels (DingTalk, WeCom, SMS and
// voice, which Alertmanager 0.25 cannot reach by itself).
//
// Each subtree starts with one route per receiver for `gantry alerts test` (testRoute):
// alertname="GantryTest" and gantry_test_receiver="<name>" go to that receiver only,
// ahead of the spec's routes, so a synthetic alert can target any single receiver.
//
// Credentials come from { fromEnv | fromFile } only. They are read once
// (resolveReceiverSecrets); a receiver whose credentials cannot be read is left
// out with a warning, so a spec with the seed's table still applies on a machine
// without them. Values never appear in what `gantry alerts render` prints.
import { join } from 'node:path';
import { redactUrl } from '../notify/notifier.js';
import { gantryAlertName } from '../spec/schema.js';
import type { AlertRouteSpec, ReceiverSpec } from '../spec/schema.js';
import { SecretSourceError, resolveSecretValues } from '../spec/secrets.js';
import type { ServiceSpec } from '../spec/index.js';
import { promDuration } from './rules.js';

/** Receiver kinds delivered by the alert relay (services/alert-relay). */
export const RELAY_KINDS = ['dingtalk', 'wecom', 'sms', 'voice'] as const;
export type RelayKind = (typeof RELAY_KINDS)[number];

/** The relay's NodePort on the local cluster, on loopback. */
export const DEFAULT_RELAY_URL = 'http://127.0.0.1:30093';

/** Where a WeCom group robot key is sent when the spec gives a key rather than a URL. */
export const WECOM_ROBOT_URL = 'https://qyapi.weixin.qq.com/cgi-bin/webhook/send';

export type Spec = Pick<ServiceSpec, 'namespace' | 'name' | 'monitoring'>;

/** Credential values by receiver name, then by field (url, secret, key, authPassword, ...). */
export type ReceiverSecrets = Record<string, Record<string, string>>;

export interface ResolvedReceivers {
  values: ReceiverSecrets;
  /** Receivers left out, each with why (names sources, never values). */
  skipped: Record<string, string[]>;
}

type Source = { fromEnv?: string | undefined; fromFile?: string | undefined };

/** The credential fields of a receiver that come from a source (inline URLs are not secrets). */
function sourcesOf(r: ReceiverSpec): Record<string, Source> {
  const out: Record<string, Source> = {};
  const add = (k: string, v: unknown) => {
    if (v !== undefined && typeof v === 'object') out[k] = v as Source;
  };
  switch (r.kind) {
    case 'email':
      add('authPassword', r.authPassword);
      break;
    case 'webhook':
      add('url', r.url);
      break;
    case 'dingtalk':
      add('url', r.url);
      add('secret', r.secret);
      break;
    case 'wecom':
      add('url', r.url);
      add('key', r.key);
      break;
    case 'sms':
    case 'voice':
      add('accessKeyId', r.accessKeyId);
      add('accessKeySecret', r.accessKeySecret);
      break;
  }
  return out;
}

/**
 * Reads every receiver's credentials (relative files from `baseDir`, the spec file's
 * directory), with the project's secret-source reading. Receivers with a credential
 * that cannot be read land in `skipped`.
 */
export function resolveReceiverSecrets(
  spec: Spec,
  baseDir: string,
  env: NodeJS.ProcessEnv = process.env,
): ResolvedReceivers {
  const values: ReceiverSecrets = {};
  const skipped: Record<string, string[]> = {};
  for (const [name, r] of Object.entries(spec.monitoring.receivers)) {
    const got: Record<string, string> = {};
    const problems: string[] = [];
    for (const [field, src] of Object.entries(sourcesOf(r))) {
      const key = `monitoring.receivers.${name}.${field}`;
      try {
        const v = resolveSecretValues(
          { secrets: { [key]: src } } as unknown as ServiceSpec,
          baseDir,
          env,
        )[key];
        if (v === undefined || v === '') problems.push(`${key}: empty`);
        else got[field] = v;
      } catch (err) {
        if (!(err instanceof SecretSourceError)) throw err;
        problems.push(err.message.replace(/^secret /, ''));
      }
    }
    if (got.url !== undefined && !URL.canParse(got.url))
      problems.push(`monitoring.receivers.${name}.url: the value read is not a URL`);
    if (problems.length) skipped[name] = problems;
    else values[name] = got;
  }
  return { values, skipped };
}

/** Every credential value, to scrub from messages (an echoing tool, say). */
export function secretStrings(values: ReceiverSecrets): string[] {
  const out = new Set<string>();
  for (const r of Object.values(values)) {
    for (const v of Object.values(r)) {
      if (v.length >= 4) out.add(v);
      if (URL.canParse(v)) {
        const u = new URL(v);
        for (const q of u.searchParams.values()) if (q.length >= 4) out.add(q);
        if (u.password.length >= 4) out.add(u.password);
      }
    }
  }
  return [...out].sort((a, b) => b.length - a.length);
}

/** `text` with every secret value replaced by ***. */
export function scrubSecrets(text: string, values: ReceiverSecrets): string {
  let out = text;
  for (const s of secretStrings(values)) {
    out = out.split(s).join('***');
    const enc = encodeURIComponent(s);
    if (enc !== s) out = out.split(enc).join('***');
  }
  return out;
}

/** `<namespace>.<service>.<receiver>`: the Alertmanager receiver name and relay key. */
export function receiverKey(spec: Pick<ServiceSpec, 'namespace' | 'name'>, receiver: string) {
  return `${spec.namespace}.${spec.name}.${receiver}`;
}

/** The relay base URL: monitoring.relay.url, $GANTRY_ALERT_RELAY_URL, or the local NodePort. */
export function relayBaseUrl(spec: Spec, env: NodeJS.ProcessEnv = process.env): string {
  const url = spec.monitoring.relay.url ?? env.GANTRY_ALERT_RELAY_URL ?? DEFAULT_RELAY_URL;
  return url.replace(/\/+$/, '');
}

// ---- Alertmanager's configuration (the parts gantry writes) ----

export interface AmRoute {
  receiver?: string;
  matchers?: string[];
  group_by?: string[];
  group_wait?: string;
  group_interval?: string;
  repeat_interval?: string;
  continue?: boolean;
  routes?: AmRoute[];
}

export interface AmReceiver {
  name: string;
  email_configs?: Record<string, unknown>[];
  webhook_configs?: Record<string, unknown>[];
}

export interface AmInhibitRule {
  source_matchers: string[];
  target_matchers: string[];
  equal: string[];
}

/** A service's part of Alertmanager's configuration. */
export interface AlertmanagerFragment {
  namespace: string;
  service: string;
  route: AmRoute;
  receivers: AmReceiver[];
  inhibit_rules: AmInhibitRule[];
}

export interface RenderedAlertmanager {
  /** undefined when the spec names no receivers and no routes: nothing to add. */
  fragment: AlertmanagerFragment | undefined;
  /** Files the configuration refers to (SMTP passwords): path -> content. Mode 0600. */
  files: Record<string, string>;
  /** Receivers and routes left out, and why. */
  warnings: string[];
}

export interface AlertmanagerRenderOptions {
  /** Credential values (resolveReceiverSecrets). Without them: a redacted rendering, for display. */
  secrets?: ResolvedReceivers;
  /** Relay base URL (default relayBaseUrl(spec)). */
  relayUrl?: string;
  /** Directory holding SMTP password files (auth_password_file). */
  secretsDir: string;
}

/** A matcher in Alertmanager's syntax: name="value" (or =~ for a regex). */
export function matcher(name: string, op: '=' | '=~' | '!=', value: string): string {
  return `${name}${op}${JSON.stringify(value)}`;
}

function anyOf(name: string, values: readonly string[]): string {
  if (values.length === 1) return matcher(name, '=', values[0]!);
  return matcher(name, '=~', values.map(escapeRegex).join('|'));
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Matchers of one spec route (alert names normalised to gantry's, e.g. CPUHigh -> GantryCPUHigh). */
export function routeMatchers(r: AlertRouteSpec): string[] {
  const out: string[] = [];
  if (r.alerts?.length)
    out.push(
      anyOf(
        'alertname',
        r.alerts.map((a) => gantryAlertName(a) ?? a),
      ),
    );
  if (r.severity?.length) out.push(anyOf('severity', r.severity));
  for (const m of r.matchers ?? []) out.push(m.trim());
  return out;
}

/** The service's route subtree, receivers and inhibit rules. */
export function renderAlertmanager(
  spec: Spec,
  opts: AlertmanagerRenderOptions,
): RenderedAlertmanager {
  const m = spec.monitoring;
  const warnings: string[] = [];
  const files: Record<string, string> = {};
  if (!Object.keys(m.receivers).length && !m.routes.length) {
    return { fragment: undefined, files, warnings };
  }
  const relay = opts.relayUrl ?? relayBaseUrl(spec);
  const usable = new Set<string>();
  const receivers: AmReceiver[] = [];
  for (const [name, r] of Object.entries(m.receivers)) {
    const skipped = opts.secrets?.skipped[name];
    if (skipped) {
      warnings.push(`receiver ${name} left out: ${skipped.join('; ')}`);
      continue;
    }
    const values = opts.secrets?.values[name];
    const key = receiverKey(spec, name);
    usable.add(name);
    switch (r.kind) {
      case 'email': {
        const cfg: Record<string, unknown> = {
          send_resolved: true,
          to: r.to.join(', '),
          from: r.from,
          smarthost: r.smarthost,
          require_tls: r.requireTLS,
        };
        if (r.authUsername) cfg.auth_username = r.authUsername;
        if (r.authPassword) {
          // Alertmanager 0.25 reads the password from a file: it stays out of the config.
          const file = join(opts.secretsDir, `${key}.smtp-password`);
          cfg.auth_password_file = file;
          if (values?.authPassword !== undefined) files[file] = values.authPassword;
        }
        receivers.push({ name: key, email_configs: [cfg] });
        break;
      }
      case 'webhook': {
        const url =
          typeof r.url === 'string'
            ? r.url
            : values
              ? values.url!
              : `https://redacted.invalid/${encodeURIComponent(describeSource(r.url))}`;
        receivers.push({
          name: key,
          webhook_configs: [{ send_resolved: true, url, max_alerts: 0 }],
        });
        break;
      }
      default:
        receivers.push({
          name: key,
          webhook_configs: [
            { send_resolved: true, url: `${relay}/v1/alerts/${encodeURIComponent(key)}` },
          ],
        });
    }
  }

  // `gantry alerts test` routes: one per usable receiver, ahead of the spec's routes, so
  // a synthetic alert (alertname GantryTest, gantry_test_receiver=<name>) reaches exactly
  // that receiver. Grouped by test_id too: each test is its own group, sent after 1 s and
  // resolved within 2 s; no spec alert carries these labels, so nothing else matches.
  const routes: AmRoute[] = [...usable].map((name) => testRoute(spec, name));
  const repeat = m.repeatInterval;
  const defaultRepeat = repeat.default ?? 4 * 3600;
  const bySeverity = Object.entries(repeat)
    .filter(([sev, s]) => sev !== 'default' && s !== defaultRepeat)
    .sort(([a], [b]) => a.localeCompare(b));
  m.routes.forEach((r, i) => {
    const targets = r.receivers.filter((n) => usable.has(n));
    const left = r.receivers.filter((n) => !usable.has(n));
    if (left.length && targets.length)
      warnings.push(`monitoring.routes[${i}]: without ${left.join(', ')} (see above)`);
    if (!targets.length) {
      warnings.push(`monitoring.routes[${i}] left out: none of its receivers is usable`);
      return;
    }
    const matchers = routeMatchers(r);
    targets.forEach((name, j) => {
      const last = j === targets.length - 1;
      routes.push({
        receiver: receiverKey(spec, name),
        ...(matchers.length ? { matchers } : {}),
        // Every receiver of a route gets the alert; after the last one the route's own
        // continue decides whether later routes are tried.
        continue: last ? r.continue : true,
        ...(bySeverity.length
          ? {
              routes: bySeverity.map(([sev, s]) => ({
                matchers: [matcher('severity', '=', sev)],
                repeat_interval: promDuration(s),
              })),
            }
          : {}),
      });
    });
  });

  const svc = [matcher('namespace', '=', spec.namespace), matcher('service', '=', spec.name)];
  const inhibit: AmInhibitRule[] = m.inhibitOnDown
    ? [
        {
          source_matchers: [matcher('alertname', '=', 'GantryServiceDown'), ...svc],
          // `gantry alerts test`'s alert is not inhibited: a test must reach people even
          // (especially) while the service is down.
          target_matchers: [
            matcher('alertname', '!=', 'GantryServiceDown'),
            matcher('alertname', '!=', TEST_ALERT),
            ...svc,
          ],
          equal: ['namespace', 'service'],
        },
      ]
    : [];
  return {
    fragment: {
      namespace: spec.namespace,
      service: spec.name,
      route: {
        // No receiver: alerts no route takes go to the configuration's root receiver.
        matchers: svc,
        group_by: m.groupBy,
        group_wait: promDuration(m.groupWait),
        group_interval: promDuration(m.groupInterval),
        repeat_interval: promDuration(defaultRepeat),
        continue: false,
        routes,
      },
      receivers,
      inhibit_rules: inhibit,
    },
    files,
    warnings,
  };
}

/** alertname of `gantry alerts test`'s synthetic alerts. */
export const TEST_ALERT = 'GantryTest';
/** The label naming the receiver a synthetic alert is for (its short name). */
export const TEST_RECEIVER_LABEL = 'gantry_test_receiver';
/** The label making each synthetic alert (and its group) unique. */
export const TEST_ID_LABEL = 'test_id';

/** The route taking `gantry alerts test`'s alert for `receiver` (short name) to it alone. */
export function testRoute(
  spec: Pick<ServiceSpec, 'namespace' | 'name'>,
  receiver: string,
): AmRoute {
  return {
    receiver: receiverKey(spec, receiver),
    matchers: [matcher('alertname', '=', TEST_ALERT), matcher(TEST_RECEIVER_LABEL, '=', receiver)],
    group_by: ['alertname', 'namespace', 'service', TEST_RECEIVER_LABEL, TEST_ID_LABEL],
    group_wait: '1s',
    group_interval: '2s',
    repeat_interval: '24h',
    continue: false,
  };
}

/** Whether a route is one of testRoute's. */
export function isTestRoute(r: AmRoute): boolean {
  return (r.matchers ?? []).some(
    (x) => x.replace(/\s+/g, '') === matcher('alertname', '=', TEST_ALERT),
  );
}

function describeSource(src: Source): string {
  return src.fromEnv !== undefined ? `from env ${src.fromEnv}` : `from file ${src.fromFile}`;
}

// ---- The relay's channels ----

export type RelayChannel =
  | { kind: 'dingtalk'; url: string; secret?: string; atMobiles: string[]; atAll: boolean }
  | { kind: 'wecom'; url: string; mentionedMobiles: string[] }
  | {
      kind: 'sms';
      provider: 'aliyun';
      endpoint: string;
      accessKeyId: string;
      accessKeySecret: string;
      signName: string;
      templateCode: string;
      phoneNumbers: string[];
    }
  | {
      kind: 'voice';
      provider: 'aliyun';
      endpoint: string;
      accessKeyId: string;
      accessKeySecret: string;
      calledShowNumber: string;
      ttsCode: string;
      calledNumbers: string[];
    };

export interface RelayEntry {
  language: 'zh' | 'en';
  channels: RelayChannel[];
  links: { console?: string; prometheus?: string };
}

/**
 * The relay's channels file entries of this service: key `<namespace>.<service>.<receiver>`
 * for each dingtalk, wecom, sms and voice receiver whose credentials are in `secretValues`
 * (receivers missing there are left out). Holds credentials: write it only into the
 * Secret the relay reads.
 */
export function relayChannels(
  spec: Spec,
  secretValues: ReceiverSecrets,
  opts: { prometheusUrl?: string } = {},
): Record<string, RelayEntry> {
  const m = spec.monitoring;
  const links: RelayEntry['links'] = {
    ...(m.links.console ? { console: m.links.console } : {}),
    ...((m.links.prometheus ?? opts.prometheusUrl)
      ? { prometheus: m.links.prometheus ?? opts.prometheusUrl }
      : {}),
  };
  const out: Record<string, RelayEntry> = {};
  for (const [name, r] of Object.entries(m.receivers).sort(([a], [b]) => a.localeCompare(b))) {
    const v = secretValues[name];
    if (!v) continue;
    let channel: RelayChannel;
    switch (r.kind) {
      case 'dingtalk':
        channel = {
          kind: 'dingtalk',
          url: v.url!,
          ...(v.secret !== undefined ? { secret: v.secret } : {}),
          atMobiles: r.atMobiles,
          atAll: r.atAll,
        };
        break;
      case 'wecom': {
        const url = v.url ?? `${WECOM_ROBOT_URL}?key=${encodeURIComponent(v.key ?? '')}`;
        channel = { kind: 'wecom', url, mentionedMobiles: r.mentionedMobiles };
        break;
      }
      case 'sms':
        channel = {
          kind: 'sms',
          provider: r.provider,
          endpoint: r.endpoint,
          accessKeyId: v.accessKeyId!,
          accessKeySecret: v.accessKeySecret!,
          signName: r.signName,
          templateCode: r.templateCode,
          phoneNumbers: r.phoneNumbers,
        };
        break;
      case 'voice':
        channel = {
          kind: 'voice',
          provider: r.provider,
          endpoint: r.endpoint,
          accessKeyId: v.accessKeyId!,
          accessKeySecret: v.accessKeySecret!,
          calledShowNumber: r.calledShowNumber,
          ttsCode: r.ttsCode,
          calledNumbers: r.calledNumbers,
        };
        break;
      default:
        continue;
    }
    out[receiverKey(spec, name)] = {
      language: ('language' in r && r.language) || m.language,
      channels: [channel],
      links,
    };
  }
  return out;
}

/** A receiver as `gantry alerts render` may show it: kind and where it goes, nothing secret. */
export function describeReceiver(r: ReceiverSpec): string {
  switch (r.kind) {
    case 'email':
      return `email to ${r.to.join(', ')} via ${r.smarthost}`;
    case 'webhook':
      return `webhook ${typeof r.url === 'string' ? redactUrl(r.url) : describeSource(r.url)}`;
    case 'dingtalk':
      return `DingTalk robot (${describeSource(r.url)})`;
    case 'wecom':
      return `WeCom group robot (${describeSource((r.url ?? r.key)!)})`;
    case 'sms':
      return `SMS to ${r.phoneNumbers.length} number(s) via Alibaba Cloud`;
    case 'voice':
      return `voice call to ${r.calledNumbers.length} number(s) via Alibaba Cloud`;
  }
}
