// A small Prometheus HTTP API client: instant and range queries with errors a person
// can act on (which server, which query, what Prometheus said).
import type { AnalysisSpec } from '../spec/index.js';

export const DEFAULT_PROMETHEUS_URL = 'http://127.0.0.1:9090';

export type PrometheusErrorKind = 'unreachable' | 'timeout' | 'http' | 'query' | 'response';

export class PrometheusError extends Error {
  override name = 'PrometheusError';
  constructor(
    message: string,
    readonly kind: PrometheusErrorKind = 'query',
    readonly query?: string,
  ) {
    super(message);
  }
}

export interface InstantSample {
  labels: Record<string, string>;
  value: number;
}

export interface RangeSeries {
  labels: Record<string, string>;
  /** [unix seconds, value], in time order. */
  points: [number, number][];
}

/**
 * `flag` (a --prometheus given on the command line), else spec.prometheus, else
 * $GANTRY_PROMETHEUS_URL, else $PROMETHEUS_URL, else http://127.0.0.1:9090; no trailing /.
 */
export function prometheusUrl(spec: Pick<AnalysisSpec, 'prometheus'>, flag?: string): string {
  const env = (name: string) => {
    const v = process.env[name];
    return v !== undefined && v.trim() !== '' ? v.trim() : undefined;
  };
  return (
    flag ??
    spec.prometheus ??
    env('GANTRY_PROMETHEUS_URL') ??
    env('PROMETHEUS_URL') ??
    DEFAULT_PROMETHEUS_URL
  ).replace(/\/+$/, '');
}

interface ApiResponse {
  status?: string;
  errorType?: string;
  error?: string;
  warnings?: string[];
  data?: { resultType?: string; result?: unknown };
}

type RawValue = [number, string];
interface RawSeries {
  metric?: Record<string, string>;
  value?: RawValue;
  values?: RawValue[];
}

export class Prometheus {
  readonly baseUrl: string;
  private readonly timeoutMs: number;

  constructor(baseUrl: string, opts: { timeoutMs?: number } = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? 10_000;
  }

  /** An instant query (/api/v1/query) at `at` (default: now); vector or scalar results. */
  async query(promql: string, at?: Date): Promise<InstantSample[]> {
    const params: Record<string, string> = { query: promql };
    if (at) params.time = _unix(at);
    const data = await this._call('/api/v1/query', params, promql);
    const result = data.result;
    switch (data.resultType) {
      case 'vector':
        return (_array(result, promql) as RawSeries[]).map((s) => ({
          labels: s.metric ?? {},
          value: _num(s.value?.[1]),
        }));
      case 'scalar': {
        const v = result as RawValue | undefined;
        return [{ labels: {}, value: _num(v?.[1]) }];
      }
      case 'matrix':
        throw new PrometheusError(
          `query ${JSON.stringify(promql)} returned a range vector; an instant query needs an instant vector (wrap the range in a function such as increase() or last_over_time())`,
          'query',
          promql,
        );
      default:
        throw new PrometheusError(
          `query ${JSON.stringify(promql)} returned a ${data.resultType ?? 'missing'} result; expected a vector or a scalar`,
          'response',
          promql,
        );
    }
  }

  /** A range query (/api/v1/query_range) from start to end every stepSeconds. */
  async queryRange(
    promql: string,
    start: Date,
    end: Date,
    stepSeconds: number,
  ): Promise<RangeSeries[]> {
    if (!(stepSeconds > 0)) {
      throw new PrometheusError(`range query step must be positive, got ${stepSeconds}`, 'query');
    }
    const data = await this._call(
      '/api/v1/query_range',
      { query: promql, start: _unix(start), end: _unix(end), step: String(stepSeconds) },
      promql,
    );
    if (data.resultType !== 'matrix') {
      throw new PrometheusError(
        `range query ${JSON.stringify(promql)} returned a ${data.resultType ?? 'missing'} result; expected a matrix`,
        'response',
        promql,
      );
    }
    return (_array(data.result, promql) as RawSeries[]).map((s) => ({
      labels: s.metric ?? {},
      points: (s.values ?? []).map(([t, v]) => [Number(t), _num(v)] as [number, number]),
    }));
  }

  private async _call(
    path: string,
    params: Record<string, string>,
    promql: string,
  ): Promise<{ resultType?: string; result?: unknown }> {
    const url = `${this.baseUrl}${path}`;
    let res: Response;
    try {
      // POST keeps long PromQL out of URL length limits; Prometheus accepts both.
      res = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body: new URLSearchParams(params).toString(),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
        throw new PrometheusError(
          `Prometheus at ${this.baseUrl} did not answer within ${this.timeoutMs} ms`,
          'timeout',
          promql,
        );
      }
      const cause = _cause(err);
      throw new PrometheusError(
        `Prometheus at ${this.baseUrl} is unreachable (${cause}); is it running? Set analysis.prometheus or $GANTRY_PROMETHEUS_URL to its address`,
        'unreachable',
        promql,
      );
    }
    const text = await res.text();
    let body: ApiResponse | undefined;
    try {
      body = JSON.parse(text) as ApiResponse;
    } catch {
      body = undefined;
    }
    if (body?.status === 'error' || (body && !res.ok)) {
      const what = body.errorType ? `${body.errorType}: ` : '';
      throw new PrometheusError(
        `Prometheus rejected the query ${JSON.stringify(promql)} (HTTP ${res.status}): ${what}${body.error ?? 'no message'}`,
        'query',
        promql,
      );
    }
    if (!res.ok || !body) {
      const snippet = text.slice(0, 200).replace(/\s+/g, ' ').trim();
      throw new PrometheusError(
        `Prometheus at ${this.baseUrl} answered ${path} with HTTP ${res.status}${snippet ? `: ${snippet}` : ''}; is this a Prometheus server?`,
        'http',
        promql,
      );
    }
    if (body.status !== 'success' || !body.data) {
      throw new PrometheusError(
        `Prometheus at ${this.baseUrl} sent an unexpected answer to ${path} (status ${String(body.status)})`,
        'response',
        promql,
      );
    }
    return body.data;
  }
}

function _array(result: unknown, promql: string): unknown[] {
  if (!Array.isArray(result)) {
    throw new PrometheusError(
      `Prometheus sent a malformed result for ${JSON.stringify(promql)}`,
      'response',
      promql,
    );
  }
  return result;
}

/** Prometheus sends sample values as strings, including "NaN", "+Inf" and "-Inf". */
function _num(v: string | undefined): number {
  if (v === undefined) return NaN;
  if (v === '+Inf') return Infinity;
  if (v === '-Inf') return -Infinity;
  return Number(v);
}

function _unix(d: Date): string {
  return (d.getTime() / 1000).toFixed(3);
}

function _cause(err: unknown): string {
  if (err instanceof Error) {
    const c = (err as Error & { cause?: unknown }).cause;
    if (c instanceof Error) {
      const code = (c as Error & { code?: string }).code;
      return code ? `${code}: ${c.message}` : c.message;
    }
    return err.message;
  }
  return String(err);
}
