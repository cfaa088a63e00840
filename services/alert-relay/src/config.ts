// The channels file ($RELAY_CHANNELS): receiver key → language, channels, links. It is mounted
// from a Kubernetes Secret, so it is re-read when its content changes (polled: Secret volume
// updates are symlink swaps that file watchers miss). Problems name the field, never the value.
// $RELAY_CHANNELS may also name a directory: every *.json file in it (one per service, as
// `gantry alerts apply` writes them into the Secret alert-relay-channels) is merged.
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { RECEIVER_KEY } from './payload.js';

export type Language = 'zh' | 'en';

export interface DingTalkChannel {
  kind: 'dingtalk';
  url: string;
  secret?: string;
  atMobiles: string[];
  atAll: boolean;
}
export interface WeComChannel {
  kind: 'wecom';
  url: string;
  mentionedMobiles: string[];
}
export interface SmsChannel {
  kind: 'sms';
  provider: 'aliyun';
  endpoint: string;
  accessKeyId: string;
  accessKeySecret: string;
  signName: string;
  templateCode: string;
  phoneNumbers: string[];
}
export interface VoiceChannel {
  kind: 'voice';
  provider: 'aliyun';
  endpoint: string;
  accessKeyId: string;
  accessKeySecret: string;
  calledShowNumber: string;
  ttsCode: string;
  calledNumbers: string[];
}
export type Channel = DingTalkChannel | WeComChannel | SmsChannel | VoiceChannel;
export type ChannelKind = Channel['kind'];
export const CHANNEL_KINDS: readonly ChannelKind[] = ['dingtalk', 'wecom', 'sms', 'voice'];

export interface ReceiverConfig {
  language: Language;
  channels: Channel[];
  links: { console?: string; prometheus?: string };
}

