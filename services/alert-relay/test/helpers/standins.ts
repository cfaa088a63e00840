// Loopback stand-ins for the third-party endpoints, checking what the real services check:
//   DingTalk robot  POST /robot/send?access_token=&timestamp=&sign=   signature, timestamp ±1 h,
//                   20 messages per window per robot (errcode 130101), body ≤ 20,000 B (460101)
//   WeCom robot     POST /cgi-bin/webhook/send?key=                    key (93000), 20 per window
//                   (45009), markdown ≤ 4096 B / text ≤ 2048 B (40058)
//   Alibaba Cloud   GET /?Action=SendSms|SingleCallByTts&…             RPC signature recomputed
//                   from the raw query, required parameters, nonce reuse, timestamp skew
// plus a flaky mode: the next N requests answer 500 (echoing the request URL, as careless servers
// do, so the relay's scrubbing is exercised) or never answer (timeouts).
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface RobotBody {
  msgtype?: string;
  markdown?: { title?: string; text?: string; content?: string };
  text?: { content?: string; mentioned_mobile_list?: string[] };
  at?: { atMobiles?: string[]; isAtAll?: boolean };
}
export interface RobotMessage {
  robot: string;
  at: number;
  body: RobotBody;
  text: string;
}
export interface PhoneRequest {
  action: string;
  params: Record<string, string>;
  at: number;
}

/** Alibaba's percent-encoding, written independently of the relay's (the server side). */
function enc(s: string): string {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-_.~]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export function aliyunServerSignature(params: Map<string, string>, secret: string): string {
  const canonical = [...params.keys()]
    .filter((k) => k !== 'Signature')
    .sort()
    .map((k) => `${enc(k)}=${enc(params.get(k)!)}`)
    .join('&');
  return createHmac('sha1', `${secret}&`)
    .update(`GET&${enc('/')}&${enc(canonical)}`)
    .digest('base64');
}

export class StandIns {
  readonly dingtalk = new Map<string, string | undefined>(); // token → signing secret
  readonly wecomKeys = new Set<string>();
  readonly aliyunKeys = new Map<string, string>(); // AccessKeyId → secret
  readonly messages: RobotMessage[] = [];
  readonly phone: PhoneRequest[] = [];
  readonly rejections: { robot: string; code: number | string }[] = [];
  readonly sends = new Map<string, number[]>(); // robot → arrival times of accepted messages
  /** Every request that arrived, including failed ones. */
  requests = 0;
  fail500 = 0;
  hang = 0;
  /** Delay before each answer (a slow far end keeps work queued). */
  delayMs = 0;
  windowMs = 60_000;
  limit = 20;
  private readonly nonces = new Set<string>();
  private readonly sockets = new Set<Socket>();
  private server: Server | undefined;
  url = '';

