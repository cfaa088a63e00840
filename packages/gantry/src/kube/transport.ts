// HTTPS to the API server: requests, JSON, and watch streams. Loads in
// milliseconds (the generated client library takes about a second), which
// every gantry command would otherwise pay.
//
// HTTP/2 when the server offers it (the API server does): every request and
// watch shares one connection, so the requests a deploy sends at once cost one
// TLS handshake instead of one each, and that connection is opened as soon as
// the transport is created. HTTP/1.1 with a kept-alive pool otherwise (plain
// http, or a server or proxy without h2).
import { Agent, request } from 'node:https';
import type { IncomingMessage } from 'node:http';
import { request as httpRequest, Agent as HttpAgent } from 'node:http';
import { connect as http2Connect, constants as h2 } from 'node:http2';
import type { ClientHttp2Session, ClientHttp2Stream } from 'node:http2';
import { isIP } from 'node:net';
import type { Readable } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import type { ConnectionOptions, TLSSocket } from 'node:tls';
import type { ClusterAccess } from './kubeconfig.js';
import { KubeApiError } from './errors.js';
import type { StatusInfo } from './errors.js';

export interface Transport {
  server: string;
  request(
    method: string,
    path: string,
    body?: unknown,
    contentType?: string,
  ): Promise<{ status: number; text: string }>;
  stream(path: string, onLine: (line: string) => void, onEnd: (err: unknown) => void): () => void;
}

/** What an exec plugin or auth provider gives: request headers (a token), or a client certificate. */
export interface PluginCredentials {
  headers: Record<string, string>;
  cert?: string | Buffer;
  key?: string | Buffer;
}

/**
 * Produces plugin credentials. The transport asks once and keeps them until the server
 * answers 401, then asks again with `fresh` set (do not return cached ones) and retries
 * that request once, as client-go does; a plugin run can take a second (cloud CLIs).
 */
export type CredentialSource = (fresh: boolean) => Promise<PluginCredentials>;

/** A response: its status and its body, still streaming. */
interface Exchange {
  status: number;
  body: Readable;
}

type Open = (
  method: string,
  path: string,
  headers: Record<string, string>,
  body: string | undefined,
) => Promise<Exchange>;

