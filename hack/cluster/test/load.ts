// Bounded open-loop HTTP load for drills, tests and benchmarks: a fixed request
// rate (not "as fast as responses come back", so a slow version does not slow
// the load and hide itself), for at most a given time, to loopback only: the
// gateway on 127.0.0.1:8000, or a NodePort (kube-proxy serves NodePorts on
// 127.0.0.0/8) when the Service path itself is under test. Never a Service's
// virtual IP (10.96.x) or the node address (10.201.x). A pod address (10.244.x)
// only with `podAddress: true`, for a test that must reach one pod. Every
// request's outcome is kept.
import http from 'node:http';

export interface LoadOptions {
  /** http://HOST:PORT/PATH; HOST must be loopback (or a pod address, with podAddress). */
  url: string;
  /** Allow one pod's address (10.244.x.x) as HOST: for a test that must reach one pod. */
  podAddress?: boolean;
  /** Host header (to pick a route on a gateway). */
  host?: string;
  /** Requests per second. */
  rps: number;
  /** Hard bound on how long the load runs. */
  maxDurationMs: number;
  /** Headers for request number i (e.g. a user id). */
  headers?: (i: number) => Record<string, string>;
  /** Per-request timeout (default 5 s). */
  timeoutMs?: number;
  /** Most requests in flight; beyond it a due request counts as failed (status 0, "overload"). */
  maxInFlight?: number;
}

export interface Sample {
  /** Send time, ms since the epoch. */
  t: number;
  /** HTTP status, or 0 when no response came. */
  status: number;
  /** Response time in ms. */
  ms: number;
  /** The x-app-version response header: which version answered. */
  version?: string;
  error?: string;
  /** Request number (for the headers function). */
  i: number;
}

const LOOPBACK = [/^127(\.\d{1,3}){3}$/, /^localhost$/i, /^\[::1\]$/];
const POD_ADDRESS = /^10\.244(\.\d{1,3}){2}$/;

/** The URL, if it may take load: http:// to loopback, or to a pod address when allowed. */
export function assertLocal(url: string, opts: { podAddress?: boolean } = {}): URL {
  const u = new URL(url);
  if (u.protocol !== 'http:') throw new Error(`load: only http:// URLs (got ${u.protocol})`);
  const host = u.hostname;
  if (LOOPBACK.some((r) => r.test(host))) return u;
  if (POD_ADDRESS.test(host)) {
    if (opts.podAddress) return u;
    throw new Error(
      `load: ${host} is a pod address; pass podAddress: true if the test must reach that one pod, ` +
        'otherwise send load to the gateway (127.0.0.1:8000) or a NodePort on 127.0.0.1',
    );
  }
  throw new Error(
    `load: ${host} is not loopback; refusing to send load there (use the gateway on ` +
      "127.0.0.1:8000 or a NodePort on 127.0.0.1, never a Service's virtual IP or the node address)",
  );
}

export class Load {
  readonly samples: Sample[] = [];
  private timer: NodeJS.Timeout | undefined;
  private stopTimer: NodeJS.Timeout | undefined;
  private inFlight = 0;
  private sent = 0;
  private readonly agent: http.Agent;
  private readonly target: URL;
  private started = 0;
  private finished: Promise<void> | undefined;
  private resolveFinished: (() => void) | undefined;

  constructor(private readonly opts: LoadOptions) {
    this.target = assertLocal(opts.url, { podAddress: opts.podAddress ?? false });
    if (!(opts.rps > 0 && opts.rps <= 5000)) throw new Error('load: rps must be in (0, 5000]');
    this.agent = new http.Agent({ keepAlive: true, maxSockets: opts.maxInFlight ?? 256 });
  }

  start(): this {
    this.started = Date.now();
    this.finished = new Promise((r) => (this.resolveFinished = r));
    // Send what is due every 5 ms: the schedule follows the clock, not the responses.
    this.timer = setInterval(() => {
      const due = Math.floor(((Date.now() - this.started) / 1000) * this.opts.rps);
      while (this.sent < due) this.send(this.sent++);
    }, 5);
    this.stopTimer = setTimeout(() => void this.stop(), this.opts.maxDurationMs);
    return this;
  }

  /** Stops sending, waits for requests in flight, and returns every sample. */
  async stop(): Promise<Sample[]> {
    if (this.timer) clearInterval(this.timer);
    if (this.stopTimer) clearTimeout(this.stopTimer);
    this.timer = undefined;
    const deadline = Date.now() + (this.opts.timeoutMs ?? 5000) + 1000;
    while (this.inFlight > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    this.agent.destroy();
    this.resolveFinished?.();
    return this.samples;
  }

  /** Resolves when the load stops (by stop() or its time bound). */
  done(): Promise<void> {
    return this.finished ?? Promise.resolve();
  }

  /** Sends request number i now (outside the schedule). */
  send(i: number): void {
    const t = Date.now();
    if (this.inFlight >= (this.opts.maxInFlight ?? 256)) {
      this.samples.push({ t, status: 0, ms: 0, error: 'overload', i });
      return;
    }
    this.inFlight++;
    const req = http.request(
      {
        host: this.target.hostname,
        port: this.target.port || 80,
        path: this.target.pathname + this.target.search,
        agent: this.agent,
        timeout: this.opts.timeoutMs ?? 5000,
        headers: {
          ...(this.opts.host ? { host: this.opts.host } : {}),
          ...(this.opts.headers?.(i) ?? {}),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => {
          this.inFlight--;
          const v = res.headers['x-app-version'];
          this.samples.push({
            t,
            status: res.statusCode ?? 0,
            ms: Date.now() - t,
            ...(typeof v === 'string' ? { version: v } : {}),
            i,
          });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => {
      this.inFlight--;
      this.samples.push({ t, status: 0, ms: Date.now() - t, error: err.message, i });
    });
    req.end();
  }
}

/** One request, resolving to its sample (for spot checks). */
export async function once(
  url: string,
  opts: {
    host?: string;
    headers?: Record<string, string>;
    timeoutMs?: number;
    podAddress?: boolean;
  } = {},
): Promise<Sample> {
  const l = new Load({
    url,
    ...(opts.podAddress ? { podAddress: true } : {}),
    rps: 1000,
    maxDurationMs: (opts.timeoutMs ?? 5000) + 1000,
    ...(opts.host ? { host: opts.host } : {}),
    ...(opts.headers ? { headers: () => opts.headers ?? {} } : {}),
    ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
  });
  l.send(0);
  const deadline = Date.now() + (opts.timeoutMs ?? 5000) + 2000;
  while (l.samples.length === 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 5));
  }
  await l.stop();
  const s = l.samples[0];
  if (!s) throw new Error('load: no response');
  return s;
}
