// HTTP: POST /v1/alerts/:receiver, GET /healthz, /readyz, /metrics. Answers carry no secrets:
// errors name the problem, never a configured value.
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Logger } from './log.js';
import { errText } from './log.js';
import type { Metrics } from './metrics.js';
import { RECEIVER_KEY, parsePayload } from './payload.js';
import type { Relay } from './relay.js';

export const MAX_BODY = 8 * 1024 * 1024;

function send(res: ServerResponse, status: number, body: unknown, type = 'application/json'): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<Buffer | 'too-large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        resolve('too-large');
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export function createRelayServer(
  relay: Relay,
  metrics: Metrics,
  log: Logger,
  state: { ready: () => boolean },
): Server {
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (req.method === 'GET' && path === '/healthz') return send(res, 200, { status: 'ok' });
    if (req.method === 'GET' && path === '/readyz') {
      const ok = state.ready();
      return send(res, ok ? 200 : 503, { status: ok ? 'ready' : 'not ready' });
    }
    if (req.method === 'GET' && path === '/metrics') {
      return send(res, 200, metrics.render(), 'text/plain; version=0.0.4; charset=utf-8');
    }
    const m = /^\/v1\/alerts\/([^/]+)$/.exec(path);
    if (!m) return send(res, 404, { error: 'not found' });
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      return send(res, 405, { error: 'method not allowed' });
    }
    const code = (status: number) => metrics.requests.inc({ code: String(status) });
    const key = m[1]!;
    if (!RECEIVER_KEY.test(key)) {
      code(400);
      return send(res, 400, { error: 'a receiver key is [a-z0-9.-]+' });
    }
    const raw = await readBody(req);
    if (raw === 'too-large') {
      code(413);
      return send(res, 413, { error: `body over ${MAX_BODY} bytes` });
    }
    let decoded: unknown;
    try {
      decoded = JSON.parse(raw.toString('utf8'));
    } catch {
      code(400);
      return send(res, 400, { error: 'body is not JSON' });
    }
    const parsed = parsePayload(decoded);
    if (!parsed.ok) {
      code(400);
      log.warn({ receiver: key, problems: parsed.problems }, 'webhook payload refused');
      return send(res, 400, { error: 'invalid payload', problems: parsed.problems });
    }
    const rc = relay.receiver(key);
    if (!rc) {
      code(404);
      log.warn(
        { receiver: key, alerts: parsed.payload.alerts.length },
        'unknown receiver; Alertmanager will retry',
      );
      return send(res, 404, { error: 'unknown receiver' });
    }
    try {
      const r = relay.accept(key, rc, parsed.payload);
      code(200);
      log.info(
        {
          receiver: key,
          alerts: parsed.payload.alerts.length,
          status: parsed.payload.status,
          ...r,
        },
        'accepted',
      );
      return send(res, 200, { status: 'accepted', ...r });
    } catch (err) {
      code(500);
      log.error({ receiver: key, err: errText(err) }, 'could not queue the alerts durably');
      return send(res, 500, { error: 'could not queue the alerts' });
    }
  };
  return createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      log.error({ err: errText(err) }, 'request failed');
      if (!res.headersSent) send(res, 500, { error: 'internal error' });
      else res.destroy();
    });
  });
}
