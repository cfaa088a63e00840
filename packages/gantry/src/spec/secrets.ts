// Secret values (and release webhook URLs and signing secrets given the same way) are
// read at deploy time from files or the environment, never from the spec. Errors name
// the key and the source, never a value.
import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import type { ServiceSpec } from './schema.js';

export class SecretSourceError extends Error {
  override name = 'SecretSourceError';
}

/**
 * Resolves every secret key of the spec. `baseDir` anchors relative file
 * paths (the spec file's directory). A trailing newline in a file is dropped.
 */
export function resolveSecretValues(
  spec: ServiceSpec,
  baseDir: string,
  env: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const out: Record<string, string> = {};
  const missing: string[] = [];
  for (const [key, src] of Object.entries(spec.secrets)) {
    const v = readSource(src, `secret ${key}`, baseDir, env, missing);
    if (v !== undefined) out[key] = v;
  }
  if (missing.length) throw new SecretSourceError(missing.join('\n'));
  return out;
}

/** A release webhook with its URL and DingTalk signing secret read (see resolveNotifyTargets). */
export interface ResolvedWebhook {
  url: string;
  format: ServiceSpec['release']['notify'][number]['format'];
  secret?: string;
}

/**
 * The release's webhooks with URLs and signing secrets given as { fromEnv | fromFile }
 * read. Targets that cannot be resolved are left out and described in `problems`.
 */
export function resolveNotifyTargets(
  spec: ServiceSpec,
  baseDir: string,
  env: NodeJS.ProcessEnv = process.env,
): { targets: ResolvedWebhook[]; problems: string[] } {
  const targets: ResolvedWebhook[] = [];
  const problems: string[] = [];
  spec.release.notify.forEach((n, i) => {
    const before = problems.length;
    const url =
      typeof n.url === 'string'
        ? n.url
        : readSource(n.url, `release.notify[${i}].url`, baseDir, env, problems);
    const secret = n.secret
      ? readSource(n.secret, `release.notify[${i}].secret`, baseDir, env, problems)
      : undefined;
    if (url !== undefined && !URL.canParse(url))
      problems.push(`release.notify[${i}].url: the value read is not a URL`);
    if (problems.length > before || url === undefined) return;
    targets.push({ url, format: n.format, ...(secret !== undefined ? { secret } : {}) });
  });
  return { targets, problems };
}

type Source = { fromEnv?: string | undefined; fromFile?: string | undefined };

/** The value of one source, or undefined with a problem (naming `what`, never a value). */
function readSource(
  src: Source,
  what: string,
  baseDir: string,
  env: NodeJS.ProcessEnv,
  problems: string[],
): string | undefined {
  if (src.fromEnv !== undefined) {
    const v = env[src.fromEnv];
    if (v === undefined) problems.push(`${what}: environment variable ${src.fromEnv} is not set`);
    return v;
  }
  if (src.fromFile === undefined) return undefined;
  const path = isAbsolute(src.fromFile) ? src.fromFile : join(baseDir, src.fromFile);
  try {
    return readFileSync(path, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    problems.push(`${what}: cannot read ${path} (${code})`);
    return undefined;
  }
}
