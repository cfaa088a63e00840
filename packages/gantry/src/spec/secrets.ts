// Secret values (and release webhook URLs and signing secrets given the same way) are
// read at deploy time from files or the environment, never from the spec. Errors name
// the key and the source, never a value.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { SPEC_LIMITS, dataBytes, formatSize } from './limits.js';
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
  const bytes = dataBytes(out);
  if (bytes > SPEC_LIMITS.configBytes) {
    throw new SecretSourceError(
      `secrets: the values read and their keys total ${bytes} bytes; a Secret holds at most ` +
        `${SPEC_LIMITS.configBytes} (${formatSize(SPEC_LIMITS.configBytes)})`,
    );
  }
  return out;
}

/** A release webhook with its URL and DingTalk signing secret read (see resolveNotifyTargets). */
export interface ResolvedWebhook {
  url: string;
  format: ServiceSpec['release']['notify'][number]['format'];
  secret?: string;
}

/** How a webhook URL written inline in the spec is kept in a release's stored state. */
const STORED_INLINE = 'redacted:sha256:';

function inlineDigest(url: string): string {
  return STORED_INLINE + createHash('sha256').update(url).digest('hex');
}

/**
 * The spec as a release stores it: webhook URLs written inline (robot URLs carry
 * their access token) are replaced by their sha256, so the cluster never holds
 * them. The same spec gives the same result, so stored specs still compare.
 */
export function withoutInlineWebhooks(spec: ServiceSpec): ServiceSpec {
  const inline = (u: unknown): u is string => typeof u === 'string' && !u.startsWith(STORED_INLINE);
  if (!spec.release.notify.some((n) => inline(n.url))) return spec;
  const out = structuredClone(spec);
  for (const n of out.release.notify) if (inline(n.url)) n.url = inlineDigest(n.url);
  return out;
}

/**
 * The release's webhooks with URLs and signing secrets given as { fromEnv | fromFile }
 * read. Targets that cannot be resolved are left out and described in `problems`.
 * A URL a stored spec holds only as a digest (see withoutInlineWebhooks) is taken
 * from `local`, the spec this process was given, when one of its URLs matches.
 */
export function resolveNotifyTargets(
  spec: ServiceSpec,
  baseDir: string,
  env: NodeJS.ProcessEnv = process.env,
  local?: ServiceSpec,
): { targets: ResolvedWebhook[]; problems: string[] } {
  const targets: ResolvedWebhook[] = [];
  const problems: string[] = [];
  const known = new Map<string, string>();
  for (const n of local?.release.notify ?? []) {
    if (typeof n.url === 'string') known.set(inlineDigest(n.url), n.url);
  }
  spec.release.notify.forEach((n, i) => {
    const before = problems.length;
    let url: string | undefined;
    if (typeof n.url !== 'string') {
      url = readSource(n.url, `release.notify[${i}].url`, baseDir, env, problems);
    } else if (!n.url.startsWith(STORED_INLINE)) {
      url = n.url;
    } else {
      url = known.get(n.url);
      if (url === undefined) {
        problems.push(
          `release.notify[${i}].url was written inline in the spec, and a release does not ` +
            'store inline webhook URLs: give this command the same spec with -f, or write the ' +
            'URL as { fromEnv } or { fromFile }',
        );
        return;
      }
    }
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
