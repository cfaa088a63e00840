// Message text for each channel, in Chinese or English: what fired, service and namespace,
// severity, value against threshold, since when, runbook and links. Robot messages batch several
// groups and split at the channel's byte limit with "… and N more", never dropping an alert.
import type { Language, ReceiverConfig } from './config.js';
import type { Alert } from './payload.js';
import type { Job } from './store.js';

export interface RenderOptions {
  language: Language;
  timeZone: string;
  links: ReceiverConfig['links'];
  now?: number;
}

const T = {
  zh: {
    firing: '告警',
    resolved: '已恢复',
    service: '服务',
    namespace: '命名空间',
    severity: '级别',
    summary: '摘要',
    description: '详情',
    value: '当前值',
    threshold: '阈值',
    since: '开始于',
    endedAt: '恢复于',
    lasted: '持续',
    runbook: '处理手册',
    console: '控制台',
    more: (n: number) => `…… 还有 ${n} 条告警，见下一条消息`,
    truncated: (n: number) => `（另有 ${n} 条告警未被 Alertmanager 发送）`,
    count: (n: number) => `${n} 条`,
  },
  en: {
    firing: 'FIRING',
    resolved: 'RESOLVED',
    service: 'Service',
    namespace: 'Namespace',
    severity: 'Severity',
    summary: 'Summary',
    description: 'Description',
    value: 'Value',
    threshold: 'threshold',
    since: 'Since',
    endedAt: 'Resolved at',
    lasted: 'lasted',
    runbook: 'Runbook',
    console: 'Console',
    more: (n: number) => `… and ${n} more alerts in the next message`,
    truncated: (n: number) => `(Alertmanager left out ${n} more alerts of this group)`,
    count: (n: number) => `${n}`,
  },
};

export function byteLength(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/** Cuts a string to at most `max` UTF-8 bytes (on a code point boundary), marking the cut. */
export function truncateBytes(s: string, max: number): string {
  if (byteLength(s) <= max) return s;
  const mark = '…';
  let out = '';
  let used = byteLength(mark);
  for (const ch of s) {
    const b = byteLength(ch);
    if (used + b > max) break;
    out += ch;
    used += b;
  }
  return out + mark;
}

/** Cuts to at most `max` characters (code points), for SMS/voice template variables. */
export function truncateChars(s: string, max: number): string {
  const chars = [...s];
  return chars.length <= max ? s : chars.slice(0, max - 1).join('') + '…';
}

export function formatTime(iso: string, timeZone: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime()) || d.getUTCFullYear() < 1971) return '-';
  try {
    return new Intl.DateTimeFormat('sv-SE', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hour12: false,
    }).format(d);
  } catch {
    return d.toISOString();
  }
}

function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${s % 60 ? `${s % 60}s` : ''}`;
  const h = Math.floor(m / 60);
  return `${h}h${m % 60 ? `${m % 60}m` : ''}`;
}

export function serviceOf(labels: Record<string, string>): string {
  return labels.service ?? labels.app ?? labels.job ?? labels.container ?? '-';
}

const FIELD_MAX = 600;
const LINK_MAX = 600;

/** One alert as markdown lines. Each field is capped, so one alert stays well under 4 KB. */
export function alertBlock(alert: Alert, opts: RenderOptions): string {
  const t = T[opts.language];
  const l = alert.labels;
  const a = alert.annotations;
  const name = truncateBytes(l.alertname ?? '(alert)', 120);
  const icon = alert.status === 'resolved' ? '✅' : '🔥';
  const lines = [`#### ${icon} [${alert.status === 'resolved' ? t.resolved : t.firing}] ${name}`];
  lines.push(
    `- ${t.service}: ${truncateBytes(serviceOf(l), 100)} · ${t.namespace}: ${truncateBytes(l.namespace ?? '-', 100)}`,
  );
  if (l.severity) lines.push(`- ${t.severity}: ${truncateBytes(l.severity, 40)}`);
  if (a.summary) lines.push(`- ${t.summary}: ${truncateBytes(a.summary, FIELD_MAX)}`);
  if (a.description && a.description !== a.summary)
    lines.push(`- ${t.description}: ${truncateBytes(a.description, FIELD_MAX)}`);
  if (a.value) {
    const th = a.threshold ? ` (${t.threshold} ${truncateBytes(a.threshold, 60)})` : '';
    lines.push(`- ${t.value}: ${truncateBytes(a.value, 60)}${th}`);
  }
  lines.push(`- ${t.since}: ${formatTime(alert.startsAt, opts.timeZone)} (${opts.timeZone})`);
  if (alert.status === 'resolved') {
    const end = formatTime(alert.endsAt, opts.timeZone);
    const lasted = Date.parse(alert.endsAt) - Date.parse(alert.startsAt);
    lines.push(
      `- ${t.endedAt}: ${end}${Number.isFinite(lasted) && lasted > 0 ? ` (${t.lasted} ${duration(lasted)})` : ''}`,
    );
  }
  const links: string[] = [];
  if (a.runbook_url) links.push(`[${t.runbook}](${truncateBytes(a.runbook_url, LINK_MAX)})`);
  if (alert.generatorURL)
    links.push(`[Prometheus](${truncateBytes(alert.generatorURL, LINK_MAX)})`);
  else if (opts.links.prometheus) links.push(`[Prometheus](${opts.links.prometheus})`);
  if (opts.links.console)
    links.push(`[${t.console}](${truncateBytes(opts.links.console, LINK_MAX)})`);
  if (links.length > 0) lines.push(`- ${links.join(' · ')}`);
  return lines.join('\n') + '\n';
}

