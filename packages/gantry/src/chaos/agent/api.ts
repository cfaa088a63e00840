// The agent's Kubernetes API client: the pod's service-account token over
// https with the in-cluster CA, node:https only (the helper image has no
// node_modules). Just what the agent does: read, patch and delete its undo
// record, and patch the objects a watchdog restores.
import { readFileSync } from 'node:fs';
import https from 'node:https';

const SA = '/var/run/secrets/kubernetes.io/serviceaccount';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class Api {
  private readonly agent: https.Agent;
  private readonly host: string;
  private readonly port: number;

  constructor() {
    const host = process.env.KUBERNETES_SERVICE_HOST;
    const port = process.env.KUBERNETES_SERVICE_PORT;
    if (!host || !port) throw new Error('not in a pod: KUBERNETES_SERVICE_HOST/PORT unset');
    this.host = host;
    this.port = Number(port);
    this.agent = new https.Agent({ keepAlive: true, ca: readFileSync(`${SA}/ca.crt`) });
  }

  /** One request; the token is read each time (the kubelet rotates it). */
  request(
    method: string,
    path: string,
    body?: unknown,
    contentType = 'application/json',
  ): Promise<{ status: number; text: string }> {
    const token = readFileSync(`${SA}/token`, 'utf8').trim();
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = https.request(
        {
          host: this.host,
          port: this.port,
          method,
          path,
          agent: this.agent,
          timeout: 10_000,
          headers: {
            authorization: `Bearer ${token}`,
            accept: 'application/json',
            ...(data ? { 'content-type': contentType, 'content-length': data.length } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
          );
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out`)));
      req.on('error', reject);
      req.end(data);
    });
  }

  /**
   * Watches a collection (a label selector) and resolves with the name of the first object
   * it holds or that is added; undefined when the watch ends first (after `timeoutSeconds`,
   * an error, or cancel()).
   */
  watchFirst(
    path: string,
    labelSelector: string,
    timeoutSeconds: number,
  ): { name: Promise<string | undefined>; cancel: () => void } {
    const token = readFileSync(`${SA}/token`, 'utf8').trim();
    const q = `?watch=1&labelSelector=${encodeURIComponent(labelSelector)}&timeoutSeconds=${Math.max(1, Math.round(timeoutSeconds))}`;
    let cancel: () => void = () => undefined;
    const name = new Promise<string | undefined>((resolve) => {
      const req = https.request(
        {
          host: this.host,
          port: this.port,
          method: 'GET',
          path: path + q,
          agent: this.agent,
          headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
        },
        (res) => {
          if ((res.statusCode ?? 0) >= 300) {
            res.resume();
            res.on('end', () => resolve(undefined));
            return;
          }
          let buf = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            buf += chunk;
            for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
              const line = buf.slice(0, i);
              buf = buf.slice(i + 1);
              try {
                const ev = JSON.parse(line) as {
                  type?: string;
                  object?: { metadata?: { name?: string } };
                };
                const n = ev.object?.metadata?.name;
                if (ev.type === 'ADDED' && n) {
                  resolve(n);
                  req.destroy();
                  return;
                }
              } catch {
                // a partial or foreign line
              }
            }
          });
          res.on('end', () => resolve(undefined));
          res.on('error', () => resolve(undefined));
        },
      );
      req.on('error', () => resolve(undefined));
      req.end();
      cancel = () => {
        req.destroy();
        resolve(undefined);
      };
    });
    return { name, cancel };
  }

  /** JSON of a 2xx answer; undefined on 404; throws otherwise. */
  async json<T>(method: string, path: string, body?: unknown, contentType?: string) {
    const res = await this.request(method, path, body, contentType);
    if (res.status === 404) return undefined;
    if (res.status >= 300) {
      let msg = res.text;
      try {
        msg = (JSON.parse(res.text) as { message?: string }).message ?? msg;
      } catch {
        // not JSON
      }
      throw new ApiError(res.status, `${method} ${path}: ${res.status} ${msg}`);
    }
    return JSON.parse(res.text) as T;
  }

  /** Retries a call a few times over ~10 s (the API server restarting, a network blip). */
  async retry<T>(what: string, fn: () => Promise<T>, attempts = 8): Promise<T> {
    let last: unknown;
    for (let i = 0; i < attempts; i++) {
      try {
        return await fn();
      } catch (err) {
        last = err;
        if (err instanceof ApiError && err.status >= 400 && err.status < 500 && err.status !== 429)
          throw err;
        await new Promise((r) => setTimeout(r, Math.min(250 * 2 ** i, 2000)));
      }
    }
    throw new Error(`${what}: ${last instanceof Error ? last.message : String(last)}`);
  }

  private readonly plurals = new Map<string, { name: string; namespaced: boolean }>();

  /** The REST path of an object, by discovery of its group/version. */
  async objectPath(apiVersion: string, kind: string, namespace: string | undefined, name: string) {
    const key = `${apiVersion}/${kind}`;
    let r = this.plurals.get(key);
    if (!r) {
      const prefix = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
      const list = await this.json<{
        resources: { kind: string; name: string; namespaced: boolean }[];
      }>('GET', prefix);
      const found = list?.resources.find((x) => x.kind === kind && !x.name.includes('/'));
      if (!found) throw new Error(`${apiVersion} ${kind}: not served by this cluster`);
      r = { name: found.name, namespaced: found.namespaced };
      this.plurals.set(key, r);
    }
    const prefix = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    const ns = r.namespaced && namespace ? `/namespaces/${namespace}` : '';
    return `${prefix}${ns}/${r.name}/${name}`;
  }
}