export function httpsTransport(access: ClusterAccess, plugin?: CredentialSource): Transport {
  const url = new URL(access.server);
  const secure = url.protocol === 'https:';
  const basePath = url.pathname.replace(/\/$/, '');
  const unreachable = (err: Error) =>
    new KubeApiError(0, `cannot reach the API server ${access.server}: ${err.message}`);
  const baseTls: ConnectionOptions = {
    ...(access.ca ? { ca: access.ca } : {}),
    ...(access.cert ? { cert: access.cert } : {}),
    ...(access.key ? { key: access.key } : {}),
    rejectUnauthorized: !access.insecureSkipTLSVerify,
  };

  // Plugin credentials, asked for once and again only after a 401.
  let credentials: Promise<PluginCredentials> | undefined;
  const pluginCredentials = (fresh: boolean): Promise<PluginCredentials | undefined> => {
    if (!plugin) return Promise.resolve(undefined);
    if (fresh || !credentials) {
      const asked = plugin(fresh);
      credentials = asked;
      // A failed run is asked again by the next request, not remembered.
      asked.catch(() => {
        if (credentials === asked) credentials = undefined;
      });
    }
    return credentials;
  };
  // TLS options for new connections: a plugin's client certificate replaces the kubeconfig's.
  let tlsFor: { cert: unknown; options: ConnectionOptions } | undefined;
  const tls = async (): Promise<ConnectionOptions> => {
    const c = await pluginCredentials(false);
    if (!c?.cert) return baseTls;
    if (tlsFor?.cert !== c.cert)
      tlsFor = { cert: c.cert, options: { ...baseTls, cert: c.cert, key: c.key } };
    return tlsFor.options;
  };

  const http1 = http1Opener(url, secure, tls, unreachable);
  const http2 = secure ? http2Opener(url, tls, unreachable) : undefined;
  // Start connecting now: the TLS handshake overlaps whatever the caller does before its
  // first request (rendering, validation). A failure surfaces at that request, which retries.
  http2?.opener(false).catch(() => undefined);
  const open: Open = http2
    ? async (method, path, h, body) => {
        const viaH2 = await http2.opener();
        return (viaH2 ?? http1.open)(method, basePath + path, h, body);
      }
    : (method, path, h, body) => http1.open(method, basePath + path, h, body);

  const baseHeaders = (): Record<string, string> => {
    const h: Record<string, string> = { Accept: 'application/json', 'User-Agent': 'gantry' };
    if (access.token) h.Authorization = `Bearer ${access.token}`;
    else if (access.basic) {
      h.Authorization = `Basic ${Buffer.from(`${access.basic.username}:${access.basic.password}`).toString('base64')}`;
    }
    return h;
  };
  /** One request; `used`: the plugin credentials it went with. */
  const sendOnce = async (
    method: string,
    path: string,
    body: string | undefined,
    contentType: string | undefined,
  ) => {
    const used = pluginCredentials(false);
    const h = { ...baseHeaders(), ...(await used)?.headers };
    if (body !== undefined) {
      h['Content-Type'] = contentType ?? 'application/json';
      h['Content-Length'] = String(Buffer.byteLength(body));
    }
    return { res: await open(method, path, h, body), used };
  };
  const send = async (
    method: string,
    path: string,
    body: string | undefined,
    contentType: string | undefined,
  ): Promise<Exchange> => {
    const { res, used } = await sendOnce(method, path, body, contentType);
    if (res.status !== 401 || !plugin) return res;
    // Expired or revoked: new credentials (asked for once, however many requests were
    // refused with the old ones; on new connections when they are a certificate), then
    // this request once more.
    res.body.resume();
    if (credentials === used) {
      const [before, after] = await Promise.all([used, pluginCredentials(true)]);
      if (after?.cert !== before?.cert) {
        http1.reset();
        http2?.reset();
      }
    }
    return (await sendOnce(method, path, body, contentType)).res;
  };

  return {
    server: access.server,
    async request(method, path, body, contentType) {
      const res = await send(
        method,
        path,
        body === undefined ? undefined : JSON.stringify(body),
        contentType,
      );
      const chunks: Buffer[] = [];
      for await (const c of res.body) chunks.push(c as Buffer);
      return { status: res.status, text: Buffer.concat(chunks).toString('utf8') };
    },
    stream(path, onLine, onEnd) {
      let stopped = false;
      let res: Exchange | undefined;
      send('GET', path, undefined, undefined).then(
        (r) => {
          res = r;
          if (stopped) return r.body.destroy();
          if (r.status >= 300) {
            let text = '';
            r.body.on('data', (c: Buffer) => (text += c.toString()));
            r.body.on('end', () =>
              onEnd(new KubeApiError(r.status, `watch ${path}: ${statusMessage(text)}`)),
            );
            return;
          }
          let buf = '';
          r.body.setEncoding('utf8');
          r.body.on('data', (chunk: string) => {
            buf += chunk;
            let nl: number;
            while ((nl = buf.indexOf('\n')) >= 0) {
              const line = buf.slice(0, nl).trim();
              buf = buf.slice(nl + 1);
              if (line && !stopped) onLine(line);
            }
          });
          r.body.on('end', () => {
            if (!stopped) onEnd(null);
          });
          r.body.on('error', (err) => {
            if (!stopped) onEnd(err);
          });
        },
        (err: unknown) => {
          if (!stopped) onEnd(err);
        },
      );
      return () => {
        stopped = true;
        res?.body.destroy();
      };
    },
  };
}

/** HTTP/1.1 over a kept-alive pool (idle sockets do not keep the process alive). */
function http1Opener(
  url: URL,
  secure: boolean,
  tls: () => Promise<ConnectionOptions>,
  unreachable: (err: Error) => KubeApiError,
): { open: Open; reset: () => void } {
  // One pool per set of TLS options (a plugin's new certificate gets a new pool).
  let pool: { options: ConnectionOptions; agent: Agent | HttpAgent } | undefined;
  const agentFor = async () => {
    if (!secure)
      return (pool ??= { options: {}, agent: new HttpAgent({ keepAlive: true, maxSockets: 16 }) })
        .agent;
    const options = await tls();
    if (pool?.options !== options) {
      pool?.agent.destroy();
      pool = { options, agent: new Agent({ keepAlive: true, maxSockets: 16, ...options }) };
    }
    return pool.agent;
  };
  const send = secure ? request : httpRequest;
  const open: Open = async (method, path, headers, body) => {
    const agent = await agentFor();
    return new Promise((resolve, reject) => {
      const req = send(
        {
          agent,
          method,
          hostname: url.hostname,
          port: url.port || (secure ? 443 : 80),
          path,
          headers,
        },
        (res: IncomingMessage) => resolve({ status: res.statusCode ?? 0, body: res }),
      );
      req.on('error', (err) => reject(unreachable(err)));
      req.end(body);
    });
  };
  return {
    open,
    reset() {
      pool?.agent.destroy();
      pool = undefined;
    },
  };
}

/**
 * HTTP/2 on one connection, opened on first use. The first connection offers
 * both h2 and http/1.1 (ALPN); when the server picks http/1.1, `opener()`
 * resolves to undefined from then on and the caller uses HTTP/1.1. A session
 * keeps the process alive only while it has requests or watches open, and a
 * new one is opened when the server closes it (GOAWAY, idle timeout, error).
 */
