// SMS and voice providers behind one interface; Alibaba Cloud (Dysmsapi SendSms, Dyvmsapi
// SingleCallByTts, 2017-05-25, RPC signature v1.0 with HMAC-SHA1) is the one implemented.
import { createHmac, randomUUID } from 'node:crypto';
import type { SmsChannel, VoiceChannel } from '../config.js';
import type { Outcome } from './http.js';
import { classify, request } from './http.js';

export interface PhoneProvider {
  /** One SMS to one number with the template's variables. */
  sendSms(
    ch: SmsChannel,
    phone: string,
    params: Record<string, string>,
    timeoutMs: number,
  ): Promise<Outcome>;
  /** One text-to-speech call to one number. */
  call(
    ch: VoiceChannel,
    phone: string,
    params: Record<string, string>,
    timeoutMs: number,
  ): Promise<Outcome>;
}

/** RFC 3986 percent-encoding as Alibaba Cloud signs it: only A-Z a-z 0-9 - _ . ~ stay as they are. */
export function percentEncode(s: string): string {
  return encodeURIComponent(s).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** The canonicalized query string: parameters sorted by name, names and values encoded. */
export function canonicalQuery(params: Record<string, string>): string {
  return Object.keys(params)
    .filter((k) => k !== 'Signature')
    .sort()
    .map((k) => `${percentEncode(k)}=${percentEncode(params[k]!)}`)
    .join('&');
}

/** Signature = base64(HMAC-SHA1(secret + "&", method + "&" + enc("/") + "&" + enc(canonical))). */
export function rpcSignature(
  method: string,
  params: Record<string, string>,
  accessKeySecret: string,
): string {
  const stringToSign = `${method}&${percentEncode('/')}&${percentEncode(canonicalQuery(params))}`;
  return createHmac('sha1', `${accessKeySecret}&`).update(stringToSign).digest('base64');
}

/** Common and action parameters plus Signature, ready for a GET query string. */
export function signedRpcQuery(
  action: string,
  accessKeyId: string,
  accessKeySecret: string,
  actionParams: Record<string, string>,
  now = new Date(),
  nonce = randomUUID(),
): string {
  const params: Record<string, string> = {
    AccessKeyId: accessKeyId,
    Action: action,
    Format: 'JSON',
    RegionId: 'cn-hangzhou',
    SignatureMethod: 'HMAC-SHA1',
    SignatureNonce: nonce,
    SignatureVersion: '1.0',
    Timestamp: now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    Version: '2017-05-25',
    ...actionParams,
  };
  const signature = rpcSignature('GET', params, accessKeySecret);
  return `Signature=${percentEncode(signature)}&${canonicalQuery(params)}`;
}

/** Codes that no retry can fix (bad template, signature name, number); others are retried. */
const PERMANENT = [
  'isv.SMS_TEMPLATE_ILLEGAL',
  'isv.SMS_SIGNATURE_ILLEGAL',
  'isv.MOBILE_NUMBER_ILLEGAL',
  'isv.TEMPLATE_MISSING_PARAMETERS',
  'isv.INVALID_PARAMETERS',
  'InvalidAccessKeyId.NotFound',
];

function aliyunOutcome(body: unknown): Outcome {
  const b = body as { Code?: unknown; Message?: unknown };
  if (b.Code === 'OK') return { ok: true };
  const code = typeof b.Code === 'string' ? b.Code.slice(0, 80) : '?';
  return {
    ok: false,
    retryable: !PERMANENT.includes(code),
    reason: `Code ${code}`,
    rateLimited: /LIMIT|Throttling/i.test(code),
  };
}

async function rpc(
  endpoint: string,
  action: string,
  ch: { accessKeyId: string; accessKeySecret: string },
  params: Record<string, string>,
  timeoutMs: number,
): Promise<Outcome> {
  const base = endpoint.replace(/\/+$/, '');
  const query = signedRpcQuery(action, ch.accessKeyId, ch.accessKeySecret, params);
  const res = await request(`${base}/?${query}`, { method: 'GET', timeoutMs });
  // Alibaba Cloud answers 4xx with a JSON Code for request errors: judge those by their Code.
  if (!('error' in res) && res.status >= 400 && res.status < 500) {
    try {
      return aliyunOutcome(JSON.parse(res.text));
    } catch {
      /* fall through */
    }
  }
  return classify(res, aliyunOutcome);
}

export const aliyun: PhoneProvider = {
  sendSms: (ch, phone, params, timeoutMs) =>
    rpc(
      ch.endpoint,
      'SendSms',
      ch,
      {
        PhoneNumbers: phone,
        SignName: ch.signName,
        TemplateCode: ch.templateCode,
        TemplateParam: JSON.stringify(params),
      },
      timeoutMs,
    ),
  call: (ch, phone, params, timeoutMs) =>
    rpc(
      ch.endpoint,
      'SingleCallByTts',
      ch,
      {
        CalledNumber: phone,
        CalledShowNumber: ch.calledShowNumber,
        TtsCode: ch.ttsCode,
        TtsParam: JSON.stringify(params),
      },
      timeoutMs,
    ),
};

export const PROVIDERS: Record<string, PhoneProvider> = { aliyun };
