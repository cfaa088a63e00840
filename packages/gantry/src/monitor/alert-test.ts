// `gantry alerts test` and the delivery part of `gantry alerts status`: what the service's
// receivers delivered, as far as Alertmanager and the alert relay tell.
//
// Where the figures come from, and their limits:
// - Alertmanager 0.25 counts notifications per integration (email, webhook, ...), not per
//   receiver: alertmanager_notifications_total and _failed_total (one per notification,
//   failed once Alertmanager gives up retrying), alertmanager_notification_requests_total
//   and _failed_total (one per attempt). Its API keeps no delivery record at all.
// - The relay counts relay_deliveries_total{channel, outcome} per channel kind (dingtalk,
//   wecom, sms, voice), not per receiver either.
// So `alerts test` tests at most one receiver per integration at a time (rounds), and
// takes the counters' difference over each round as that receiver's. Other notifications
// of the same integration through the same Alertmanager in that moment are counted too:
// the detail says so. Status shows the totals with their source and "n/a" for a
// per-receiver last attempt, which neither exposes.
//
// A synthetic alert is alertname=GantryTest, the service's namespace and service,
// severity=info, gantry_test_receiver=<receiver> and a unique test_id: the test route
// rendered first in the service's subtree (receivers.ts, testRoute) takes it to that
// receiver alone. It is resolved (POST again with endsAt now) after the firing
// notification, and the resolved notification is waited for too.
import { randomBytes } from 'node:crypto';
import { parse } from 'yaml';
import type { ServiceSpec } from '../spec/index.js';
import type { ReceiverSpec } from '../spec/schema.js';
import {
  RELAY_KINDS,
  TEST_ALERT,
  TEST_ID_LABEL,
  TEST_RECEIVER_LABEL,
  isTestRoute,
  matcher,
  receiverKey,
} from './receivers.js';
import type { AmRoute } from './receivers.js';

export class AlertTestError extends Error {
  override name = 'AlertTestError';
  constructor(
    message: string,
    /** true when the input (a receiver name, a flag) is wrong: nothing was sent. */
    readonly input = false,
  ) {
    super(message);
  }
}

type Spec = Pick<ServiceSpec, 'namespace' | 'name' | 'monitoring'>;

// ---- metrics ----

export interface MetricSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Samples of a Prometheus text exposition (comments and malformed lines skipped). */
export function parseMetrics(text: string): MetricSample[] {
  const out: MetricSample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1]!] = l[2]!.replace(/\\n/g, '\n').replace(/\\(["\\])/g, '$1');
    }
    const value = Number(m[3]);
    if (!Number.isNaN(value)) out.push({ name: m[1]!, labels, value });
  }
  return out;
}

function total(samples: MetricSample[], name: string, labels: Record<string, string>): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((a, s) => a + s.value, 0);
}

/** Alertmanager's integration a receiver kind uses: relay-bound kinds are webhooks. */
export type Integration = 'email' | 'webhook';
export function integrationOf(kind: ReceiverSpec['kind']): Integration {
  return kind === 'email' ? 'email' : 'webhook';
}

function isRelayKind(kind: string): boolean {
  return (RELAY_KINDS as readonly string[]).includes(kind);
}

/** Alertmanager's notification counters for one integration (all receivers using it). */
export interface IntegrationCounts {
  /** alertmanager_notifications_total: notifications begun. */
  notifications: number;
  /** alertmanager_notifications_failed_total: notifications given up after retries. */
  notificationsFailed: number;
  /** alertmanager_notification_requests_total: attempts. */
  requests: number;
  /** alertmanager_notification_requests_failed_total: failed attempts. */
  requestsFailed: number;
}

