// Release notices and their wire formats: generic JSON (the notice itself),
// the DingTalk custom robot's markdown message and the WeCom group robot's
// markdown message. Robot messages are cut to the robots' size limits.

export interface NoticeCheck {
  name: string;
  verdict: string;
  canary: string;
  baseline: string;
  statistic: string;
  threshold: string;
}

export interface ReleaseNotice {
  service: string;
  namespace: string;
  revision?: number;
  strategy: string;
  /** started, step, decision, paused, resumed, promoted, aborted, failed, ... */
  event: string;
  step?: number;
  steps?: number;
  canaryPercent?: number;
  verdict?: string;
  summary: string;
  checks?: NoticeCheck[];
  /** ISO 8601 time of the event. */
  at: string;
}

export interface WebhookTarget {
  url: string;
  format: 'json' | 'dingtalk' | 'wecom';
  /** DingTalk robots with signing on: the secret (SEC...) that signs each request. */
  secret?: string;
}

/** DingTalk rejects request bodies over 20000 bytes. */
export const DINGTALK_MAX_BODY_BYTES = 20_000;
/** WeCom rejects markdown.content over 4096 bytes of UTF-8 (errcode 40058). */
export const WECOM_MAX_CONTENT_BYTES = 4096;

const TRUNCATED = '\n\n…(truncated)';
const BAD_EVENTS = new Set(['aborted', 'failed']);

/** The request body a target of `format` expects for notice `n`. */
export function formatNotice(n: ReleaseNotice, format: WebhookTarget['format']): unknown {
  switch (format) {
    case 'json':
      return n;
    case 'dingtalk':
      return dingtalk(n);
    case 'wecom':
      return wecom(n);
  }
}

function headline(n: ReleaseNotice): string {
  return `gantry release ${n.namespace}/${n.service}: ${n.event}`;
}

function facts(n: ReleaseNotice): string[] {
  const out = [`strategy ${n.strategy}`];
  if (n.revision !== undefined) out.push(`revision ${n.revision}`);
  if (n.step !== undefined) out.push(`step ${n.step}${n.steps !== undefined ? `/${n.steps}` : ''}`);
  if (n.canaryPercent !== undefined) out.push(`canary ${Number(n.canaryPercent.toFixed(2))}%`);
  if (n.verdict !== undefined) out.push(`verdict ${n.verdict}`);
  return out;
}

function checkLine(c: NoticeCheck): string {
  return (
    `**${c.name}** ${c.verdict}: canary ${c.canary} vs baseline ${c.baseline}; ` +
    `${c.statistic} (threshold ${c.threshold})`
  );
}

/** Markdown for a DingTalk robot: headings, bold and lists are rendered. */
function dingtalk(n: ReleaseNotice): unknown {
  const title = truncateBytes(headline(n), 256);
  const lines = [
    `#### ${title}`,
    '',
    facts(n).join(' · '),
    '',
    `> ${oneLine(n.summary)}`,
    '',
    ...(n.checks ?? []).map((c) => `- ${checkLine(c)}`),
    '',
    `at ${n.at}`,
  ];
  const text = lines.join('\n');
  const body = (t: string) => ({ msgtype: 'markdown', markdown: { title, text: t } });
  // The limit is on the whole body as sent (JSON, UTF-8): keep the longest text that fits.
  const fits = (limit: number) =>
    Buffer.byteLength(JSON.stringify(body(truncateBytes(text, limit)))) <= DINGTALK_MAX_BODY_BYTES;
  let lo = 0;
  let hi = Buffer.byteLength(text);
  if (fits(hi)) return body(text);
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (fits(mid)) lo = mid;
    else hi = mid;
  }
  return body(truncateBytes(text, lo));
}

/**
 * Markdown for a WeCom group robot ("markdown" type): headings, bold, quotes
 * and three font colours, no lists.
 */
function wecom(n: ReleaseNotice): unknown {
  const color = BAD_EVENTS.has(n.event) ? 'warning' : n.event === 'promoted' ? 'info' : 'comment';
  const lines = [
    `### gantry release ${n.namespace}/${n.service}: <font color="${color}">${n.event}</font>`,
    `> ${facts(n).join(' · ')}`,
    '',
    oneLine(n.summary),
    ...(n.checks ?? []).map((c) => `> ${checkLine(c)}`),
    `<font color="comment">at ${n.at}</font>`,
  ];
  return {
    msgtype: 'markdown',
    markdown: { content: truncateBytes(lines.join('\n'), WECOM_MAX_CONTENT_BYTES) },
  };
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}

/** `s` cut to at most `max` bytes of UTF-8 (on a character boundary), marked when cut. */
export function truncateBytes(s: string, max: number): string {
  if (Buffer.byteLength(s) <= max) return s;
  const room = Math.max(0, max - Buffer.byteLength(TRUNCATED));
  let out = '';
  let used = 0;
  for (const ch of s) {
    const b = Buffer.byteLength(ch);
    if (used + b > room) break;
    out += ch;
    used += b;
  }
  return out + TRUNCATED;
}
