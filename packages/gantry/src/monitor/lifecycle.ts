// What applying rules to Prometheus and routing to Alertmanager share: files written so a
// reader never sees half of one, the lifecycle reload, and reading the JSON API to confirm.
import { chmodSync, renameSync, writeFileSync } from 'node:fs';

/** Writes through a temporary file and a rename (with `mode`, whatever the umask). */
export function writeAtomic(file: string, text: string, mode = 0o644): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, file);
}

/**
 * POST {url}/-/reload (Prometheus and Alertmanager both need --web.enable-lifecycle or
 * equivalent). A server that cannot be reached throws `unreachable(reason)`; any answer is
 * returned for the caller to word.
 */
export async function postReload(
  url: string,
  unreachable: (reason: string) => Error,
): Promise<{ ok: boolean; status: number; text: string }> {
  let res: Response;
  try {
    res = await fetch(`${url}/-/reload`, { method: 'POST', signal: AbortSignal.timeout(30_000) });
  } catch (err) {
    throw unreachable((err as Error).message);
  }
  return { ok: res.ok, status: res.status, text: res.ok ? '' : (await res.text()).trim() };
}

/** GET {url}{path} as JSON; failures as `fail(message)`, naming `server`. */
export async function getJson(
  server: string,
  url: string,
  path: string,
  fail: (message: string) => Error,
): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    throw fail(`cannot reach ${server} at ${url}: ${(err as Error).message}`);
  }
  if (!res.ok) throw fail(`${server} ${path}: HTTP ${res.status}`);
  return res.json();
}