export async function alertmanagerMetrics(
  url: string,
): Promise<Record<Integration, IntegrationCounts>> {
  const samples = parseMetrics(await getText(`${url}/metrics`, 'Alertmanager'));
  const of = (integration: string): IntegrationCounts => ({
    notifications: total(samples, 'alertmanager_notifications_total', { integration }),
    notificationsFailed: total(samples, 'alertmanager_notifications_failed_total', {
      integration,
    }),
    requests: total(samples, 'alertmanager_notification_requests_total', { integration }),
    requestsFailed: total(samples, 'alertmanager_notification_requests_failed_total', {
      integration,
    }),
  });
  return { email: of('email'), webhook: of('webhook') };
}

/** The relay's relay_deliveries_total per channel kind and outcome. */
export type RelayCounts = Record<string, { delivered: number; retry: number; failed: number }>;

export async function relayMetrics(url: string): Promise<RelayCounts> {
  const samples = parseMetrics(await getText(`${url}/metrics`, 'the alert relay'));
  const out: RelayCounts = {};
  for (const kind of RELAY_KINDS) {
    out[kind] = {
      delivered: total(samples, 'relay_deliveries_total', { channel: kind, outcome: 'delivered' }),
      retry: total(samples, 'relay_deliveries_total', { channel: kind, outcome: 'retry' }),
      failed: total(samples, 'relay_deliveries_total', { channel: kind, outcome: 'failed' }),
    };
  }
  return out;
}

// ---- Alertmanager's API ----

interface ApiAlert {
  labels: Record<string, string>;
  startsAt: string;
  receivers: { name: string }[];
  status: { state: string; silencedBy: string[]; inhibitedBy: string[] };
}

async function apiAlerts(url: string, filters: Record<string, string>): Promise<ApiAlert[]> {
  const q = Object.entries(filters)
    .map(([k, v]) => `filter=${encodeURIComponent(matcher(k, '=', v))}`)
    .join('&');
  return JSON.parse(await getText(`${url}/api/v2/alerts?${q}`, 'Alertmanager')) as ApiAlert[];
}

/** The test routes of the service's subtree in Alertmanager's live configuration. */
async function liveTestRoutes(url: string, spec: Spec): Promise<Set<string> | undefined> {
  const status = JSON.parse(await getText(`${url}/api/v2/status`, 'Alertmanager')) as {
    config?: { original?: string };
  };
  const doc = parse(status.config?.original ?? '') as { route?: AmRoute } | null;
  const want = [matcher('namespace', '=', spec.namespace), matcher('service', '=', spec.name)];
  const subtree = (doc?.route?.routes ?? []).find((r) => {
    const ms = (r.matchers ?? []).map((m) => m.replace(/\s+/g, ''));
    return want.every((w) => ms.includes(w));
  });
  if (!subtree) return undefined;
  return new Set(
    (subtree.routes ?? []).filter(isTestRoute).flatMap((r) => (r.receiver ? [r.receiver] : [])),
  );
}