function groupHeader(job: Job, opts: RenderOptions, count: number): string {
  const t = T[opts.language];
  const firing = job.alerts.filter((a) => a.status === 'firing').length;
  const state = firing > 0 ? `${t.firing} ${t.count(firing)}` : `${t.resolved} ${t.count(count)}`;
  const svc = serviceOf({ ...job.commonLabels, ...job.groupLabels });
  const ns = job.groupLabels.namespace ?? job.commonLabels.namespace;
  const where =
    svc !== '-' ? ` ${truncateBytes(svc, 100)}${ns ? ` (${truncateBytes(ns, 100)})` : ''}` : '';
  return `### [${state}]${where}\n`;
}

export function messageTitle(jobs: Job[], opts: RenderOptions): string {
  const t = T[opts.language];
  const first = jobs[0];
  const alert = first?.alerts[first.progress];
  if (!first || !alert) return 'alert';
  const status = alert.status === 'resolved' ? t.resolved : t.firing;
  return truncateBytes(
    `[${status}] ${alert.labels.alertname ?? ''} ${serviceOf(alert.labels)}`,
    120,
  );
}

export interface RobotMessage {
  title: string;
  text: string;
  /** Per job taken into this message: the alert index it reaches (exclusive). */
  parts: { job: Job; upto: number }[];
}

/**
 * Builds one message from the jobs' undelivered alerts, in order, until `budget(text)` would be
 * exceeded. What is left is counted in a closing "… and N more" line and sent next time.
 * `cost` measures a piece of text as the channel counts it (bytes, or bytes once JSON-escaped).
 */
export function buildRobotMessage(
  jobs: Job[],
  opts: RenderOptions,
  maxBytes: number,
  cost: (s: string) => number,
  suffix = '',
): RobotMessage {
  const t = T[opts.language];
  const title = messageTitle(jobs, opts);
  const total = jobs.reduce((n, j) => n + (j.alerts.length - j.progress), 0);
  // Room for the "more" line, the suffix (mentions) and a small margin.
  const reserve = cost(`\n${t.more(total)}\n`) + cost(suffix) + 16;
  let text = '';
  let used = 0;
  let included = 0;
  const parts: RobotMessage['parts'] = [];
  outer: for (const job of jobs) {
    let upto = job.progress;
    const header = groupHeader(job, opts, job.alerts.length);
    const headerCost = cost(header);
    let headerDone = false;
    while (upto < job.alerts.length) {
      const block = alertBlock(job.alerts[upto]!, opts) + '\n';
      const need = cost(block) + (headerDone ? 0 : headerCost);
      if (used + need + reserve > maxBytes) {
        if (included > 0) {
          if (upto > job.progress) parts.push({ job, upto });
          break outer;
        }
        // Not even one alert fits (cannot happen with the field caps, but never drop): cut it.
        const room = Math.max(64, maxBytes - reserve - used - headerCost);
        const cut = truncateBytes(block, Math.floor(room / 2));
        text += (headerDone ? '' : header) + cut + '\n';
        used += cost(cut) + (headerDone ? 0 : headerCost);
      } else {
        text += (headerDone ? '' : header) + block;
        used += need;
      }
      headerDone = true;
      upto++;
      included++;
    }
    if (upto > job.progress) parts.push({ job, upto });
    if (upto === job.alerts.length && job.truncatedAlerts > 0) {
      const note = t.truncated(job.truncatedAlerts) + '\n';
      text += note;
      used += cost(note);
    }
  }
  const remaining = total - included;
  if (remaining > 0) text += `\n${t.more(remaining)}\n`;
  text += suffix;
  return { title, text, parts };
}

/** Short template variables for SMS and voice (Alibaba Cloud limits each one's length). */
export function phoneParams(job: Job, language: Language, maxChars = 20): Record<string, string> {
  const t = T[language];
  const first = job.alerts[0];
  const firing = job.alerts.filter((a) => a.status === 'firing').length;
  const labels = { ...job.commonLabels, ...job.groupLabels, ...(first?.labels ?? {}) };
  const params = {
    alert: labels.alertname ?? 'alert',
    service: serviceOf(labels),
    severity: labels.severity ?? '-',
    status: firing > 0 ? t.firing : t.resolved,
    count: String(job.alerts.length),
  };
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(params)) out[k] = truncateChars(v, maxChars);
  return out;
}
