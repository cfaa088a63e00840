// One HTTP exchange with a timeout. Errors carry no URL (the caller scrubs anyway).

export type Outcome =
  { ok: true } | { ok: false; retryable: boolean; reason: string; rateLimited?: boolean };

export async function request(
  url: string,
  init: { method: 'GET' | 'POST'; body?: string; timeoutMs: number },
): Promise<{ status: number; text: string } | { error: string }> {
  try {
    const res = await fetch(url, {
      method: init.method,
      headers: init.body !== undefined ? { 'content-type': 'application/json; charset=utf-8' } : {},
      ...(init.body !== undefined ? { body: init.body } : {}),
      signal: AbortSignal.timeout(init.timeoutMs),
    });
    const text = await res.text();
    return { status: res.status, text };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    if (e.name === 'TimeoutError' || e.name === 'AbortError')
      return { error: `timeout after ${init.timeoutMs} ms` };
    return { error: e.cause?.code ?? e.name ?? 'request failed' };
  }
}

/** Maps a transport result to an outcome; `judge` decides on a 2xx body. */
export function classify(
  res: { status: number; text: string } | { error: string },
  judge: (body: unknown) => Outcome,
): Outcome {
  if ('error' in res) return { ok: false, retryable: true, reason: res.error };
  if (res.status >= 500 || res.status === 429 || res.status === 408) {
    return {
      ok: false,
      retryable: true,
      reason: `HTTP ${res.status}`,
      rateLimited: res.status === 429,
    };
  }
  if (res.status >= 400) return { ok: false, retryable: true, reason: `HTTP ${res.status}` };
  let body: unknown;
  try {
    body = JSON.parse(res.text);
  } catch {
    return {
      ok: false,
      retryable: true,
      reason: `HTTP ${res.status} with a body that is not JSON`,
    };
  }
  return judge(body);
}