async function postAlerts(url: string, alerts: unknown[]): Promise<void> {
  let res: Response;
  try {
    res = await fetch(`${url}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(alerts),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    throw new AlertTestError(`cannot reach Alertmanager at ${url}: ${(err as Error).message}`);
  }
  if (!res.ok) {
    throw new AlertTestError(
      `Alertmanager refused the test alert (HTTP ${res.status}): ${(await res.text()).trim().slice(0, 300)}`,
    );
  }
}

async function getText(url: string, what: string): Promise<string> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    throw new AlertTestError(`cannot reach ${what} at ${url}: ${(err as Error).message}`);
  }
  if (!res.ok) throw new AlertTestError(`${what} ${url}: HTTP ${res.status}`);
  return res.text();
}

// ---- gantry alerts test ----

/**
 * delivered: the firing and the resolved notification were sent (and, for relay-bound
 * receivers with the relay's metrics reachable, delivered by the relay).
 * accepted: Alertmanager delivered both to the relay, which answers only once the job is
 * on disk; the relay's metrics were unreachable, so its delivery onward is unconfirmed.
 */
export type TestOutcome =
  | 'delivered'
  | 'accepted'
  | 'failed'
  | 'timeout'
  | 'silenced'
  | 'inhibited'
  | 'not-routed'
  | 'not-sent';

export interface ReceiverTestResult {
  receiver: string;
  key: string;
  kind: ReceiverSpec['kind'];
  integration: Integration;
  result: TestOutcome;
  firing: TestOutcome;
  resolved: TestOutcome;
  detail: string;
}

export interface AlertTestReport {
  namespace: string;
  service: string;
  alertmanager: string;
  relay: { url: string; reachable: boolean; error?: string } | null;
  testIds: string[];
  receivers: ReceiverTestResult[];
  /** Every targeted receiver delivered (or, relay metrics unreachable, was accepted by the relay). */
  ok: boolean;
  /** Where the figures come from. */
  note: string;
}

export const TEST_NOTE =
  "figures are differences of Alertmanager's counters per integration (0.25 has none per " +
  "receiver) and of the relay's per channel kind over each round; one receiver per " +
  'integration is tested at a time, but other notifications through the same Alertmanager ' +
  'in that moment are counted too';

export interface AlertTestOptions {
  alertmanagerUrl: string;
  /** The relay base URL whose /metrics to read (relay-bound receivers); undefined: not read. */
  relayUrl?: string;
  /** One receiver (its short name); default every receiver of the spec. */
  receiver?: string;
  /** Bound on each wait for a notification (firing, then resolved). */
  waitMs: number;
  pollMs?: number;
  onProgress?: (message: string) => void;
}

const OK: readonly TestOutcome[] = ['delivered', 'accepted'];

/** Sends synthetic alerts to the receivers, resolves them, and reports what each delivered. */
export async function testReceivers(spec: Spec, opts: AlertTestOptions): Promise<AlertTestReport> {
  const all = Object.keys(spec.monitoring.receivers);
  if (!all.length) throw new AlertTestError('the spec names no monitoring.receivers', true);
  if (opts.receiver !== undefined && !all.includes(opts.receiver)) {
    throw new AlertTestError(
      `no receiver "${opts.receiver}" in monitoring.receivers (${all.join(', ')})`,
      true,
    );
  }
  const names = opts.receiver !== undefined ? [opts.receiver] : all;
  const am = opts.alertmanagerUrl;
  const progress = opts.onProgress ?? (() => undefined);
  const results = new Map<string, ReceiverTestResult>();
  const base = (name: string): ReceiverTestResult => {
    const kind = spec.monitoring.receivers[name]!.kind;
    return {
      receiver: name,
      key: receiverKey(spec, name),
      kind,
      integration: integrationOf(kind),
      result: 'not-sent',
      firing: 'not-sent',
      resolved: 'not-sent',
      detail: '',
    };
  };

  const routed = await liveTestRoutes(am, spec);
  const targets: string[] = [];
  for (const n of names) {
    const r = base(n);
    if (!routed?.has(r.key)) {
      r.result = r.firing = 'not-routed';
      r.detail = routed
        ? `Alertmanager's live configuration has no test route to ${r.key}: left out at apply ` +
          '(unreadable credentials?) or applied by an older gantry; run gantry alerts apply'
        : `${spec.namespace}/${spec.name} is not in Alertmanager's live configuration: run gantry alerts apply`;
      results.set(n, r);
    } else targets.push(n);
  }

  let relay: AlertTestReport['relay'] = null;
  const relayBound = targets.some((n) => isRelayKind(spec.monitoring.receivers[n]!.kind));
  if (relayBound && opts.relayUrl !== undefined) {
    try {
      await relayMetrics(opts.relayUrl);
      relay = { url: opts.relayUrl, reachable: true };
    } catch (err) {
      relay = { url: opts.relayUrl, reachable: false, error: (err as Error).message };
      progress(
        `relay metrics unreachable (${(err as Error).message}): relay-bound receivers are checked up to the relay only`,
      );
    }
  }

  // Rounds: at most one receiver per integration, so a counter difference is one receiver's.
  const byIntegration: Record<Integration, string[]> = { email: [], webhook: [] };
  for (const n of targets) byIntegration[base(n).integration].push(n);
  const rounds: string[][] = [];
  for (let i = 0; i < Math.max(byIntegration.email.length, byIntegration.webhook.length); i++) {
    rounds.push([byIntegration.email[i], byIntegration.webhook[i]].filter((x) => x !== undefined));
  }

  const testIds: string[] = [];
  for (const [i, round] of rounds.entries()) {
    const testId = `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
    testIds.push(testId);
    const rs = round.map((n) => base(n));
    for (const r of rs) results.set(r.receiver, r);
    progress(
      `round ${i + 1}/${rounds.length}: GantryTest (test_id ${testId}) to ${round.join(', ')}`,
    );
    await runRound(
      spec,
      rs,
      testId,
      { ...opts, relay: relay?.reachable ? relay.url : undefined },
      progress,
    );
  }

  const receivers = names.map((n) => results.get(n)!);
  return {
    namespace: spec.namespace,
    service: spec.name,
    alertmanager: am,
    relay,
    testIds,
    receivers,
    ok: receivers.every((r) => OK.includes(r.result)),
    note: TEST_NOTE,
  };
}

interface Snapshot {
  am: Record<Integration, IntegrationCounts>;
  relay?: RelayCounts;
}

async function snapshot(am: string, relay: string | undefined): Promise<Snapshot> {
  const [a, r] = await Promise.all([
    alertmanagerMetrics(am),
    relay !== undefined ? relayMetrics(relay).catch(() => undefined) : undefined,
  ]);
  return { am: a, ...(r ? { relay: r } : {}) };
}

/** What happened to one receiver's notification between two snapshots. */
function phaseOutcome(
  r: ReceiverTestResult,
  from: Snapshot,
  now: Snapshot,
  relay: boolean,
): { outcome: TestOutcome | undefined; detail: string } {
  const a = from.am[r.integration];
  const b = now.am[r.integration];
  const sent = b.requests - b.requestsFailed - (a.requests - a.requestsFailed);
  const failedAttempts = b.requestsFailed - a.requestsFailed;
  const gaveUp = b.notificationsFailed - a.notificationsFailed;
  let detail = `alertmanager ${r.integration}: +${sent} sent, +${failedAttempts} failed attempts`;
  if (gaveUp > 0) detail += `, +${gaveUp} given up`;
  if (sent <= 0) {
    return { outcome: gaveUp > 0 ? 'failed' : undefined, detail };
  }
  if (!isRelayKind(r.kind)) return { outcome: 'delivered', detail };
  if (!relay) return { outcome: 'accepted', detail: `${detail}; relay metrics not read` };
  if (!from.relay || !now.relay) return { outcome: undefined, detail };
  const x = from.relay[r.kind]!;
  const y = now.relay[r.kind]!;
  const delivered = y.delivered - x.delivered;
  const failed = y.failed - x.failed;
  const retry = y.retry - x.retry;
  detail += `; relay ${r.kind}: +${delivered} delivered, +${retry} retried, +${failed} failed`;
  if (delivered > 0) return { outcome: 'delivered', detail };
  if (failed > 0) return { outcome: 'failed', detail };
  return { outcome: undefined, detail };
}

async function runRound(
  spec: Spec,
  rs: ReceiverTestResult[],
  testId: string,
  opts: AlertTestOptions & { relay: string | undefined },
  progress: (m: string) => void,
): Promise<void> {
  const am = opts.alertmanagerUrl;
  const poll = opts.pollMs ?? 500;
  const startsAt = new Date();
  const alert = (r: ReceiverTestResult, endsAt: Date) => ({
    labels: {
      alertname: TEST_ALERT,
      namespace: spec.namespace,
      service: spec.name,
      severity: 'info',
      [TEST_RECEIVER_LABEL]: r.receiver,
      [TEST_ID_LABEL]: testId,
    },
    annotations: {
      summary: `gantry alerts test: a synthetic alert for receiver ${r.receiver} of ${spec.namespace}/${spec.name}`,
      description: `Sent by gantry alerts test (test_id ${testId}); it resolves by itself. Nothing is wrong.`,
    },
    startsAt: startsAt.toISOString(),
    endsAt: endsAt.toISOString(),
  });
  const note = (r: ReceiverTestResult, d: string) => {
    r.detail = r.detail ? `${r.detail}; ${d}` : d;
  };

  let before = await snapshot(am, opts.relay);
  // Firing until resolved below; far enough ahead that it never resolves by itself first.
  await postAlerts(
    am,
    rs.map((r) => alert(r, new Date(Date.now() + 2 * opts.waitMs + 600_000))),
  );
  try {
    // Firing.
    const pending = new Set(rs);
    const deadline = Date.now() + opts.waitMs;
    let checkedSuppressed = false;
    const last: Record<string, string> = {};
    while (pending.size) {
      await sleep(poll);
      if (!checkedSuppressed && Date.now() - startsAt.getTime() > 1500) {
        checkedSuppressed = true;
        for (const a of await apiAlerts(am, { [TEST_ID_LABEL]: testId })) {
          const r = rs.find((x) => x.receiver === a.labels[TEST_RECEIVER_LABEL]);
          if (!r || a.status.state !== 'suppressed') continue;
          const silenced = a.status.silencedBy.length > 0;
          r.firing = silenced ? 'silenced' : 'inhibited';
          note(
            r,
            silenced
              ? `silenced by ${a.status.silencedBy.join(', ')} (gantry alerts silences)`
              : `inhibited by ${a.status.inhibitedBy.join(', ')}`,
          );
          pending.delete(r);
        }
      }
      const now = await snapshot(am, opts.relay);
      for (const r of [...pending]) {
        const o = phaseOutcome(r, before, now, opts.relay !== undefined);
        last[r.receiver] = o.detail;
        if (o.outcome) {
          r.firing = o.outcome;
          note(r, `firing: ${o.detail}`);
          pending.delete(r);
          progress(`${r.receiver}: firing ${o.outcome}`);
        }
      }
      if (pending.size && Date.now() > deadline) {
        for (const r of pending) {
          r.firing = /\+[1-9]\d* failed attempts/.test(last[r.receiver] ?? '')
            ? 'failed'
            : 'timeout';
          note(
            r,
            `firing: nothing confirmed within ${Math.round(opts.waitMs / 1000)}s (${last[r.receiver] ?? 'no figures'})`,
          );
        }
        break;
      }
    }
  } finally {
    // Resolve, whatever happened: resolved notifications go out for what was delivered.
    before = await snapshot(am, opts.relay).catch(() => before);
    await postAlerts(
      am,
      rs.map((r) => alert(r, new Date())),
    );
  }

  // Resolved: Alertmanager sends it only to receivers the firing one reached.
  const pending = new Set(rs.filter((r) => OK.includes(r.firing)));
  for (const r of rs) if (!pending.has(r)) r.resolved = 'not-sent';
  if (pending.size) progress(`resolved the test alert; waiting for the resolved notification`);
  const deadline = Date.now() + opts.waitMs;
  const last: Record<string, string> = {};
  while (pending.size) {
    await sleep(poll);
    const now = await snapshot(am, opts.relay);
    for (const r of [...pending]) {
      const o = phaseOutcome(r, before, now, opts.relay !== undefined);
      last[r.receiver] = o.detail;
      if (o.outcome) {
        r.resolved = o.outcome;
        note(r, `resolved: ${o.detail}`);
        pending.delete(r);
        progress(`${r.receiver}: resolved ${o.outcome}`);
      }
    }
    if (pending.size && Date.now() > deadline) {
      for (const r of pending) {
        r.resolved = 'timeout';
        note(
          r,
          `resolved: nothing confirmed within ${Math.round(opts.waitMs / 1000)}s (${last[r.receiver] ?? 'no figures'})`,
        );
      }
      break;
    }
  }
  for (const r of rs) {
    r.result = !OK.includes(r.firing)
      ? r.firing
      : !OK.includes(r.resolved)
        ? r.resolved
        : r.firing === 'accepted' || r.resolved === 'accepted'
          ? 'accepted'
          : 'delivered';
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

// ---- gantry alerts status: delivery per receiver ----

export interface ReceiverDelivery {
  receiver: string;
  key: string;
  kind: ReceiverSpec['kind'];
  integration: Integration;
  /** Alerts Alertmanager routes to this receiver now (API v2 alerts' receivers). */
  alertsNow: number;
  /** Alertmanager's counters of the receiver's integration: every receiver using it. */
  alertmanager: (IntegrationCounts & { source: string }) | null;
  /** The relay's counters of the receiver's channel kind (relay-bound receivers). */
  relay: { delivered: number; retry: number; failed: number; source: string } | null;
  /** Neither Alertmanager 0.25 nor the relay record a per-receiver last attempt. */
  lastAttempt: 'n/a';
  note: string;
}

export interface ServiceAlertState {
  alertname: string;
  state: string;
  startsAt: string;
  silencedBy: string[];
  inhibitedBy: string[];
  receivers: string[];
  labels: Record<string, string>;
}

export interface DeliveryStatus {
  alertmanager: { url: string; error?: string };
  relay: { url: string; error?: string } | null;
  /** The service's alerts as Alertmanager holds them (active, silenced, inhibited). */
  alerts: ServiceAlertState[];
  receivers: ReceiverDelivery[];
}

/** The service's alerts in Alertmanager and what is known of each receiver's deliveries. */
export async function deliveryStatus(
  spec: Spec,
  opts: { alertmanagerUrl: string; relayUrl?: string },
): Promise<DeliveryStatus> {
  const am = opts.alertmanagerUrl;
  const out: DeliveryStatus = { alertmanager: { url: am }, relay: null, alerts: [], receivers: [] };
  let counts: Record<Integration, IntegrationCounts> | undefined;
  try {
    const [alerts, c] = await Promise.all([
      apiAlerts(am, { namespace: spec.namespace, service: spec.name }),
      alertmanagerMetrics(am),
    ]);
    counts = c;
    out.alerts = alerts
      .map((a) => ({
        alertname: a.labels.alertname ?? '',
        state: a.status.state,
        startsAt: a.startsAt,
        silencedBy: a.status.silencedBy,
        inhibitedBy: a.status.inhibitedBy,
        receivers: a.receivers.map((r) => r.name),
        labels: a.labels,
      }))
      .sort(
        (a, b) => a.alertname.localeCompare(b.alertname) || a.startsAt.localeCompare(b.startsAt),
      );
  } catch (err) {
    out.alertmanager.error = (err as Error).message;
  }
  const kinds = Object.values(spec.monitoring.receivers).map((r) => r.kind);
  let relay: RelayCounts | undefined;
  if (opts.relayUrl !== undefined && kinds.some(isRelayKind)) {
    out.relay = { url: opts.relayUrl };
    try {
      relay = await relayMetrics(opts.relayUrl);
    } catch (err) {
      out.relay.error = (err as Error).message;
    }
  }
  for (const [name, r] of Object.entries(spec.monitoring.receivers)) {
    const key = receiverKey(spec, name);
    const integration = integrationOf(r.kind);
    const c = counts?.[integration];
    const rc = isRelayKind(r.kind) ? relay?.[r.kind] : undefined;
    out.receivers.push({
      receiver: name,
      key,
      kind: r.kind,
      integration,
      alertsNow: out.alerts.filter((a) => a.receivers.includes(key)).length,
      alertmanager: c
        ? { ...c, source: `Alertmanager ${integration} integration, all receivers` }
        : null,
      relay: rc ? { ...rc, source: `relay ${r.kind} channel, all receivers of that kind` } : null,
      lastAttempt: 'n/a',
      note: isRelayKind(r.kind)
        ? 'Alertmanager delivers it to the relay (webhook); the relay delivers onward'
        : 'Alertmanager delivers it itself',
    });
  }
  return out;
}