export interface ChannelsConfig {
  receivers: Map<string, ReceiverConfig>;
  /** Every credential in the file, for the log scrubber. */
  secrets: string[];
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid channels file: ${problems.slice(0, 5).join('; ')}`);
  }
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function httpUrl(v: unknown, at: string, problems: string[]): string {
  if (typeof v !== 'string') {
    problems.push(`${at}: must be a string`);
    return '';
  }
  try {
    const u = new URL(v);
    if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error('scheme');
  } catch {
    problems.push(`${at}: must be an http(s) URL`);
  }
  return v;
}

function nonEmpty(v: unknown, at: string, problems: string[]): string {
  if (typeof v === 'string' && v.trim() !== '') return v;
  problems.push(`${at}: must be a non-empty string`);
  return '';
}

function strList(v: unknown, at: string, problems: string[], required: boolean): string[] {
  if (v === undefined && !required) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string' || x === '')) {
    problems.push(`${at}: must be a list of non-empty strings`);
    return [];
  }
  if (required && v.length === 0) problems.push(`${at}: must not be empty`);
  return v as string[];
}

function parseChannel(
  c: unknown,
  at: string,
  problems: string[],
  secrets: string[],
): Channel | undefined {
  if (!isObj(c)) {
    problems.push(`${at}: must be an object`);
    return undefined;
  }
  switch (c.kind) {
    case 'dingtalk': {
      const url = httpUrl(c.url, `${at}.url`, problems);
      secrets.push(url, ...queryCredentials(url));
      let secret: string | undefined;
      if (c.secret !== undefined) {
        secret = nonEmpty(c.secret, `${at}.secret`, problems);
        secrets.push(secret);
      }
      if (c.atAll !== undefined && typeof c.atAll !== 'boolean')
        problems.push(`${at}.atAll: must be a boolean`);
      return {
        kind: 'dingtalk',
        url,
        ...(secret !== undefined ? { secret } : {}),
        atMobiles: strList(c.atMobiles, `${at}.atMobiles`, problems, false),
        atAll: c.atAll === true,
      };
    }
    case 'wecom': {
      const url = httpUrl(c.url, `${at}.url`, problems);
      secrets.push(url, ...queryCredentials(url));
      return {
        kind: 'wecom',
        url,
        mentionedMobiles: strList(c.mentionedMobiles, `${at}.mentionedMobiles`, problems, false),
      };
    }
    case 'sms':
    case 'voice': {
      if (c.provider !== 'aliyun') problems.push(`${at}.provider: must be "aliyun"`);
      const common = {
        provider: 'aliyun' as const,
        endpoint: httpUrl(c.endpoint, `${at}.endpoint`, problems),
        accessKeyId: nonEmpty(c.accessKeyId, `${at}.accessKeyId`, problems),
        accessKeySecret: nonEmpty(c.accessKeySecret, `${at}.accessKeySecret`, problems),
      };
      secrets.push(common.accessKeyId, common.accessKeySecret);
      if (c.kind === 'sms') {
        return {
          kind: 'sms',
          ...common,
          signName: nonEmpty(c.signName, `${at}.signName`, problems),
          templateCode: nonEmpty(c.templateCode, `${at}.templateCode`, problems),
          phoneNumbers: strList(c.phoneNumbers, `${at}.phoneNumbers`, problems, true),
        };
      }
      return {
        kind: 'voice',
        ...common,
        calledShowNumber: nonEmpty(c.calledShowNumber, `${at}.calledShowNumber`, problems),
        ttsCode: nonEmpty(c.ttsCode, `${at}.ttsCode`, problems),
        calledNumbers: strList(c.calledNumbers, `${at}.calledNumbers`, problems, true),
      };
    }
    default:
      problems.push(`${at}.kind: must be one of ${CHANNEL_KINDS.join(', ')}`);
      return undefined;
  }
}

function queryCredentials(url: string): string[] {
  try {
    const u = new URL(url);
    return [...u.searchParams.values()].filter((v) => v.length >= 4);
  } catch {
    return [];
  }
}

export function parseChannels(text: string): ChannelsConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ConfigError(['the file is not valid JSON']);
  }
  if (!isObj(raw)) throw new ConfigError(['the file must hold a JSON object of receivers']);
  const problems: string[] = [];
  const secrets: string[] = [];
  const receivers = new Map<string, ReceiverConfig>();
  for (const [key, r] of Object.entries(raw)) {
    const at = `receivers[${JSON.stringify(key)}]`;
    if (!RECEIVER_KEY.test(key)) {
      problems.push(`${at}: a receiver key is [a-z0-9.-]+`);
      continue;
    }
    if (!isObj(r)) {
      problems.push(`${at}: must be an object`);
      continue;
    }
    const language = r.language ?? 'zh';
    if (language !== 'zh' && language !== 'en')
      problems.push(`${at}.language: must be "zh" or "en"`);
    if (!Array.isArray(r.channels)) {
      problems.push(`${at}.channels: must be a list`);
      continue;
    }
    const channels: Channel[] = [];
    r.channels.forEach((c: unknown, i) => {
      const ch = parseChannel(c, `${at}.channels[${i}]`, problems, secrets);
      if (ch) channels.push(ch);
    });
    const links: ReceiverConfig['links'] = {};
    if (r.links !== undefined) {
      if (!isObj(r.links)) problems.push(`${at}.links: must be an object`);
      else {
        if (r.links.console !== undefined)
          links.console = httpUrl(r.links.console, `${at}.links.console`, problems);
        if (r.links.prometheus !== undefined)
          links.prometheus = httpUrl(r.links.prometheus, `${at}.links.prometheus`, problems);
      }
    }
    receivers.set(key, { language: language === 'en' ? 'en' : 'zh', channels, links });
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { receivers, secrets: secrets.filter((s) => s !== '') };
}

/** Polls the channels file; calls onChange with each new valid configuration. */
export class ChannelsFile {
  private hash = '';
  private timer: NodeJS.Timeout | undefined;
  current: ChannelsConfig | undefined;

  constructor(
    readonly path: string,
    private readonly onEvent: (
      e: { ok: true; config: ChannelsConfig } | { ok: false; problem: string },
    ) => void,
  ) {}

  /** Reads the file (or the directory's *.json files) now; returns whether a configuration is loaded. */
  check(): boolean {
    let text: string;
    try {
      text = readChannelsText(this.path);
    } catch (err) {
      if (err instanceof ConfigError) {
        const h = `invalid:${err.message}`;
        if (h !== this.hash) {
          this.hash = h;
          this.onEvent({ ok: false, problem: err.message });
        }
        return this.current !== undefined;
      }
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      const h = `unreadable:${code}`;
      if (h !== this.hash) {
        this.hash = h;
        this.onEvent({ ok: false, problem: `channels file cannot be read (${code})` });
      }
      return this.current !== undefined;
    }
    const h = createHash('sha256').update(text).digest('hex');
    if (h === this.hash) return this.current !== undefined;
    this.hash = h;
    try {
      this.current = parseChannels(text);
      this.onEvent({ ok: true, config: this.current });
    } catch (err) {
      const problem =
        err instanceof ConfigError ? err.message : 'channels file could not be parsed';
      this.onEvent({ ok: false, problem });
    }
    return this.current !== undefined;
  }

  start(intervalMs: number): void {
    this.check();
    this.timer = setInterval(() => this.check(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}

/**
 * The channels text at `path`: the file itself, or for a directory the *.json files in it
 * (hidden ones, such as a Secret volume's ..data links, skipped) merged into one object.
 */
export function readChannelsText(path: string): string {
  if (!statSync(path).isDirectory()) return readFileSync(path, 'utf8');
  const merged: Record<string, unknown> = {};
  const files = readdirSync(path)
    .filter((f) => f.endsWith('.json') && !f.startsWith('.'))
    .sort();
  for (const f of files) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(join(path, f), 'utf8'));
    } catch {
      throw new ConfigError([`${f}: not valid JSON`]);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new ConfigError([`${f}: must be an object of receiver keys`]);
    }
    for (const [k, v] of Object.entries(parsed)) {
      if (k in merged) throw new ConfigError([`${f}: receiver ${k} is also in another file`]);
      merged[k] = v;
    }
  }
  return JSON.stringify(merged);
}
