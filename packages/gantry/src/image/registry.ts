// A client for the OCI distribution API: manifests (image indexes resolve to
// one platform), blobs (streamed to disk and verified), blob-exists checks,
// monolithic and chunked uploads, cross-repository mounts, and manifest pushes.
// Auth: anonymous, basic, and bearer tokens from the registry's token service
// (WWW-Authenticate challenge, scoped per repository), with credentials given
// explicitly or found in docker's config.json. Errors say which registry, which
// repository and which step failed.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { splitDigest, tempPath } from './cache.js';
import { dockerCredentials } from './credentials.js';
import type { Credentials } from './credentials.js';
import { isInsecureRegistry, registryBaseUrl } from './ref.js';

export const MEDIA = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

export interface ManifestResult {
  manifest: ImageManifest;
  /** The manifest exactly as served (its sha256 is `digest`). */
  bytes: Buffer;
  digest: string;
  mediaType: string;
  /** When the reference named an image index: the index's digest. */
  indexDigest?: string;
}

export interface RegistryOptions {
  /** Explicit credentials; default: docker's config.json. */
  credentials?: Credentials;
  /** Ignore docker's config.json and send no credentials. */
  anonymous?: boolean;
  /** Speak plain http (default: loopback hosts and GANTRY_INSECURE_REGISTRIES). */
  insecure?: boolean;
  /** Blobs larger than this go up in PATCH chunks of this size (default 8 MiB). */
  chunkSize?: number;
  /** Retries of idempotent requests and whole blob uploads on transient failures (default 3). */
  retries?: number;
  /** Called after every HTTP request (for logs and tests). */
  onRequest?: (r: { method: string; url: string; status: number; step: string }) => void;
}

export interface RegistryErrorInfo {
  registry: string;
  repository?: string;
  step: string;
  status?: number;
  /** Distribution error code (MANIFEST_UNKNOWN, UNAUTHORIZED, …) or a network error code. */
  code?: string;
  transient?: boolean;
}

export class RegistryError extends Error {
  override name = 'RegistryError';
  constructor(
    message: string,
    readonly info: RegistryErrorInfo,
  ) {
    super(message);
  }
}

/** "sha256:0123456789ab…" for messages. */
export const shortDigest = (d: string) => `${d.slice(0, d.indexOf(':') + 13)}…`;

export type BlobContent = { path: string } | { data: Buffer };

export type PushBlobResult = 'exists' | 'mounted' | 'uploaded';

export interface RegistryStats {
  requests: number;
  bytesUploaded: number;
  blobsUploaded: number;
  blobsMounted: number;
  blobsExisting: number;
}

interface Call {
  step: string;
  repository?: string;
  /** Token scopes the request needs, e.g. "repository:a/b:pull,push". */
  scopes: string[];
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: Buffer;
  /** Safe to send again after a 5xx or a reset connection. */
  idempotent?: boolean;
}

interface Token {
  token: string;
  scopes: Set<string>;
  expires: number;
}

const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

const pullScope = (repo: string) => `repository:${repo}:pull`;
const pushScope = (repo: string) => `repository:${repo}:pull,push`;

/** Actions granted per resource, so "repository:a:pull,push" covers "repository:a:pull". */
function covers(granted: Set<string>, wanted: string[]): boolean {
  const actions = new Map<string, Set<string>>();
  for (const s of granted) {
    const i = s.lastIndexOf(':');
    const set = actions.get(s.slice(0, i)) ?? new Set<string>();
    for (const a of s.slice(i + 1).split(',')) set.add(a);
    actions.set(s.slice(0, i), set);
  }
  return wanted.every((s) => {
    const i = s.lastIndexOf(':');
    const have = actions.get(s.slice(0, i));
    return s
      .slice(i + 1)
      .split(',')
      .every((a) => have?.has(a) || have?.has('*'));
  });
}

function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
  const m = /^\s*(\w+)\s*(.*)$/s.exec(header);
  const params: Record<string, string> = {};
  for (const p of (m?.[2] ?? '').matchAll(/(\w+)=(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g))
    params[p[1]!.toLowerCase()] = p[2] ?? p[3] ?? '';
  return { scheme: (m?.[1] ?? '').toLowerCase(), params };
}

