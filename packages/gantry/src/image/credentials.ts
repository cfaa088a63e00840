// Registry credentials as docker finds them: $DOCKER_CONFIG/config.json (else
// ~/.docker/config.json): a credential helper for the registry (credHelpers),
// else the default helper (credsStore), else the "auths" entry (base64
// "user:password" in "auth", or username/password, or an identity token).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface Credentials {
  username?: string;
  password?: string;
  /** OAuth2 refresh token ("identitytoken" in config.json), exchanged at the token endpoint. */
  identityToken?: string;
  /** A bearer token to send as is ("registrytoken" in config.json). */
  registryToken?: string;
}

export interface FoundCredentials {
  credentials?: Credentials;
  /** Where they came from (or why none were found), for error messages. */
  source: string;
}

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
  registrytoken?: string;
}

interface DockerConfig {
  auths?: Record<string, AuthEntry>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

export function dockerConfigDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.DOCKER_CONFIG || join(homedir(), '.docker');
}

/** The key docker uses for a registry in config.json and with credential helpers. */
export function dockerConfigKey(registry: string): string {
  return registry === 'docker.io' ? 'https://index.docker.io/v1/' : registry;
}

/** "https://host:5000/v1/" -> "host:5000"; Docker Hub's aliases -> "docker.io". */
function normaliseKey(key: string): string {
  const host = key.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '');
  return ['index.docker.io', 'registry-1.docker.io', 'docker.io'].includes(host)
    ? 'docker.io'
    : host;
}

function fromHelper(helper: string, registry: string): Credentials | string {
  const bin = `docker-credential-${helper}`;
  const r = spawnSync(bin, ['get'], {
    input: dockerConfigKey(registry),
    encoding: 'utf8',
    timeout: 15_000,
  });
  if (r.error) return `credential helper ${bin} failed: ${r.error.message}`;
  if (r.status !== 0) {
    const out = (r.stdout + r.stderr).trim();
    // "credentials not found in native keychain" is not an error: no credentials.
    return /not found/i.test(out) ? `${bin} has no credentials for ${registry}` : `${bin}: ${out}`;
  }
  try {
    const j = JSON.parse(r.stdout) as { Username?: string; Secret?: string };
    if (j.Username === '<token>') return { identityToken: j.Secret ?? '' };
    return { username: j.Username ?? '', password: j.Secret ?? '' };
  } catch {
    return `${bin} printed something other than JSON`;
  }
}

function fromEntry(e: AuthEntry): Credentials | undefined {
  if (e.registrytoken) return { registryToken: e.registrytoken };
  if (e.identitytoken) return { identityToken: e.identitytoken };
  if (e.auth) {
    const text = Buffer.from(e.auth, 'base64').toString('utf8');
    const i = text.indexOf(':');
    if (i < 0) return undefined;
    return { username: text.slice(0, i), password: text.slice(i + 1) };
  }
  if (e.username !== undefined && e.password !== undefined)
    return { username: e.username, password: e.password };
  return undefined;
}

/** Looks a registry's credentials up in docker's config.json (and its helpers). */
export function dockerCredentials(
  registry: string,
  configDir: string = dockerConfigDir(),
): FoundCredentials {
  const file = join(configDir, 'config.json');
  let cfg: DockerConfig;
  try {
    cfg = JSON.parse(readFileSync(file, 'utf8')) as DockerConfig;
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    return { source: missing ? `no ${file}` : `${file} is not valid JSON` };
  }
  const notes: string[] = [];
  const wanted = normaliseKey(registry);
  const helper =
    Object.entries(cfg.credHelpers ?? {}).find(([k]) => normaliseKey(k) === wanted)?.[1] ??
    cfg.credsStore;
  if (helper) {
    const r = fromHelper(helper, registry);
    if (typeof r !== 'string') return { credentials: r, source: `docker-credential-${helper}` };
    notes.push(r);
  }
  for (const [key, entry] of Object.entries(cfg.auths ?? {})) {
    if (normaliseKey(key) !== wanted) continue;
    const c = fromEntry(entry);
    if (c) return { credentials: c, source: `${file} (auths["${key}"])` };
  }
  notes.push(`no entry for ${registry} in ${file}`);
  return { source: notes.join('; ') };
}
