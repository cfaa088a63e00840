// Real receivers on loopback for the Alertmanager tests: an SMTP server (nodemailer's
// smtp-server, mail parsed by mailparser) and an HTTP server taking Alertmanager's webhook
// payloads, each recording what it got.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface Mail {
  subject: string;
  to: string;
  text: string;
}

export interface Mailbox {
  port: number;
  mails: Mail[];
  /** Usernames that logged in (with the password asked for). */
  logins: string[];
  close(): Promise<void>;
}

/** An SMTP server on 127.0.0.1; with `auth`, only that user and password may send. */
export async function startMailbox(auth?: { user: string; password: string }): Promise<Mailbox> {
  const mails: Mail[] = [];
  const logins: string[] = [];
  const server = new SMTPServer({
    ...(auth
      ? {
          authMethods: ['PLAIN', 'LOGIN'],
          allowInsecureAuth: true,
          disabledCommands: ['STARTTLS'],
          onAuth(a, _session, cb) {
            if (a.username === auth.user && a.password === auth.password) {
              logins.push(a.username ?? '');
              cb(null, { user: a.username });
            } else cb(new Error('invalid credentials'));
          },
        }
      : { authOptional: true, disabledCommands: ['STARTTLS', 'AUTH'] }),
    logger: false,
    onData(stream, _session, cb) {
      simpleParser(stream)
        .then((m) => {
          const to = Array.isArray(m.to) ? m.to.map((x) => x.text).join(',') : (m.to?.text ?? '');
          mails.push({ subject: m.subject ?? '', to, text: m.text ?? '' });
          cb();
        })
        .catch((err: Error) => cb(err));
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.server.address() as AddressInfo).port,
    mails,
    logins,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** One webhook request: its path and the payload (Alertmanager's version 4). */
export interface HookPost {
  path: string;
  status: string;
  alerts: { status?: string; labels: Record<string, string> }[];
}

export interface HookServer {
  port: number;
  posts: HookPost[];
  close(): Promise<void>;
}

/** An HTTP server on 127.0.0.1 recording webhook payloads; `answer(path)` is the status sent back. */
export async function startHookServer(
  answer: (path: string) => number = () => 200,
): Promise<HookServer> {
  const posts: HookPost[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const p = JSON.parse(body || '{}') as Partial<HookPost>;
      posts.push({ path: req.url ?? '', status: p.status ?? '', alerts: p.alerts ?? [] });
      const code = answer(req.url ?? '');
      res.statusCode = code;
      res.end(code < 300 ? 'ok' : 'refused on purpose');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    posts,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** One message a WeCom stand-in received: the robot key and the message text. */
export interface WeComMessage {
  key: string;
  text: string;
}

export interface WeComStandIn {
  /** http://HOST:PORT, the base of the robot URLs. */
  url: string;
  received: WeComMessage[];
  close(): Promise<void>;
}

/**
 * A WeCom group robot as the relay sees it, on `host` (the node address, so pods reach it):
 * POST /cgi-bin/webhook/send?key=KEY with JSON {msgtype, markdown|text}, answered
 * {"errcode":0} for the given keys and errcode 93000 for any other. Every POST to that
 * path is recorded.
 */
export async function startWeComStandIn(
  host: string,
  keys: readonly string[],
): Promise<WeComStandIn> {
  const received: WeComMessage[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const key = url.searchParams.get('key') ?? '';
      let text = '';
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
          markdown?: { content?: string };
          text?: { content?: string };
        };
        text = body.markdown?.content ?? body.text?.content ?? '';
      } catch {
        /* recorded with no text */
      }
      const ok = req.method === 'POST' && url.pathname === '/cgi-bin/webhook/send';
      if (ok) received.push({ key, text });
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify(
          ok && keys.includes(key) ? { errcode: 0, errmsg: 'ok' } : { errcode: 93000 },
        ),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  return {
    url: `http://${host}:${(server.address() as AddressInfo).port}`,
    received,
    close: () => new Promise((r) => server.close(() => r())),
  };
}
