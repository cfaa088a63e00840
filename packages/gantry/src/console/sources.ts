// What the console reads besides the watched cache, each on the refresh schedule and only
// while a page needs it: alerts (Alertmanager's API and Prometheus's pending alerts), a
// service's recent events and last log lines, and the charts' range queries.
import type { CoreV1Event } from '@kubernetes/client-node';
import { KubeApiError } from '../kube/errors.js';
import type { Kube } from '../kube/client.js';
import { Prometheus } from '../analysis/prometheus.js';
import type { AlertSnapshot, ServiceDetails } from './views.js';
import type { AlertRow, PanelData, PanelMeta, Problem, SilenceRow } from './view-types.js';

const FETCH_TIMEOUT_MS = 5_000;

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, {
    headers: { accept: 'application/json' },
    signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`HTTP ${res.status} from ${url}: ${text.slice(0, 200)}`);
  return JSON.parse(text) as T;
}

function why(err: unknown): string {
  if (err instanceof Error) {
    const c = (err as Error & { cause?: unknown }).cause;
    return c instanceof Error ? `${err.message} (${c.message})` : err.message;
  }
  return String(err);
}

interface AmAlert {
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  startsAt?: string;
  status?: { state?: string; silencedBy?: string[]; inhibitedBy?: string[] };
}

interface AmSilence {
  id: string;
  status?: { state?: string };
  matchers?: { name: string; value: string; isRegex?: boolean; isEqual?: boolean }[];
  createdBy?: string;
  comment?: string;
  startsAt?: string;
  endsAt?: string;
}

interface PromAlert {
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  state: string;
  activeAt?: string;
}

function row(
  labels: Record<string, string>,
  annotations: Record<string, string> | undefined,
  state: AlertRow['state'],
  since: string | undefined,
): AlertRow {
  return {
    name: labels.alertname ?? '?',
    severity: labels.severity ?? '',
    state,
    ...(labels.namespace ? { namespace: labels.namespace } : {}),
    ...(labels.service ? { service: labels.service } : {}),
    ...(annotations?.summary ? { summary: annotations.summary } : {}),
    ...(since ? { since } : {}),
    labels,
  };
}

/** Firing, silenced and inhibited alerts from Alertmanager, pending ones from Prometheus. */
export async function readAlerts(
  alertmanagerUrl: string,
  prometheusUrl: string,
): Promise<AlertSnapshot> {
  const problems: Problem[] = [];
  const alerts: AlertRow[] = [];
  let silences: SilenceRow[] = [];
  const [am, sil, prom] = await Promise.allSettled([
    getJson<AmAlert[]>(`${alertmanagerUrl}/api/v2/alerts?active=true&silenced=true&inhibited=true`),
    getJson<AmSilence[]>(`${alertmanagerUrl}/api/v2/silences`),
    getJson<{ data?: { alerts?: PromAlert[] } }>(`${prometheusUrl}/api/v1/alerts`),
  ]);
  if (am.status === 'fulfilled') {
    for (const a of am.value) {
      const st = a.status?.state;
      const state: AlertRow['state'] =
        st === 'suppressed'
          ? (a.status?.silencedBy?.length ?? 0) > 0
            ? 'silenced'
            : 'inhibited'
          : 'firing';
      alerts.push({
        ...row(a.labels, a.annotations, state, a.startsAt),
        ...(a.status?.silencedBy?.length ? { silencedBy: a.status.silencedBy } : {}),
      });
    }
  } else problems.push({ what: 'alertmanager', message: why(am.reason) });
  if (sil.status === 'fulfilled') {
    silences = sil.value
      .filter((s) => s.status?.state !== 'expired')
      .map((s) => ({
        id: s.id,
        state: s.status?.state ?? '',
        matchers: (s.matchers ?? [])
          .map(
            (m) =>
              `${m.name}${m.isEqual === false ? '!' : ''}${m.isRegex ? '=~' : '='}"${m.value}"`,
          )
          .join(', '),
        createdBy: s.createdBy ?? '',
        comment: s.comment ?? '',
        startsAt: s.startsAt ?? '',
        endsAt: s.endsAt ?? '',
      }));
  } else problems.push({ what: 'alertmanager silences', message: why(sil.reason) });
  if (prom.status === 'fulfilled') {
    for (const a of prom.value.data?.alerts ?? []) {
      if (a.state === 'pending') alerts.push(row(a.labels, a.annotations, 'pending', a.activeAt));
    }
  } else problems.push({ what: 'prometheus alerts', message: why(prom.reason) });
  alerts.sort(
    (a, b) => (a.namespace ?? '').localeCompare(b.namespace ?? '') || a.name.localeCompare(b.name),
  );
  return { alerts, silences, problems, at: Date.now() / 1000 };
}

/** Pods whose last log lines a service page shows (the rest are named in the pod table). */
export const LOGGED_PODS = 4;
const LOG_LINES = 15;

/** Recent events of a service's pods and Deployments, and the last log lines of a few pods. */
export async function readDetails(
  kube: Kube,
  namespace: string,
  name: string,
  pods: string[],
): Promise<ServiceDetails> {
  const problems: Problem[] = [];
  let events: ServiceDetails['events'] = [];
  try {
    const all = await kube.list<CoreV1Event>('v1', 'Event', namespace);
    events = all
      .filter((e) => {
        const o = e.involvedObject.name ?? '';
        return o === name || o.startsWith(`${name}-`);
      })
      .map((e) => ({
        object: `${e.involvedObject.kind ?? ''}/${e.involvedObject.name ?? ''}`,
        type: e.type ?? '',
        reason: e.reason ?? '',
        message: e.message ?? '',
        count: e.count ?? 1,
        last: new Date(
          (e.lastTimestamp ?? e.eventTime ?? e.metadata.creationTimestamp ?? 0) as string | Date,
        ).toISOString(),
      }))
      .sort((a, b) => b.last.localeCompare(a.last))
      .slice(0, 12);
  } catch (err) {
    problems.push({
      what: 'events',
      message: why(err),
      ...(err instanceof KubeApiError ? { status: err.status } : {}),
    });
  }
  const logs = await Promise.all(
    pods.slice(0, LOGGED_PODS).map(async (pod) => ({
      pod,
      lines: await kube.logTail(namespace, pod, name, LOG_LINES).catch(() => ''),
    })),
  );
  return { events, logs, problems };
}

/** Span and resolution of every chart. */
export const CHART_RANGE_SECONDS = 30 * 60;
export const CHART_STEP_SECONDS = 15;

export async function readPanel(
  prom: Prometheus,
  p: PanelMeta,
  now = new Date(),
): Promise<PanelData> {
  const at = now.getTime() / 1000;
  try {
    const series = await prom.queryRange(
      p.expr,
      new Date(now.getTime() - CHART_RANGE_SECONDS * 1000),
      now,
      CHART_STEP_SECONDS,
    );
    return {
      key: p.key,
      at,
      series: series.map((s) => ({
        name: p.seriesLabel ? (s.labels[p.seriesLabel] ?? '') : p.title,
        points: s.points.filter(([, v]) => Number.isFinite(v)),
      })),
    };
  } catch (err) {
    return { key: p.key, at, series: [], error: why(err) };
  }
}

export { Prometheus };
