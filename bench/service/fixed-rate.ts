// A bounded open-loop load generator: sends GET requests at a fixed rate (wrk has no such mode
// and wrk2 is not packaged) and measures each request's latency from the moment it was
// *scheduled*, so a stalled server is charged for every request it delayed (no coordinated
// omission). It speaks minimal HTTP/1.1 over keep-alive sockets (responses must carry
// Content-Length), which keeps its own cost per request low enough not to be the bottleneck.
// Prints one JSON object. Like every load in this repository, it goes to loopback only.
//
//   node --import tsx fixed-rate.ts --url http://127.0.0.1:8080 --path '/api/users/{id}' \
//     --ids 1000 --rate 5000 --duration 15 --warmup 2 --connections 32
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { assertLocal } from '../../hack/cluster/test/load.js';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    path: { type: 'string', default: '/' },
    ids: { type: 'string', default: '1000' },
    rate: { type: 'string' },
    duration: { type: 'string', default: '15' },
    warmup: { type: 'string', default: '2' },
    connections: { type: 'string', default: '32' },
  },
});
if (values.url === undefined || values.rate === undefined) {
  throw new Error('usage: fixed-rate.ts --url URL --rate RPS [--path P] [--duration S]');
}
const target = assertLocal(values.url);
const rate = Number(values.rate);
const durationMs = Number(values.duration) * 1000;
const warmupMs = Number(values.warmup) * 1000;
const ids = Number(values.ids);
const connections = Number(values.connections);
if (!(rate > 0 && durationMs > 0 && ids > 0 && connections > 0)) {
  throw new Error('rate, duration, ids and connections must be > 0');
}

let seed = 12345;
function nextPath(): string {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return values.path.replace('{id}', String(1 + (seed % ids)));
}

const total = Math.floor((rate * (warmupMs + durationMs)) / 1000);
const latencies: number[] = [];
let finished = 0;
let errors = 0;
let non2xx = 0;
const start = performance.now();
let finish: () => void = () => {};
const allDone = new Promise<void>((resolve) => (finish = resolve));

function complete(intended: number, status: number): void {
  if (intended - start >= warmupMs) {
    latencies.push(performance.now() - intended);
    if (status === 0) errors++;
    else if (status < 200 || status >= 300) non2xx++;
  }
  if (++finished === total) finish();
}

/** One keep-alive connection carrying one request at a time. */
class Conn {
  private readonly socket: Socket;
  private buf: Buffer = Buffer.alloc(0);
  private intended = 0;
  busy = false;

  constructor() {
    this.socket = connect({ host: target.hostname, port: Number(target.port), noDelay: true });
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', () => this.fail());
    this.socket.on('close', () => this.fail());
  }

  send(intended: number): void {
    this.busy = true;
    this.intended = intended;
    this.socket.write(`GET ${nextPath()} HTTP/1.1\r\nHost: ${target.host}\r\n\r\n`);
  }

  private onData(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const headEnd = this.buf.indexOf('\r\n\r\n');
    if (headEnd < 0) return;
    const head = this.buf.subarray(0, headEnd).toString('latin1');
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    if (length === null) {
      this.fail();
      return;
    }
    const end = headEnd + 4 + Number(length[1]);
    if (this.buf.length < end) return;
    this.buf = this.buf.subarray(end);
    const status = Number(head.slice(9, 12));
    this.busy = false;
    complete(this.intended, status);
    dispatch();
  }

  private fail(): void {
    if (this.busy) {
      this.busy = false;
      complete(this.intended, 0);
    }
    this.socket.destroy();
    const i = pool.indexOf(this);
    if (i >= 0) pool.splice(i, 1);
  }

  close(): void {
    this.socket.removeAllListeners('close');
    this.socket.destroy();
  }
}

const pool: Conn[] = Array.from({ length: connections }, () => new Conn());
/** Scheduled send times waiting for a free connection (open loop: the wait counts). */
const backlog: number[] = [];
let scheduled = 0;

function dispatch(): void {
  while (backlog.length > 0) {
    const conn = pool.find((c) => !c.busy);
    if (conn === undefined) return;
    conn.send(backlog.shift()!);
  }
}

function tick(): void {
  const due = Math.min(total, Math.floor(((performance.now() - start) * rate) / 1000) + 1);
  while (scheduled < due) backlog.push(start + (scheduled++ * 1000) / rate);
  dispatch();
  if (pool.length === 0) finish();
  else if (scheduled < total) setTimeout(tick, 1);
}
setTimeout(tick, 0);

// Bounded: never wait more than 10 s past the schedule for stragglers.
const limit = setTimeout(finish, warmupMs + durationMs + 10_000);
await allDone;
clearTimeout(limit);
for (const c of pool) c.close();

latencies.sort((a, b) => a - b);
const q = (p: number) =>
  latencies.length === 0
    ? NaN
    : latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!;
const round = (x: number) => Math.round(x * 1000) / 1000;
console.log(
  JSON.stringify({
    targetRate: rate,
    achievedRate: Math.round(latencies.length / (durationMs / 1000)),
    requests: latencies.length,
    unfinished: total - finished,
    errors,
    non2xx,
    p50Ms: round(q(0.5)),
    p90Ms: round(q(0.9)),
    p99Ms: round(q(0.99)),
    p999Ms: round(q(0.999)),
    maxMs: round(latencies.at(-1) ?? NaN),
  }),
);