/** "MANIFEST_UNKNOWN: manifest unknown" from a distribution error body. */
function errorDetail(text: string): { code?: string; message: string } {
  try {
    const j = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
    const e = j.errors?.[0];
    if (e)
      return {
        ...(e.code ? { code: e.code } : {}),
        message: `${e.code ?? ''}: ${e.message ?? ''}`.trim(),
      };
  } catch {
    // not JSON
  }
  return { message: text.replace(/\s+/g, ' ').trim().slice(0, 200) };
}

export class RegistryClient {
  readonly base: string;
  readonly stats: RegistryStats = {
    requests: 0,
    bytesUploaded: 0,
    blobsUploaded: 0,
    blobsMounted: 0,
    blobsExisting: 0,
  };
  private readonly credentials: Credentials | undefined;
  private readonly credentialSource: string;
  private readonly chunkSize: number;
  private readonly retries: number;
  private basic = false;
  private tokens: Token[] = [];

  constructor(
    readonly registry: string,
    private readonly opts: RegistryOptions = {},
  ) {
    this.base = registryBaseUrl(registry, opts.insecure ?? isInsecureRegistry(registry));
    if (opts.credentials) {
      this.credentials = opts.credentials;
      this.credentialSource = 'given explicitly';
    } else if (opts.anonymous) {
      this.credentialSource = 'anonymous';
    } else {
      const found = dockerCredentials(registry);
      this.credentials = found.credentials;
      this.credentialSource = found.source;
    }
    this.chunkSize = opts.chunkSize ?? 8 << 20;
    this.retries = opts.retries ?? 3;
  }

  private fail(call: Call, detail: string, extra: Partial<RegistryErrorInfo> = {}): never {
    throw new RegistryError(`${call.step}: ${detail}`, {
      registry: this.registry,
      ...(call.repository ? { repository: call.repository } : {}),
      step: call.step,
      ...extra,
    });
  }

  private async failResponse(call: Call, res: Response, expected: string): Promise<never> {
    const d = errorDetail(await res.text().catch(() => ''));
    const transient = res.status >= 500 || res.status === 429;
    let why = d.message || res.statusText;
    if (res.status === 401) why = `unauthorized (${this.describeCredentials()})`;
    if (res.status === 403)
      why = `denied: ${d.message || 'the credentials lack access'} (${this.describeCredentials()})`;
    return this.fail(
      call,
      `HTTP ${res.status} ${why}${expected ? ` (expected ${expected})` : ''}`,
      {
        status: res.status,
        ...(d.code ? { code: d.code } : {}),
        transient,
      },
    );
  }

  private describeCredentials(): string {
    const c = this.credentials;
    if (!c) return `no credentials: ${this.credentialSource}`;
    const who = c.username !== undefined ? `user "${c.username}"` : 'token';
    return `${who}, ${this.credentialSource}`;
  }

  private url(u: string): string {
    return new URL(u, this.base).toString();
  }

  private authorization(scopes: string[]): string | undefined {
    const now = Date.now();
    this.tokens = this.tokens.filter((t) => t.expires > now);
    const t = this.tokens.find((t) => covers(t.scopes, scopes));
    if (t) return `Bearer ${t.token}`;
    const c = this.credentials;
    if (this.basic && c?.username !== undefined)
      return `Basic ${Buffer.from(`${c.username}:${c.password ?? ''}`).toString('base64')}`;
    return undefined;
  }

