// Alertmanager's webhook payload, version "4", and its validation.

export interface Alert {
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL: string;
  fingerprint: string;
}

export interface WebhookPayload {
  version: string;
  groupKey: string;
  truncatedAlerts: number;
  status: 'firing' | 'resolved';
  receiver: string;
  groupLabels: Record<string, string>;
  commonLabels: Record<string, string>;
  commonAnnotations: Record<string, string>;
  externalURL: string;
  alerts: Alert[];
}

export const RECEIVER_KEY = /^[a-z0-9.-]{1,253}$/;

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function strMap(v: unknown, at: string, problems: string[]): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (!isObj(v)) {
    problems.push(`${at}: must be an object of strings`);
    return {};
  }
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) {
    if (typeof val !== 'string') problems.push(`${at}.${k}: must be a string`);
    else out[k] = val;
  }
  return out;
}

function str(v: unknown, at: string, problems: string[], required = true): string {
  if (typeof v === 'string') return v;
  if (v === undefined && !required) return '';
  problems.push(`${at}: must be a string`);
  return '';
}

function status(v: unknown, at: string, problems: string[]): 'firing' | 'resolved' {
  if (v === 'firing' || v === 'resolved') return v;
  problems.push(`${at}: must be "firing" or "resolved"`);
  return 'firing';
}

/** Validates a decoded body; returns the payload or the list of problems (no values echoed). */
export function parsePayload(
  body: unknown,
): { ok: true; payload: WebhookPayload } | { ok: false; problems: string[] } {
  const problems: string[] = [];
  if (!isObj(body)) return { ok: false, problems: ['body: must be a JSON object'] };
  if (body.version !== '4') problems.push('version: must be "4"');
  if (!Array.isArray(body.alerts)) problems.push('alerts: must be an array');
  const alerts: Alert[] = [];
  if (Array.isArray(body.alerts)) {
    body.alerts.forEach((a: unknown, i) => {
      const at = `alerts[${i}]`;
      if (!isObj(a)) {
        problems.push(`${at}: must be an object`);
        return;
      }
      const labels = strMap(a.labels, `${at}.labels`, problems);
      alerts.push({
        status: status(a.status, `${at}.status`, problems),
        labels,
        annotations: strMap(a.annotations, `${at}.annotations`, problems),
        startsAt: str(a.startsAt, `${at}.startsAt`, problems),
        endsAt: str(a.endsAt, `${at}.endsAt`, problems, false),
        generatorURL: str(a.generatorURL, `${at}.generatorURL`, problems, false),
        fingerprint: str(a.fingerprint, `${at}.fingerprint`, problems),
      });
    });
  }
  const truncated = body.truncatedAlerts;
  const payload: WebhookPayload = {
    version: '4',
    groupKey: str(body.groupKey, 'groupKey', problems, false),
    truncatedAlerts: typeof truncated === 'number' && truncated > 0 ? Math.floor(truncated) : 0,
    status: status(body.status, 'status', problems),
    receiver: str(body.receiver, 'receiver', problems, false),
    groupLabels: strMap(body.groupLabels, 'groupLabels', problems),
    commonLabels: strMap(body.commonLabels, 'commonLabels', problems),
    commonAnnotations: strMap(body.commonAnnotations, 'commonAnnotations', problems),
    externalURL: str(body.externalURL, 'externalURL', problems, false),
    alerts,
  };
  return problems.length > 0
    ? { ok: false, problems: problems.slice(0, 20) }
    : { ok: true, payload };
}
