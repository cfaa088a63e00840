// Secret values are read at deploy time from files or the environment, never
// from the spec. Errors name the key and the source, never a value.
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
    if (src.fromEnv !== undefined) {
      const v = env[src.fromEnv];
      if (v === undefined)
        missing.push(`secret ${key}: environment variable ${src.fromEnv} is not set`);
      else out[key] = v;
    } else if (src.fromFile !== undefined) {
      const path = isAbsolute(src.fromFile) ? src.fromFile : join(baseDir, src.fromFile);
      try {
        out[key] = readFileSync(path, 'utf8').replace(/\r?\n$/, '');
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? 'error';
        missing.push(`secret ${key}: cannot read ${path} (${code})`);
      }
    }
  }
  if (missing.length) throw new SecretSourceError(missing.join('\n'));
  return out;
}
