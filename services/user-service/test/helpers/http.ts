// Starts the app on 127.0.0.1:0 and talks to it over real HTTP.
import { request } from 'node:http';
import type { Agent, IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildApp } from '../../src/app.js';
import type { App, AppDeps } from '../../src/app.js';

export interface Running {
  readonly baseUrl: string;
  readonly app: App;
  close(): Promise<void>;
}

export async function startServer(deps: AppDeps): Promise<Running> {
  const app = await buildApp({ metrics: { collectDefaults: true }, ...deps });
  await app.server.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    app,
    close: () => app.server.close(),
  };
}

interface ProblemField {
  location: string;
  pointer: string;
  detail: string;
}

interface OpenApiOperation {
  responses: Record<string, { content: Record<string, unknown> }>;
}

/**
 * The union of the JSON shapes the service answers with (user, page, problem, OpenAPI, ...),
 * so tests can read fields without casts; which fields are present is what the tests assert.
 */
export interface Body {
  id: number;
  name: string;
  email: string;
  createdAt: string;
  updatedAt: string;
  items: Body[];
  nextCursor: string | null;
  type: string;
  title: string;
  status: number | string;
  detail: string;
  instance: string;
  requestId: string;
  errors: ProblemField[];
  checks: Record<string, string>;
  version: string;
  gitSha: string;
  buildTime: string;
  openapi: string;
  info: { version: string };
  paths: Record<string, Record<string, OpenApiOperation>>;
  components: { schemas: Record<string, unknown> };
}

export interface Response {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  readonly body: Body;
}

export interface RequestOptions {
  readonly json?: unknown;
  readonly body?: string | Uint8Array;
  readonly headers?: Record<string, string>;
}

export async function call(
  baseUrl: string,
  method: string,
  path: string,
  opts: RequestOptions = {},
): Promise<Response> {
  const headers: Record<string, string> = { ...opts.headers };
  let body: string | Uint8Array | undefined = opts.body;
  if (opts.json !== undefined) {
    body = JSON.stringify(opts.json);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(baseUrl + path, { method, headers, body });
  const text = await res.text();
  const type = res.headers.get('content-type') ?? '';
  const parsed = (type.includes('json') && text !== '' ? JSON.parse(text) : {}) as Body;
  return { status: res.status, headers: res.headers, text, body: parsed };
}

export interface RawRequest {
  /** Any method token node:http can send, including ones fetch refuses (TRACE, QUERY, ...). */
  readonly method: string;
  /** Sent as is: not normalised or re-encoded. */
  readonly path: string;
  readonly headers?: Record<string, string | number>;
  /** With a body and no content-length header, the body goes chunked. */
  readonly body?: string | Buffer;
}

export interface RawResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  readonly text: string;
}

/** One request over node:http, bytes exactly as given; fails after 10 s. */
export function sendRaw(baseUrl: string, r: RawRequest, agent?: Agent): Promise<RawResponse> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        method: r.method,
        path: r.path,
        headers: r.headers ?? {},
        ...(agent && { agent }),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            text: body.toString('utf8'),
          });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('request timed out')));
    req.end(r.body);
  });
}