function http2Opener(
  url: URL,
  tls: () => Promise<ConnectionOptions>,
  unreachable: (err: Error) => KubeApiError,
): { opener: (demand?: boolean) => Promise<Open | undefined>; reset: () => void } {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = Number(url.port || 443);
  let h2Offered: boolean | undefined;
  let session: ClientHttp2Session | undefined;
  let connecting: Promise<ClientHttp2Session | undefined> | undefined;
  /** The socket being connected; it keeps the process alive only once a request waits. */
  let connectingSocket: TLSSocket | undefined;
  /** A request waits for the connection being made (it may not have a socket yet). */
  let demanded = false;
  const openStreams = new WeakMap<ClientHttp2Session, number>();

  const connectSession = async () => {
    const options = await tls();
    return new Promise<ClientHttp2Session | undefined>((resolve, reject) => {
      const socket = tlsConnect({
        ...options,
        host,
        port,
        ...(isIP(host) ? {} : { servername: host }),
        ALPNProtocols: ['h2', 'http/1.1'],
      });
      connectingSocket = socket;
      if (!demanded) socket.unref();
      socket.once('error', (err: Error) => {
        connectingSocket = undefined;
        demanded = false;
        reject(unreachable(err));
      });
      socket.once('secureConnect', () => {
        connectingSocket = undefined;
        demanded = false;
        h2Offered = socket.alpnProtocol === 'h2';
        if (!h2Offered) {
          socket.destroy();
          return resolve(undefined);
        }
        const s = http2Connect(url.origin, { createConnection: () => socket });
        // Stream errors reach their requests; a broken session is replaced on next use.
        s.on('error', () => undefined);
        s.unref();
        resolve(s);
      });
    });
  };

  /** The session, connecting when there is none; `demand`: a request is waiting for it. */
  const usable = async (demand: boolean): Promise<ClientHttp2Session | undefined> => {
    if (session && !session.closed && !session.destroyed) return session;
    session = undefined;
    if (h2Offered === false) return undefined;
    connecting ??= connectSession().finally(() => (connecting = undefined));
    if (demand) {
      demanded = true;
      connectingSocket?.ref();
    }
    session = await connecting;
    return session;
  };

  const open = (s: ClientHttp2Session): Open => {
    const track = (delta: number) => {
      const n = (openStreams.get(s) ?? 0) + delta;
      openStreams.set(s, n);
      if (s.destroyed) return;
      if (n === 1 && delta > 0) s.ref();
      else if (n === 0) s.unref();
    };
    return (method, path, headers, body) =>
      new Promise<Exchange>((resolve, reject) => {
        const h: Record<string, string> = {
          [h2.HTTP2_HEADER_METHOD]: method,
          [h2.HTTP2_HEADER_PATH]: path,
        };
        for (const [k, v] of Object.entries(headers)) h[k.toLowerCase()] = v;
        let stream: ClientHttp2Stream;
        try {
          stream = s.request(h, { endStream: body === undefined });
        } catch (err) {
          return reject(unreachable(err as Error));
        }
        track(+1);
        let responded = false;
        stream.once('error', (err: Error) => {
          if (!responded) reject(unreachable(err));
        });
        stream.once('close', () => {
          track(-1);
          if (!responded) reject(unreachable(new Error(`stream reset (code ${stream.rstCode})`)));
        });
        stream.once('response', (rh) => {
          responded = true;
          resolve({ status: Number(rh[h2.HTTP2_HEADER_STATUS] ?? 0), body: stream });
        });
        if (body !== undefined) stream.end(body);
      });
  };

  return {
    async opener(demand = true) {
      const s = await usable(demand);
      return s ? open(s) : undefined;
    },
    /** The next request connects anew (streams open on the old session run to their end). */
    reset() {
      session?.close();
      session = undefined;
    },
  };
}

/** The message of a Kubernetes Status body, or the raw text. */
export function statusMessage(text: string): string {
  try {
    const s = JSON.parse(text) as { message?: string };
    return s.message ?? text;
  } catch {
    return text.slice(0, 300);
  }
}

/** The reason and details of a Kubernetes Status body ({} when it is not one). */
export function statusInfo(text: string): StatusInfo {
  try {
    const s = JSON.parse(text) as { kind?: string } & StatusInfo;
    if (s.kind !== 'Status') return {};
    return {
      ...(typeof s.reason === 'string' ? { reason: s.reason } : {}),
      ...(s.details && typeof s.details === 'object' ? { details: s.details } : {}),
    };
  } catch {
    return {};
  }
}