  /** Listens on `host` (127.0.0.1; the node address when pods of the local cluster must reach it). */
  async start(host = '127.0.0.1'): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (this.delayMs > 0)
          setTimeout(() => this.handle(req, res, Buffer.concat(chunks)), this.delayMs);
        else this.handle(req, res, Buffer.concat(chunks));
      });
    });
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((r) => this.server!.listen(0, host, r));
    this.url = `http://${host}:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server?.close(() => r()) ?? r());
  }

  /** The largest number of accepted messages any robot got within one window. */
  maxPerWindow(robot: string): number {
    const t = this.sends.get(robot) ?? [];
    let max = 0;
    for (let i = 0, j = 0; i < t.length; i++) {
      while (t[i]! - t[j]! >= this.windowMs) j++;
      max = Math.max(max, i - j + 1);
    }
    return max;
  }

  private json(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  private rateOk(robot: string, now: number): boolean {
    const t = (this.sends.get(robot) ?? []).filter((x) => now - x < this.windowMs);
    return t.length < this.limit;
  }

  private accepted(robot: string, now: number): void {
    const t = this.sends.get(robot) ?? [];
    t.push(now);
    this.sends.set(robot, t);
  }

  private handle(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
    this.requests++;
    const now = Date.now();
    const u = new URL(req.url ?? '/', 'http://x');
    if (this.hang > 0) {
      this.hang--;
      return; // never answer
    }
    if (this.fail500 > 0) {
      this.fail500--;
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`internal error handling ${req.url}`);
      return;
    }
    if (req.method === 'POST' && u.pathname === '/robot/send') {
      const token = u.searchParams.get('access_token') ?? '';
      if (!this.dingtalk.has(token))
        return this.json(res, 200, { errcode: 300001, errmsg: 'token is not exist' });
      const secret = this.dingtalk.get(token);
      if (secret !== undefined) {
        const ts = Number(u.searchParams.get('timestamp'));
        const sign = u.searchParams.get('sign') ?? '';
        if (!Number.isFinite(ts) || Math.abs(now - ts) > 3600_000) {
          this.rejections.push({ robot: token, code: 310000 });
          return this.json(res, 200, { errcode: 310000, errmsg: 'invalid timestamp' });
        }
        const want = createHmac('sha256', secret).update(`${ts}\n${secret}`).digest('base64');
        if (sign !== want) {
          this.rejections.push({ robot: token, code: 310000 });
          return this.json(res, 200, { errcode: 310000, errmsg: 'sign not match' });
        }
      }
      if (body.length > 20_000) {
        this.rejections.push({ robot: token, code: 460101 });
        return this.json(res, 200, { errcode: 460101, errmsg: 'message too long' });
      }
      if (!this.rateOk(token, now)) {
        this.rejections.push({ robot: token, code: 130101 });
        return this.json(res, 200, { errcode: 130101, errmsg: 'send too fast' });
      }
      const parsed = JSON.parse(body.toString('utf8')) as RobotBody;
      this.accepted(token, now);
      this.messages.push({
        robot: token,
        at: now,
        body: parsed,
        text: String(parsed.markdown?.text ?? parsed.text?.content ?? ''),
      });
      return this.json(res, 200, { errcode: 0, errmsg: 'ok' });
    }
    if (req.method === 'POST' && u.pathname === '/cgi-bin/webhook/send') {
      const key = u.searchParams.get('key') ?? '';
      if (!this.wecomKeys.has(key))
        return this.json(res, 200, {
          errcode: 93000,
          errmsg: `invalid webhook url, hint: [key ${key}]`,
        });
      const parsed = JSON.parse(body.toString('utf8')) as RobotBody;
      const text = String(parsed.markdown?.content ?? parsed.text?.content ?? '');
      const max = parsed.msgtype === 'markdown' ? 4096 : 2048;
      if (Buffer.byteLength(text) > max) {
        this.rejections.push({ robot: key, code: 40058 });
        return this.json(res, 200, { errcode: 40058, errmsg: 'content exceed max length' });
      }
      if (!this.rateOk(key, now)) {
        this.rejections.push({ robot: key, code: 45009 });
        return this.json(res, 200, { errcode: 45009, errmsg: 'api freq out of limit' });
      }
      this.accepted(key, now);
      this.messages.push({ robot: key, at: now, body: parsed, text });
      return this.json(res, 200, { errcode: 0, errmsg: 'ok' });
    }
    if (req.method === 'GET' && u.pathname === '/') {
      // Parse the raw query ourselves: every name and value exactly as sent.
      const params = new Map<string, string>();
      for (const pair of (req.url ?? '').split('?')[1]?.split('&') ?? []) {
        const i = pair.indexOf('=');
        params.set(decodeURIComponent(pair.slice(0, i)), decodeURIComponent(pair.slice(i + 1)));
      }
      const fail = (status: number, Code: string) => {
        this.rejections.push({ robot: 'aliyun', code: Code });
        this.json(res, status, { Code, Message: Code });
      };
      const secret = this.aliyunKeys.get(params.get('AccessKeyId') ?? '');
      if (secret === undefined) return fail(404, 'InvalidAccessKeyId.NotFound');
      const common = [
        'Action',
        'Format',
        'RegionId',
        'SignatureMethod',
        'SignatureNonce',
        'SignatureVersion',
        'Timestamp',
        'Version',
        'Signature',
      ];
      for (const p of common) if (!params.get(p)) return fail(400, `MissingParameter.${p}`);
      if (params.get('SignatureMethod') !== 'HMAC-SHA1' || params.get('SignatureVersion') !== '1.0')
        return fail(400, 'InvalidSignatureMethod');
      if (params.get('Version') !== '2017-05-25') return fail(400, 'InvalidVersion');
      if (
        !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(params.get('Timestamp')!) ||
        Math.abs(Date.parse(params.get('Timestamp')!) - now) > 15 * 60_000
      )
        return fail(400, 'InvalidTimeStamp.Expired');
      if (this.nonces.has(params.get('SignatureNonce')!)) return fail(400, 'SignatureNonceUsed');
      if (aliyunServerSignature(params, secret) !== params.get('Signature'))
        return fail(400, 'SignatureDoesNotMatch');
      this.nonces.add(params.get('SignatureNonce')!);
      const action = params.get('Action')!;
      const required =
        action === 'SendSms'
          ? ['PhoneNumbers', 'SignName', 'TemplateCode']
          : action === 'SingleCallByTts'
            ? ['CalledNumber', 'CalledShowNumber', 'TtsCode']
            : undefined;
      if (!required) return fail(400, 'InvalidAction.NotFound');
      for (const p of required) if (!params.get(p)) return fail(400, `isv.INVALID_PARAMETERS`);
      const tp = params.get(action === 'SendSms' ? 'TemplateParam' : 'TtsParam');
      if (tp !== undefined) {
        const vars = JSON.parse(tp) as Record<string, string>;
        if (Object.values(vars).some((v) => [...v].length > 20))
          return fail(200, 'isv.PARAM_LENGTH_LIMIT');
      }
      this.phone.push({ action, params: Object.fromEntries(params), at: now });
      return this.json(
        res,
        200,
        action === 'SendSms'
          ? {
              Code: 'OK',
              Message: 'OK',
              RequestId: `r${this.phone.length}`,
              BizId: `b${this.phone.length}`,
            }
          : {
              Code: 'OK',
              Message: 'OK',
              RequestId: `r${this.phone.length}`,
              CallId: `c${this.phone.length}`,
            },
      );
    }
    this.json(res, 404, { error: 'no such stand-in' });
  }
}
