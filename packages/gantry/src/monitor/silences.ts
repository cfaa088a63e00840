// Silences of a service's alerts through Alertmanager's API v2: create one for an
// alert of the service (matched on alertname, namespace and service), list them,
// expire one.
import { userInfo } from 'node:os';
import type { ServiceSpec } from '../spec/index.js';
import { gantryAlertName } from '../spec/schema.js';

export class SilenceError extends Error {
  override name = 'SilenceError';
}

export interface SilenceMatcher {
  name: string;
  value: string;
  isRegex: boolean;
  isEqual?: boolean;
}

export interface Silence {
  id: string;
  status: { state: 'active' | 'pending' | 'expired' };
  matchers: SilenceMatcher[];
  startsAt: string;
  endsAt: string;
  updatedAt?: string;
  createdBy: string;
  comment: string;
}

export interface SilenceRequest {
  alert: string;
  /** Seconds from now. */
  durationSeconds: number;
  comment?: string;
  createdBy?: string;
  now?: Date;
}

/** The matchers of a silence of `alert` (CPUHigh or GantryCPUHigh) for the service. */
export function silenceMatchers(
  spec: Pick<ServiceSpec, 'namespace' | 'name'>,
  alert: string,
): SilenceMatcher[] {
  return [
    { name: 'alertname', value: gantryAlertName(alert) ?? alert, isRegex: false, isEqual: true },
    { name: 'namespace', value: spec.namespace, isRegex: false, isEqual: true },
    { name: 'service', value: spec.name, isRegex: false, isEqual: true },
  ];
}

export async function createSilence(
  alertmanagerUrl: string,
  spec: Pick<ServiceSpec, 'namespace' | 'name'>,
  req: SilenceRequest,
): Promise<{ id: string; matchers: SilenceMatcher[]; startsAt: string; endsAt: string }> {
  if (!(req.durationSeconds > 0)) throw new SilenceError('a silence needs a positive duration');
  const now = req.now ?? new Date();
  const body = {
    matchers: silenceMatchers(spec, req.alert),
    startsAt: now.toISOString(),
    endsAt: new Date(now.getTime() + req.durationSeconds * 1000).toISOString(),
    createdBy: req.createdBy ?? `gantry (${safeUser()})`,
    comment: req.comment ?? `silenced with gantry alerts silence`,
  };
  const res = (await call(alertmanagerUrl, '/api/v2/silences', 'POST', body)) as {
    silenceID?: string;
  };
  if (!res.silenceID) throw new SilenceError('Alertmanager answered without a silence ID');
  return {
    id: res.silenceID,
    matchers: body.matchers,
    startsAt: body.startsAt,
    endsAt: body.endsAt,
  };
}

/**
 * The silences whose matchers name the service (namespace and service equal), newest
 * first; with `all`, every silence. Expired ones only with `expired`.
 */
export async function listSilences(
  alertmanagerUrl: string,
  spec: Pick<ServiceSpec, 'namespace' | 'name'> | undefined,
  opts: { expired?: boolean } = {},
): Promise<Silence[]> {
  const list = (await call(alertmanagerUrl, '/api/v2/silences', 'GET')) as Silence[];
  const eq = (s: Silence, name: string, value: string) =>
    s.matchers.some(
      (m) => m.name === name && m.value === value && !m.isRegex && m.isEqual !== false,
    );
  return list
    .filter((s) => opts.expired || s.status.state !== 'expired')
    .filter((s) => !spec || (eq(s, 'namespace', spec.namespace) && eq(s, 'service', spec.name)))
    .sort((a, b) => b.startsAt.localeCompare(a.startsAt));
}

/** Expires a silence now. */
export async function expireSilence(alertmanagerUrl: string, id: string): Promise<void> {
  if (!/^[0-9a-fA-F-]{8,64}$/.test(id)) throw new SilenceError(`"${id}" is not a silence ID`);
  await call(alertmanagerUrl, `/api/v2/silence/${id}`, 'DELETE');
}

/** A silence's matchers as Alertmanager writes them: alertname="X", ... */
export function formatMatchers(ms: readonly SilenceMatcher[]): string {
  return ms
    .map(
      (m) =>
        `${m.name}${m.isEqual === false ? '!' : ''}${m.isRegex ? '=~' : '='}${JSON.stringify(m.value)}`,
    )
    .join(', ');
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

async function call(url: string, path: string, method: string, body?: unknown): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(`${url}${path}`, {
      method,
      ...(body !== undefined
        ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }
        : {}),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    throw new SilenceError(`cannot reach Alertmanager at ${url}: ${(err as Error).message}`);
  }
  const text = await res.text();
  if (!res.ok) {
    throw new SilenceError(
      `Alertmanager ${method} ${path}: HTTP ${res.status}${text.trim() ? `: ${text.trim().slice(0, 300)}` : ''}`,
    );
  }
  return text ? (JSON.parse(text) as unknown) : undefined;
}
