// An OCI distribution API client: manifests and blobs, anonymous / basic /
// bearer-token auth (credentials from docker's config.json), blob-exists
// checks, cross-repository mounts, and chunked uploads for large blobs.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { registryBaseUrl } from './ref.js';

export const MEDIA = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os: string; architecture: string };
}

export interface Manifest {
  schemaVersion: 2;
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

export class RegistryError extends Error {
  override name = 'RegistryError';
}

export interface Credentials {
  username: string;
  password: string;
}

/** Credentials for a registry from $DOCKER_CONFIG/config.json or ~/.docker/config.json. */
export function dockerCredentials(registry: string): Credentials | undefined {
  const dir = process.env.DOCKER_CONFIG ?? join(homedir(), '.docker');
  let cfg: { auths?: Record<string, { auth?: string; username?: string; password?: string }> };
  try {
    cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as typeof cfg;
  } catch {
    return undefined;
  }
  const keys =
    registry === 'docker.io'
      ? ['https://index.docker.io/v1/', 'docker.io', 'index.docker.io']
      : [registry, `https://${registry}`, `http://${registry}`];
  for (const k of keys) {
    const a = cfg.auths?.[k];
    if (a?.auth) {
      const [username, ...rest] = Buffer.from(a.auth, 'base64').toString('utf8').split(':');
      return { username: username ?? '', password: rest.join(':') };
    }
    if (a?.username && a.password) return { username: a.username, password: a.password };
  }
  return undefined;
}

export const sha256 = (data: Buffer): string =>
  `sha256:${createHash('sha256').update(data).digest('hex')}`;

export class RegistryClient {
  readonly base: string;
  private token: string | undefined;
  private readonly creds: Credentials | undefined;
  /** Bytes sent in blob uploads by this client. */
  bytesPushed = 0;

  constructor(
    readonly registry: string,
    opts: { credentials?: Credentials; chunkSize?: number } = {},
  ) {
    this.base = registryBaseUrl(registry);
    this.creds = opts.credentials ?? dockerCredentials(registry);
    this.chunkSize = opts.chunkSize ?? 16 << 20;
  }

  private readonly chunkSize: number;

