// DingTalk and WeCom group robots: request bodies, per-attempt DingTalk signing, answers.
import { createHmac } from 'node:crypto';
import type { DingTalkChannel, WeComChannel } from '../config.js';
import type { Outcome } from './http.js';
import { classify, request } from './http.js';

export const DINGTALK_MAX_BODY = 20_000;
export const WECOM_MAX_MARKDOWN = 4096;
export const WECOM_MAX_TEXT = 2048;

/** sign = base64(HMAC-SHA256(secret, timestamp + "\n" + secret)). */
export function dingtalkSign(secret: string, timestampMs: number): string {
  return createHmac('sha256', secret).update(`${timestampMs}\n${secret}`).digest('base64');
}

/** The robot URL with this attempt's timestamp and sign (when the robot has a secret). */
export function dingtalkSignedUrl(ch: DingTalkChannel, now: number): string {
  if (!ch.secret) return ch.url;
  const u = new URL(ch.url);
  u.searchParams.set('timestamp', String(now));
  u.searchParams.set('sign', dingtalkSign(ch.secret, now));
  return u.toString();
}

export function dingtalkMentions(ch: DingTalkChannel): string {
  return ch.atMobiles.length > 0 ? `\n${ch.atMobiles.map((m) => `@${m}`).join(' ')}` : '';
}

export function dingtalkBody(ch: DingTalkChannel, title: string, text: string): string {
  return JSON.stringify({
    msgtype: 'markdown',
    markdown: { title, text },
    at: { atMobiles: ch.atMobiles, isAtAll: ch.atAll },
  });
}

/** JSON overhead of a DingTalk body around its text, so the text budget keeps the body ≤ 20,000 B. */
export function dingtalkOverhead(ch: DingTalkChannel, title: string): number {
  return Buffer.byteLength(dingtalkBody(ch, title, ''), 'utf8');
}

function errcodeOutcome(body: unknown, rateCodes: number[]): Outcome {
  const b = body as { errcode?: unknown; errmsg?: unknown };
  const code = typeof b.errcode === 'number' ? b.errcode : Number(b.errcode);
  if (code === 0) return { ok: true };
  const msg = typeof b.errmsg === 'string' ? b.errmsg.slice(0, 200) : '';
  return {
    ok: false,
    retryable: true,
    reason: `errcode ${Number.isFinite(code) ? code : '?'}${msg ? ` (${msg})` : ''}`,
    rateLimited: rateCodes.includes(code),
  };
}

export async function sendDingTalk(
  ch: DingTalkChannel,
  title: string,
  text: string,
  timeoutMs: number,
): Promise<Outcome> {
  const res = await request(dingtalkSignedUrl(ch, Date.now()), {
    method: 'POST',
    body: dingtalkBody(ch, title, text),
    timeoutMs,
  });
  return classify(res, (b) => errcodeOutcome(b, [130101]));
}

export function wecomBody(ch: WeComChannel, text: string): string {
  if (ch.mentionedMobiles.length > 0) {
    // Only text messages carry mentions by mobile number; their limit is 2048 bytes.
    return JSON.stringify({
      msgtype: 'text',
      text: { content: text, mentioned_mobile_list: ch.mentionedMobiles },
    });
  }
  return JSON.stringify({ msgtype: 'markdown', markdown: { content: text } });
}

export function wecomLimit(ch: WeComChannel): number {
  return ch.mentionedMobiles.length > 0 ? WECOM_MAX_TEXT : WECOM_MAX_MARKDOWN;
}

export async function sendWeCom(
  ch: WeComChannel,
  text: string,
  timeoutMs: number,
): Promise<Outcome> {
  const res = await request(ch.url, { method: 'POST', body: wecomBody(ch, text), timeoutMs });
  return classify(res, (b) => errcodeOutcome(b, [45009]));
}
