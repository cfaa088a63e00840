// HTTPS to the API server with a kept-alive connection pool: requests, JSON,
// and watch streams. Loads in milliseconds (the generated client library
// takes about a second), which every gantry command would otherwise pay.
import { Agent, request } from 'node:https';
import type { IncomingMessage } from 'node:http';
import { request as httpRequest, Agent as HttpAgent } from 'node:http';
import type { ClusterAccess } from './kubeconfig.js';
import { KubeApiError } from './errors.js';

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

/** Extra headers for each request (e.g. a token from an exec plugin). */
export type HeaderSource = () => Promise<Record<string, string>>;

export function httpsTransport(access: ClusterAccess, headers?: HeaderSource): Transport {
  const url = new URL(access.server);
  const secure = url.protocol === 'https:';
  const agent = secure
    ? new Agent({
        keepAlive: true,
        maxSockets: 16,
        ...(access.ca ? { ca: access.ca } : {}),
        ...(access.cert ? { cert: access.cert } : {}),
        ...(access.key ? { key: access.key } : {}),
        rejectUnauthorized: !access.insecureSkipTLSVerify,
      })
    : new HttpAgent({ keepAlive: true, maxSockets: 16 });
  const send = secure ? request : httpRequest;
  const basePath = url.pathname.replace(/\/$/, '');

  const baseHeaders = async (): Promise<Record<string, string>> => {
    const h: Record<string, string> = { Accept: 'application/json', 'User-Agent': 'gantry' };
    if (access.token) h.Authorization = `Bearer ${access.token}`;
    else if (access.basic) {
      h.Authorization = `Basic ${Buffer.from(`${access.basic.username}:${access.basic.password}`).toString('base64')}`;
    }
    return { ...h, ...(headers ? await headers() : {}) };
  };

  const open = async (
    method: string,
    path: string,
    body: string | undefined,
    contentType: string | undefined,
  ): Promise<IncomingMessage> => {
    const h = await baseHeaders();
    if (body !== undefined) {
      h['Content-Type'] = contentType ?? 'application/json';
      h['Content-Length'] = String(Buffer.byteLength(body));
    }
    return new Promise((resolve, reject) => {
      const req = send(
        {
          agent,
          method,
          hostname: url.hostname,
          port: url.port || (secure ? 443 : 80),
          path: basePath + path,
          headers: h,
        },
        resolve,
      );
      req.on('error', (err) =>
        reject(new KubeApiError(0, `cannot reach the API server ${access.server}: ${err.message}`)),
      );
      req.end(body);
    });
  };

  return {
    server: access.server,
    async request(method, path, body, contentType) {
      const res = await open(
        method,
        path,
        body === undefined ? undefined : JSON.stringify(body),
        contentType,
      );
      const chunks: Buffer[] = [];
      for await (const c of res) chunks.push(c as Buffer);
      return { status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') };
    },
    stream(path, onLine, onEnd) {
      let stopped = false;
      let res: IncomingMessage | undefined;
      open('GET', path, undefined, undefined).then(
        (r) => {
          res = r;
          if (stopped) return r.destroy();
          if ((r.statusCode ?? 0) >= 300) {
            let text = '';
            r.on('data', (c: Buffer) => (text += c.toString()));
            r.on('end', () =>
              onEnd(new KubeApiError(r.statusCode ?? 0, `watch ${path}: ${statusMessage(text)}`)),
            );
            return;
          }
          let buf = '';
          r.setEncoding('utf8');
          r.on('data', (chunk: string) => {
            buf += chunk;
            let nl: number;
            while ((nl = buf.indexOf('\n')) >= 0) {
              const line = buf.slice(0, nl).trim();
              buf = buf.slice(nl + 1);
              if (line && !stopped) onLine(line);
            }
          });
          r.on('end', () => {
            if (!stopped) onEnd(null);
          });
          r.on('error', (err) => {
            if (!stopped) onEnd(err);
          });
        },
        (err: unknown) => {
          if (!stopped) onEnd(err);
        },
      );
      return () => {
        stopped = true;
        res?.destroy();
      };
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