  /** Sends a request, answering auth challenges and retrying transient failures. */
  private async send(call: Call): Promise<Response> {
    let authTried = false;
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = { 'User-Agent': 'gantry', ...call.headers };
      const auth = this.authorization(call.scopes);
      if (auth) headers.Authorization = auth;
      let res: Response;
      try {
        res = await fetch(this.url(call.url), {
          method: call.method,
          headers,
          ...(call.body ? { body: call.body } : {}),
          redirect: 'follow',
        });
      } catch (err) {
        const cause = (err as { cause?: { code?: string; message?: string } }).cause;
        const code = cause?.code ?? '';
        if (UNREACHABLE.has(code)) {
          this.fail(
            call,
            `cannot reach registry ${this.registry} at ${this.base} (${code}): is it running?`,
            {
              code,
            },
          );
        }
        if (call.idempotent && attempt < this.retries) {
          await sleep(250 * 2 ** attempt);
          continue;
        }
        this.fail(
          call,
          `connection to ${this.base} failed (${code || cause?.message || String(err)})`,
          {
            ...(code ? { code } : {}),
            transient: true,
          },
        );
      }
      this.stats.requests++;
      this.opts.onRequest?.({
        method: call.method,
        url: call.url,
        status: res.status,
        step: call.step,
      });
      if (res.status === 401 && !authTried) {
        await res.arrayBuffer().catch(() => undefined);
        authTried = true;
        await this.authenticate(call, res.headers.get('www-authenticate') ?? '');
        attempt--;
        continue;
      }
      if ((res.status >= 500 || res.status === 429) && call.idempotent && attempt < this.retries) {
        await res.arrayBuffer().catch(() => undefined);
        const after = Number(res.headers.get('retry-after'));
        await sleep(
          Number.isFinite(after) && after > 0 ? Math.min(after, 5) * 1000 : 250 * 2 ** attempt,
        );
        continue;
      }
      return res;
    }
  }

  private async authenticate(call: Call, header: string): Promise<void> {
    const { scheme, params } = parseChallenge(header);
    const c = this.credentials;
    if (scheme === 'basic') {
      if (c?.username === undefined) {
        this.fail(
          call,
          `HTTP 401: registry ${this.registry} requires a user name and password (${this.describeCredentials()})`,
          {
            status: 401,
            code: 'UNAUTHORIZED',
          },
        );
      }
      this.basic = true;
      return;
    }
    if (scheme !== 'bearer' || !params.realm) {
      this.fail(call, `HTTP 401 with an unsupported challenge "${header}"`, { status: 401 });
    }
    if (c?.registryToken) {
      // A given bearer token covers whatever it covers: send it for this request's scopes.
      this.tokens.push({ token: c.registryToken, scopes: new Set(call.scopes), expires: Infinity });
      return;
    }
    const scopes = [...new Set([...call.scopes, ...(params.scope ? params.scope.split(' ') : [])])];
    const url = new URL(params.realm);
    let res: Response;
    try {
      if (c?.identityToken) {
        const form = new URLSearchParams({
          grant_type: 'refresh_token',
          refresh_token: c.identityToken,
          client_id: 'gantry',
          ...(params.service ? { service: params.service } : {}),
          scope: scopes.join(' '),
        });
        res = await fetch(url, {
          method: 'POST',
          body: form,
          signal: AbortSignal.timeout(30_000),
        });
      } else {
        if (params.service) url.searchParams.set('service', params.service);
        for (const s of scopes) url.searchParams.append('scope', s);
        const headers: Record<string, string> = { 'User-Agent': 'gantry' };
        if (c?.username !== undefined)
          headers.Authorization = `Basic ${Buffer.from(`${c.username}:${c.password ?? ''}`).toString('base64')}`;
        res = await fetch(url, { headers, signal: AbortSignal.timeout(30_000) });
      }
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause;
      this.fail(
        call,
        `cannot reach the token service ${url.origin} of registry ${this.registry} (${cause?.code ?? String(err)})`,
        {
          ...(cause?.code ? { code: cause.code } : {}),
        },
      );
    }
    if (res.status === 401 || res.status === 403) {
      this.fail(
        call,
        `HTTP ${res.status} unauthorized: the token service ${url.origin} rejected the credentials (${this.describeCredentials()})`,
        {
          status: res.status,
          code: 'UNAUTHORIZED',
        },
      );
    }
    if (!res.ok) {
      this.fail(
        call,
        `token service ${url.origin} answered HTTP ${res.status} ${errorDetail(await res.text()).message}`,
        {
          status: res.status,
        },
      );
    }
    const body = (await res.json()) as {
      token?: string;
      access_token?: string;
      expires_in?: number;
    };
    const token = body.token ?? body.access_token;
    if (!token) this.fail(call, `token service ${url.origin} returned no token`);
    const ttl = Math.max(30, body.expires_in ?? 60) * 1000;
    this.tokens.push({ token, scopes: new Set(scopes), expires: Date.now() + ttl - 10_000 });
  }

  /**
   * The image manifest for a tag or digest. An image index (or docker manifest
   * list) resolves to the manifest for `platform` (default linux/amd64).
   */
  async getManifest(
    repository: string,
    reference: string,
    opts: { platform?: Platform } = {},
  ): Promise<ManifestResult> {
    const platform = opts.platform ?? { os: 'linux', architecture: 'amd64' };
    const sep = reference.includes(':') ? '@' : ':';
    const call: Call = {
      step: `reading manifest ${this.registry}/${repository}${sep}${reference}`,
      repository,
      scopes: [pullScope(repository)],
      method: 'GET',
      url: `/v2/${repository}/manifests/${reference}`,
      headers: {
        Accept: [MEDIA.ociManifest, MEDIA.ociIndex, MEDIA.dockerManifest, MEDIA.dockerList].join(
          ', ',
        ),
      },
      idempotent: true,
    };
    const res = await this.send(call);
    if (res.status === 404) {
      const d = errorDetail(await res.text());
      const what =
        d.code === 'NAME_UNKNOWN'
          ? `repository ${repository} does not exist on ${this.registry}`
          : sep === '@'
            ? `no manifest ${reference} in ${this.registry}/${repository}`
            : `tag "${reference}" not found in ${this.registry}/${repository}`;
      this.fail(call, `HTTP 404 ${what}`, { status: 404, code: d.code ?? 'MANIFEST_UNKNOWN' });
    }
    if (!res.ok) return this.failResponse(call, res, '200');
    const bytes = Buffer.from(await res.arrayBuffer());
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    if (sep === '@' && reference.startsWith('sha256:') && digest !== reference)
      this.fail(call, `the registry served content whose digest is ${digest}`);
    let doc: Partial<ImageManifest> & { manifests?: Descriptor[]; schemaVersion?: number };
    try {
      doc = JSON.parse(bytes.toString('utf8')) as typeof doc;
    } catch {
      return this.fail(call, 'the manifest is not JSON');
    }
    const mediaType = doc.mediaType ?? res.headers.get('content-type')?.split(';')[0] ?? '';
    if (doc.schemaVersion !== 2)
      this.fail(
        call,
        `schema version ${doc.schemaVersion} manifests are not supported (only version 2 / OCI)`,
      );
    if (doc.manifests) {
      const pick = doc.manifests.find(
        (m) =>
          m.platform?.os === platform.os &&
          m.platform.architecture === platform.architecture &&
          (!platform.variant || m.platform.variant === platform.variant),
      );
      if (!pick) {
        const have = doc.manifests
          .map((m) =>
            m.platform
              ? `${m.platform.os}/${m.platform.architecture}${m.platform.variant ? `/${m.platform.variant}` : ''}`
              : '?',
          )
          .join(', ');
        this.fail(
          call,
          `the image index has no ${platform.os}/${platform.architecture} image (it has: ${have})`,
        );
      }
      const inner = await this.getManifest(repository, pick.digest, opts);
      return { ...inner, indexDigest: digest };
    }
    if (!doc.config || !Array.isArray(doc.layers))
      this.fail(call, `not an image manifest (${mediaType})`);
    return { manifest: doc as ImageManifest, bytes, digest, mediaType };
  }

  /** Whether the repository has the blob (HEAD). */
  async hasBlob(
    repository: string,
    digest: string,
    opts: { scopes?: string[]; step?: string } = {},
  ): Promise<boolean> {
    const call: Call = {
      step:
        opts.step ?? `checking for blob ${shortDigest(digest)} in ${this.registry}/${repository}`,
      repository,
      scopes: opts.scopes ?? [pullScope(repository)],
      method: 'HEAD',
      url: `/v2/${repository}/blobs/${digest}`,
      idempotent: true,
    };
    const res = await this.send(call);
    if (res.ok) return true;
    if (res.status === 404) return false;
    return this.failResponse(call, res, '200 or 404');
  }

  /** A small blob (a config) in memory, verified against its digest. */
  async getBlob(repository: string, digest: string): Promise<Buffer> {
    const [alg] = splitDigest(digest);
    const call = this.blobGet(repository, digest);
    const res = await this.send(call);
    if (!res.ok) return this.failResponse(call, res, '200');
    const data = Buffer.from(await res.arrayBuffer());
    if (`${alg}:${createHash(alg).update(data).digest('hex')}` !== digest)
      this.fail(call, 'the content does not match its digest');
    return data;
  }

  private blobGet(repository: string, digest: string): Call {
    return {
      step: `pulling blob ${shortDigest(digest)} from ${this.registry}/${repository}`,
      repository,
      scopes: [pullScope(repository)],
      method: 'GET',
      url: `/v2/${repository}/blobs/${digest}`,
      idempotent: true,
    };
  }

  /** Streams a blob to `dest` (written atomically), verifying its digest. Returns its size. */
  async downloadBlob(repository: string, digest: string, dest: string): Promise<number> {
    const [alg] = splitDigest(digest);
    const call = this.blobGet(repository, digest);
    const res = await this.send(call);
    if (!res.ok || !res.body) return this.failResponse(call, res, '200');
    await mkdir(dirname(dest), { recursive: true });
    const tmp = tempPath(dest);
    const hash = createHash(alg);
    let size = 0;
    try {
      await pipeline(
        Readable.fromWeb(res.body as WebReadableStream<Uint8Array>),
        new Transform({
          transform(chunk: Buffer, _e, cb) {
            hash.update(chunk);
            size += chunk.length;
            cb(null, chunk);
          },
        }),
        createWriteStream(tmp),
      );
      if (`${alg}:${hash.digest('hex')}` !== digest)
        this.fail(call, `the content does not match its digest (${size} bytes received)`);
      await rename(tmp, dest);
      return size;
    } catch (err) {
      await rm(tmp, { force: true });
      if (err instanceof RegistryError) throw err;
      return this.fail(call, `download failed: ${(err as Error).message}`, { transient: true });
    }
  }

  /**
   * Puts a blob in a repository unless it is there already. With `mountFrom`,
   * asks the registry to mount it from that repository (same registry; no
   * bytes sent); a registry that declines (202) gets it uploaded instead.
   * `content` may be a function, called only when bytes must really be sent.
   */
  async pushBlob(
    repository: string,
    desc: { digest: string; size: number },
    content: BlobContent | (() => Promise<BlobContent>),
    opts: { mountFrom?: string; what?: string } = {},
  ): Promise<PushBlobResult> {
    const what = opts.what ?? 'blob';
    const step = `pushing ${what} ${shortDigest(desc.digest)} to ${this.registry}/${repository}`;
    const scopes = [pushScope(repository), ...(opts.mountFrom ? [pullScope(opts.mountFrom)] : [])];
    for (let attempt = 0; ; attempt++) {
      try {
        if (await this.hasBlob(repository, desc.digest, { scopes, step })) {
          this.stats.blobsExisting++;
          return 'exists';
        }
        const start: Call = {
          step,
          repository,
          scopes,
          method: 'POST',
          url: opts.mountFrom
            ? `/v2/${repository}/blobs/uploads/?mount=${encodeURIComponent(desc.digest)}&from=${encodeURIComponent(opts.mountFrom)}`
            : `/v2/${repository}/blobs/uploads/`,
        };
        const res = await this.send(start);
        if (res.status === 201 && opts.mountFrom) {
          await res.arrayBuffer();
          this.stats.blobsMounted++;
          return 'mounted';
        }
        if (res.status !== 202) return await this.failResponse(start, res, '202');
        await res.arrayBuffer();
        const location = res.headers.get('location');
        if (!location) this.fail(start, 'the registry gave no upload location');
        const data = typeof content === 'function' ? await content() : content;
        await this.upload(step, repository, scopes, location, desc, data);
        this.stats.blobsUploaded++;
        return 'uploaded';
      } catch (err) {
        if (err instanceof RegistryError && err.info.transient && attempt < this.retries) {
          await sleep(500 * 2 ** attempt);
          continue;
        }
        throw err;
      }
    }
  }

  private async upload(
    step: string,
    repository: string,
    scopes: string[],
    location: string,
    desc: { digest: string; size: number },
    content: BlobContent,
  ): Promise<void> {
    const call = (method: string, url: string, extra: Partial<Call> = {}): Call => ({
      step,
      repository,
      scopes,
      method,
      url,
      ...extra,
    });
    const withDigest = (loc: string) => {
      const u = new URL(loc, this.base);
      u.searchParams.set('digest', desc.digest);
      return u.toString();
    };
    const read = await openContent(content, desc.size);
    try {
      if (desc.size <= this.chunkSize) {
        const body = await read(0, desc.size);
        const res = await this.send(
          call('PUT', withDigest(location), {
            headers: { 'Content-Type': 'application/octet-stream' },
            body,
          }),
        );
        if (res.status !== 201) return await this.failResponse(call('PUT', location), res, '201');
        await res.arrayBuffer();
        this.stats.bytesUploaded += body.length;
        return;
      }
      let loc = location;
      for (let off = 0; off < desc.size; off += this.chunkSize) {
        const body = await read(off, Math.min(this.chunkSize, desc.size - off));
        const end = off + body.length - 1;
        const c = call('PATCH', loc, {
          headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${off}-${end}` },
          body,
        });
        const res = await this.send(c);
        if (res.status !== 202) return await this.failResponse(c, res, '202');
        await res.arrayBuffer();
        const range = /^(?:bytes=)?0-(\d+)$/.exec(res.headers.get('range') ?? '');
        if (range && Number(range[1]) !== end)
          this.fail(c, `the registry holds bytes 0-${range[1]} after a chunk ending at ${end}`, {
            transient: true,
          });
        this.stats.bytesUploaded += body.length;
        loc = res.headers.get('location') ?? loc;
      }
      const done = call('PUT', withDigest(loc), { headers: { 'Content-Length': '0' } });
      const res = await this.send(done);
      if (res.status !== 201) return await this.failResponse(done, res, '201');
      await res.arrayBuffer();
    } finally {
      await read.close();
    }
  }

  /** Pushes a manifest under a tag (or its digest); returns its digest. */
  async putManifest(
    repository: string,
    reference: string,
    bytes: Buffer,
    mediaType: string,
  ): Promise<string> {
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    const call: Call = {
      step: `pushing manifest ${this.registry}/${repository}${reference.includes(':') ? '@' : ':'}${reference}`,
      repository,
      scopes: [pushScope(repository)],
      method: 'PUT',
      url: `/v2/${repository}/manifests/${reference}`,
      headers: { 'Content-Type': mediaType },
      body: bytes,
      idempotent: true,
    };
    const res = await this.send(call);
    if (res.status !== 201 && res.status !== 200) return this.failResponse(call, res, '201');
    await res.arrayBuffer();
    const served = res.headers.get('docker-content-digest');
    if (served && served !== digest)
      this.fail(call, `the registry computed digest ${served}, not ${digest}`);
    return digest;
  }
}

type Reader = ((offset: number, length: number) => Promise<Buffer>) & { close(): Promise<void> };

async function openContent(content: BlobContent, size: number): Promise<Reader> {
  if ('data' in content) {
    if (content.data.length !== size)
      throw new Error(`blob is ${content.data.length} bytes, expected ${size}`);
    return Object.assign(
      (o: number, l: number) => Promise.resolve(content.data.subarray(o, o + l)),
      {
        close: () => Promise.resolve(),
      },
    );
  }
  const fh = await open(content.path, 'r');
  const st = await fh.stat();
  if (st.size !== size) {
    await fh.close();
    throw new Error(`${content.path} is ${st.size} bytes, expected ${size}`);
  }
  return Object.assign(
    async (o: number, l: number) => {
      const buf = Buffer.alloc(l);
      let got = 0;
      while (got < l) {
        const { bytesRead } = await fh.read(buf, got, l - got, o + got);
        if (bytesRead === 0) throw new Error(`${content.path} ended early`);
        got += bytesRead;
      }
      return buf;
    },
    { close: () => fh.close() },
  );
}
