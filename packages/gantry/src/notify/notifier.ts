// Webhook delivery: every target in parallel, each with a timeout and a few
// retries on failures that may pass (network errors, timeouts, 429 and 5xx).
// A notice that cannot be delivered is reported through onError and never
// fails the release. Robot URLs carry access tokens: messages name targets
// by their redacted URL only.
import { createHmac } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { formatNotice } from './format.js';
import type { ReleaseNotice, WebhookTarget } from './format.js';

export interface NotifierOptions {
  /** Per attempt. Default 5000 ms. */
  timeoutMs?: number;
  /** Further attempts after a failure that may pass. Default 2. */
  retries?: number;
  /** Called once per target that could not be notified. Default: a process warning. */
  onError?: (msg: string) => void;
}

const RETRY_BASE_MS = 250;

/** Sends release notices to webhook targets. */
export class Notifier {
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly onError: (msg: string) => void;

  constructor(
    private readonly targets: readonly WebhookTarget[],
    opts: NotifierOptions = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.retries = Math.max(0, Math.floor(opts.retries ?? 2));
    this.onError =
      opts.onError ?? ((msg) => process.emitWarning(msg, { code: 'GANTRY_NOTIFY_FAILED' }));
  }

  /** Delivers `n` to every target. Never throws. */
  async send(n: ReleaseNotice): Promise<void> {
    await Promise.all(
      this.targets.map(async (t) => {
        try {
          await this.deliver(t, n);
        } catch (err) {
          try {
            this.onError(scrub(t, err instanceof Error ? err.message : String(err)));
          } catch {
            // A failing error handler must not fail the release either.
          }
        }
      }),
    );
  }

  private async deliver(t: WebhookTarget, n: ReleaseNotice): Promise<void> {
    const where = redactUrl(t.url);
    if (!URL.canParse(t.url)) throw new Error(`${where}: not a valid URL`);
    const body = JSON.stringify(formatNotice(n, t.format));
    let last = '';
    for (let attempt = 0; attempt <= this.retries; attempt++) {
      if (attempt > 0) await sleep(RETRY_BASE_MS * 2 ** (attempt - 1));
      // A signature holds for an hour from its timestamp: a new one for every attempt.
      const url = t.secret ? dingtalkSigned(t.url, t.secret, Date.now()) : t.url;
      const r = await post(url, body, this.timeoutMs);
      if (r.ok) {
        const refused = robotRefusal(t.format, r.text);
        if (refused) throw new Error(`${where}: the robot refused the message: ${refused}`);
        return;
      }
      last = r.error;
      if (!r.retry) break;
    }
    const tries = this.retries > 0 ? ` (after ${this.retries + 1} attempts)` : '';
    throw new Error(`${where}: ${last}${tries}`);
  }
}

/**
 * A DingTalk robot URL with the signature its "sign" security setting asks for:
 * timestamp (ms) and sign = base64(HMAC-SHA256(secret, timestamp + "\n" + secret)).
 */
export function dingtalkSigned(url: string, secret: string, timestampMs: number): string {
  const sign = createHmac('sha256', secret).update(`${timestampMs}\n${secret}`).digest('base64');
  const u = new URL(url);
  u.searchParams.set('timestamp', String(timestampMs));
  u.searchParams.set('sign', sign);
  return u.toString();
}

type PostResult = { ok: true; text: string } | { ok: false; retry: boolean; error: string };

async function post(url: string, body: string, timeoutMs: number): Promise<PostResult> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body,
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'error',
    });
  } catch (err) {
    return { ok: false, retry: true, error: networkError(err, timeoutMs) };
  }
  let text = '';
  try {
    text = await res.text();
  } catch (err) {
    return { ok: false, retry: true, error: networkError(err, timeoutMs) };
  }
  if (res.ok) return { ok: true, text };
  return {
    ok: false,
    retry: res.status === 429 || res.status >= 500,
    error: `HTTP ${res.status}${text.trim() ? `: ${text.trim().slice(0, 200)}` : ''}`,
  };
}

function networkError(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') {
    return `no answer within ${timeoutMs} ms`;
  }
  const cause = e.cause;
  if (cause?.code) return `${cause.code}${cause.message ? ` (${cause.message})` : ''}`;
  return e.message ?? String(err);
}

/** DingTalk and WeCom answer HTTP 200 with a non-zero errcode when they refuse a message. */
function robotRefusal(format: WebhookTarget['format'], text: string): string | undefined {
  if (format === 'json') return undefined;
  let reply: { errcode?: unknown; errmsg?: unknown };
  try {
    reply = JSON.parse(text) as { errcode?: unknown; errmsg?: unknown };
  } catch {
    return undefined;
  }
  if (reply.errcode === undefined || reply.errcode === 0) return undefined;
  return `errcode ${JSON.stringify(reply.errcode)}: ${typeof reply.errmsg === 'string' ? reply.errmsg : ''}`;
}

const SECRETISH = /^[A-Za-z0-9_-]{16,}$/;

/**
 * A URL safe to print: the user info, every query value, the fragment and any
 * path segment that looks like a token (16+ URL-safe characters) become ***.
 */
export function redactUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return '<invalid URL>';
  }
  const auth = u.username || u.password ? '***@' : '';
  const path = u.pathname
    .split('/')
    .map((seg) => (SECRETISH.test(seg) ? '***' : seg))
    .join('/');
  const query = [...u.searchParams.keys()].map((k) => `${encodeURIComponent(k)}=***`).join('&');
  return `${u.protocol}//${auth}${u.host}${path}${query ? `?${query}` : ''}${u.hash ? '#***' : ''}`;
}

/**
 * Removes a target's URL, the secret parts of it and its signing secret from a message
 * (an echoing server, say).
 */
function scrub(t: WebhookTarget, msg: string): string {
  let out = msg.split(t.url).join(redactUrl(t.url));
  let u: URL | undefined;
  try {
    u = new URL(t.url);
  } catch {
    u = undefined;
  }
  const secrets = [
    ...(t.secret ? [t.secret] : []),
    ...(u
      ? [
          ...u.searchParams.values(),
          u.username,
          u.password,
          u.hash.slice(1),
          ...u.pathname.split('/').filter((s) => SECRETISH.test(s)),
        ].filter((s) => s.length >= 4)
      : []),
  ];
  for (const s of secrets) {
    out = out.split(s).join('***');
    const enc = encodeURIComponent(s);
    if (enc !== s) out = out.split(enc).join('***');
  }
  return out;
}