  private async fetch(
    step: string,
    url: string,
    init: RequestInit = {},
    retried = false,
  ): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.token) headers.set('Authorization', `Bearer ${this.token}`);
    else if (this.creds && this.basicOk) {
      headers.set(
        'Authorization',
        `Basic ${Buffer.from(`${this.creds.username}:${this.creds.password}`).toString('base64')}`,
      );
    }
    let res: Response;
    try {
      res = await fetch(url.startsWith('http') ? url : this.base + url, {
        ...init,
        headers,
        redirect: 'follow',
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new RegistryError(
        `${step}: cannot reach registry ${this.registry} (${cause?.code ?? cause?.message ?? String(err)})`,
      );
    }
    if (res.status === 401 && !retried) {
      await res.arrayBuffer().catch(() => undefined);
      await this.authenticate(step, res.headers.get('www-authenticate') ?? '');
      return this.fetch(step, url, init, true);
    }
    return res;
  }

  private basicOk = false;

  private async authenticate(step: string, challenge: string): Promise<void> {
    if (/^basic/i.test(challenge)) {
      if (!this.creds)
        throw new RegistryError(
          `${step}: registry ${this.registry} requires credentials (none in docker config.json)`,
        );
      this.basicOk = true;
      return;
    }
    const params: Record<string, string> = {};
    for (const m of challenge.matchAll(/(\w+)="([^"]*)"/g)) params[m[1]!] = m[2]!;
    if (!/^bearer/i.test(challenge) || !params.realm) {
      throw new RegistryError(
        `${step}: registry ${this.registry} answered 401 with an unsupported challenge "${challenge}"`,
      );
    }
    const url = new URL(params.realm);
    if (params.service) url.searchParams.set('service', params.service);
    if (params.scope) url.searchParams.set('scope', params.scope);
    const headers: Record<string, string> = {};
    if (this.creds)
      headers.Authorization = `Basic ${Buffer.from(`${this.creds.username}:${this.creds.password}`).toString('base64')}`;
    const res = await fetch(url, { headers }).catch((err: unknown) => {
      throw new RegistryError(`${step}: token endpoint ${url.origin} unreachable: ${String(err)}`);
    });
    if (!res.ok)
      throw new RegistryError(
        `${step}: registry ${this.registry} refused the credentials (token endpoint HTTP ${res.status})`,
      );
    const body = (await res.json()) as { token?: string; access_token?: string };
    this.token = body.token ?? body.access_token;
  }

  private async fail(step: string, res: Response): Promise<never> {
    const text = await res.text().catch(() => '');
    const reason = res.status === 401 ? 'unauthorized (check the credentials)' : text.slice(0, 200);
    throw new RegistryError(`${step}: HTTP ${res.status} ${reason}`);
  }

  /** The image manifest for a tag or digest; multi-platform indexes resolve to linux/amd64. */
  async getManifest(
    repository: string,
    reference: string,
  ): Promise<{ manifest: Manifest; digest: string }> {
    const step = `reading ${this.registry}/${repository}:${reference}`;
    const accept = [MEDIA.ociManifest, MEDIA.ociIndex, MEDIA.dockerManifest, MEDIA.dockerList].join(
      ', ',
    );
    const res = await this.fetch(step, `/v2/${repository}/manifests/${reference}`, {
      headers: { Accept: accept },
    });
    if (res.status === 404) throw new RegistryError(`${step}: no such image or tag`);
    if (!res.ok) return this.fail(step, res);
    const body = Buffer.from(await res.arrayBuffer());
    const doc = JSON.parse(body.toString('utf8')) as Manifest & { manifests?: Descriptor[] };
    if (doc.manifests) {
      const pick = doc.manifests.find(
        (m) => m.platform?.os === 'linux' && m.platform.architecture === 'amd64',
      );
      if (!pick) throw new RegistryError(`${step}: the image has no linux/amd64 variant`);
      return this.getManifest(repository, pick.digest);
    }
    return { manifest: doc, digest: sha256(body) };
  }

  async getBlob(repository: string, digest: string): Promise<Buffer> {
    const step = `pulling ${digest.slice(0, 19)}… from ${this.registry}/${repository}`;
    const res = await this.fetch(step, `/v2/${repository}/blobs/${digest}`);
    if (!res.ok) return this.fail(step, res);
    const data = Buffer.from(await res.arrayBuffer());
    if (sha256(data) !== digest)
      throw new RegistryError(`${step}: content does not match its digest`);
    return data;
  }

  async hasBlob(repository: string, digest: string): Promise<boolean> {
    const res = await this.fetch(
      `checking ${digest.slice(0, 19)}…`,
      `/v2/${repository}/blobs/${digest}`,
      { method: 'HEAD' },
    );
    return res.ok;
  }

  /**
   * Uploads a blob unless the repository has it. With `mountFrom`, asks the
   * registry to mount it from another repository first (no bytes sent).
   * Returns how it got there.
   */
  async pushBlob(
    repository: string,
    digest: string,
    data: () => Promise<Buffer> | Buffer,
    mountFrom?: string,
  ): Promise<'exists' | 'mounted' | 'uploaded'> {
    const step = `pushing ${digest.slice(0, 19)}… to ${this.registry}/${repository}`;
    if (await this.hasBlob(repository, digest)) return 'exists';
    const start = mountFrom
      ? `/v2/${repository}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(mountFrom)}`
      : `/v2/${repository}/blobs/uploads/`;
    let res = await this.fetch(step, start, { method: 'POST' });
    if (res.status === 201) return 'mounted';
    if (res.status !== 202) return this.fail(step, res);
    const bytes = await data();
    let location = this.absolute(res.headers.get('location'), step);
    if (bytes.length > this.chunkSize) {
      for (let off = 0; off < bytes.length; off += this.chunkSize) {
        const chunk = bytes.subarray(off, Math.min(bytes.length, off + this.chunkSize));
        res = await this.fetch(step, location, {
          method: 'PATCH',
          headers: {
            'Content-Type': 'application/octet-stream',
            'Content-Range': `${off}-${off + chunk.length - 1}`,
          },
          body: chunk,
        });
        if (res.status !== 202) return this.fail(step, res);
        this.bytesPushed += chunk.length;
        location = this.absolute(res.headers.get('location'), step);
      }
      res = await this.fetch(step, withDigest(location, digest), { method: 'PUT' });
    } else {
      res = await this.fetch(step, withDigest(location, digest), {
        method: 'PUT',
        headers: { 'Content-Type': 'application/octet-stream' },
        body: bytes,
      });
      this.bytesPushed += bytes.length;
    }
    if (res.status !== 201) return this.fail(step, res);
    return 'uploaded';
  }

  async putManifest(
    repository: string,
    reference: string,
    manifest: Buffer,
    mediaType: string,
  ): Promise<string> {
    const step = `pushing manifest ${this.registry}/${repository}:${reference}`;
    const res = await this.fetch(step, `/v2/${repository}/manifests/${reference}`, {
      method: 'PUT',
      headers: { 'Content-Type': mediaType },
      body: manifest,
    });
    if (res.status !== 201) return this.fail(step, res);
    return sha256(manifest);
  }

  private absolute(location: string | null, step: string): string {
    if (!location) throw new RegistryError(`${step}: the registry gave no upload location`);
    return location.startsWith('http') ? location : this.base + location;
  }
}

function withDigest(location: string, digest: string): string {
  return `${location}${location.includes('?') ? '&' : '?'}digest=${encodeURIComponent(digest)}`;
}
