// Loads configuration from four sources, later ones winning:
//   built-in defaults < CONFIG_DIR files < environment variables < SECRETS_DIR files
// CONFIG_DIR and SECRETS_DIR are Kubernetes-style mounts: one file per key, file name = key.
// Dot-files (Kubernetes' ..data symlink and timestamped ..2024_* directories) are skipped.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CONFIG_KEYS, KEYS, isConfigKey, isSecretKey } from './keys.js';
import type { ConfigKey, ConfigValues } from './keys.js';
import type { FaultConfig } from '../ops/faults.js';

export const DEFAULT_CONFIG_DIR = '/etc/user-service/config';
export const DEFAULT_SECRETS_DIR = '/etc/user-service/secrets';
const MAX_FILE_BYTES = 64 * 1024;

export type ConfigSource = 'default' | 'config-dir' | 'env' | 'secrets-dir';

export interface LoadOptions {
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Overrides env CONFIG_DIR. */
  readonly configDir?: string;
  /** Overrides env SECRETS_DIR. */
  readonly secretsDir?: string;
}

export interface LoadedConfig {
  readonly values: ConfigValues;
  /** The winning raw string per key (secret ones too: never log these directly). */
  readonly raw: Readonly<Record<ConfigKey, string>>;
  readonly sources: Readonly<Record<ConfigKey, ConfigSource>>;
  readonly configDir: string;
  readonly secretsDir: string;
  readonly warnings: readonly string[];
}

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

interface DirectoryValues {
  readonly values: Map<ConfigKey, string>;
  readonly warnings: string[];
  readonly problems: string[];
}

function errnoCode(err: unknown): string | undefined {
  return err instanceof Error && 'code' in err && typeof err.code === 'string'
    ? err.code
    : undefined;
}

/** Reads a one-file-per-key directory. A missing directory is not an error (mounts are optional). */
export function readKeyDirectory(dir: string, label: ConfigSource): DirectoryValues {
  const out: DirectoryValues = { values: new Map(), warnings: [], problems: [] };
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return out;
    out.problems.push(`${label} ${dir} cannot be read (${code ?? String(err)})`);
    return out;
  }
  for (const name of names.sort()) {
    if (name.startsWith('.')) continue;
    const path = join(dir, name);
    let size: number;
    try {
      const st = statSync(path);
      if (!st.isFile()) continue;
      size = st.size;
    } catch {
      continue; // dangling symlink mid-swap: the next reload sees the settled state
    }
    if (!isConfigKey(name)) {
      out.warnings.push(`ignoring ${label} file ${path}: not a known configuration key`);
      continue;
    }
    if (size > MAX_FILE_BYTES) {
      out.problems.push(`${name} (from ${label}): file is larger than ${MAX_FILE_BYTES} bytes`);
      continue;
    }
    try {
      out.values.set(name, readFileSync(path, 'utf8').trim());
    } catch (err) {
      out.problems.push(
        `${name} (from ${label}): cannot read ${path} (${errnoCode(err) ?? String(err)})`,
      );
    }
  }
  return out;
}

export function loadConfig(opts: LoadOptions = {}): LoadedConfig {
  const env = opts.env ?? process.env;
  const configDir = opts.configDir ?? (env.CONFIG_DIR || DEFAULT_CONFIG_DIR);
  const secretsDir = opts.secretsDir ?? (env.SECRETS_DIR || DEFAULT_SECRETS_DIR);
  const fromConfigDir = readKeyDirectory(configDir, 'config-dir');
  const fromSecretsDir = readKeyDirectory(secretsDir, 'secrets-dir');
  const problems = [...fromConfigDir.problems, ...fromSecretsDir.problems];
  const warnings = [...fromConfigDir.warnings, ...fromSecretsDir.warnings];

  const raw = {} as Record<ConfigKey, string>;
  const sources = {} as Record<ConfigKey, ConfigSource>;
  for (const key of CONFIG_KEYS) {
    let value: string = KEYS[key].default;
    let source: ConfigSource = 'default';
    const dirValue = fromConfigDir.values.get(key);
    if (dirValue !== undefined) [value, source] = [dirValue, 'config-dir'];
    const envValue = env[key];
    // An empty environment variable counts as unset.
    if (envValue !== undefined && envValue !== '') [value, source] = [envValue, 'env'];
    const secretValue = fromSecretsDir.values.get(key);
    if (secretValue !== undefined) [value, source] = [secretValue, 'secrets-dir'];
    raw[key] = value;
    sources[key] = source;
    if (isSecretKey(key) && source === 'config-dir') {
      warnings.push(`${key} is a secret but came from CONFIG_DIR; mount it from a Secret instead`);
    }
  }

  const values = {} as Record<ConfigKey, unknown>;
  for (const key of CONFIG_KEYS) {
    try {
      values[key] = KEYS[key].parse(raw[key]);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      problems.push(`${key} (from ${sources[key]}): ${message}`);
    }
  }
  const parsed = values as ConfigValues;
  if (problems.length === 0 && parsed.SHUTDOWN_DRAIN_DELAY_MS >= parsed.SHUTDOWN_TIMEOUT_MS) {
    problems.push(
      `SHUTDOWN_DRAIN_DELAY_MS (${parsed.SHUTDOWN_DRAIN_DELAY_MS}) must be less than ` +
        `SHUTDOWN_TIMEOUT_MS (${parsed.SHUTDOWN_TIMEOUT_MS})`,
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { values: parsed, raw, sources, configDir, secretsDir, warnings };
}

export function isRedacted(loaded: LoadedConfig, key: ConfigKey): boolean {
  return isSecretKey(key) || loaded.sources[key] === 'secrets-dir';
}

/** Key → value and source, safe to log: secret values are replaced by "[redacted]". */
export function describeConfig(
  loaded: LoadedConfig,
): Record<string, { value: string; source: ConfigSource }> {
  const out: Record<string, { value: string; source: ConfigSource }> = {};
  for (const key of CONFIG_KEYS) {
    out[key] = {
      value: isRedacted(loaded, key) ? '[redacted]' : loaded.raw[key],
      source: loaded.sources[key],
    };
  }
  return out;
}

export function faultConfigOf(values: ConfigValues): FaultConfig {
  return {
    latency: values.FAULT_LATENCY_MS,
    errorRate: values.FAULT_ERROR_RATE,
    errorStatus: values.FAULT_ERROR_STATUS,
    routes: values.FAULT_ROUTES,
    ready: values.FAULT_READY,
  };
}
