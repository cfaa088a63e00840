// Image references: [registry/]repository[:tag][@digest], normalised the way
// docker normalises them ("nginx" is docker.io/library/nginx), and the URL a
// registry's API is reached at.

export interface ImageRef {
  /** Registry host[:port]; "docker.io" for Docker Hub. */
  registry: string;
  /** Repository path, e.g. "library/nginx" or "gantry/user-service". */
  repository: string;
  tag?: string;
  /** "sha256:<64 hex>" (or another registered algorithm). */
  digest?: string;
}

export class ImageRefError extends Error {
  override name = 'ImageRefError';
}

const HOST_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = new RegExp(
  `^(?:${HOST_COMPONENT}(?:\\.${HOST_COMPONENT})*|\\[[0-9a-fA-F:.]+\\])(?::[0-9]+)?$`,
);
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;

/**
 * Parses an image reference. Rules, as docker applies them:
 * - the first path component is a registry only if it contains "." or ":", is
 *   "localhost", or has upper-case letters; otherwise the registry is docker.io;
 * - "index.docker.io" is docker.io, and a one-component docker.io repository
 *   lives under "library/";
 * - repository components are lower-case; a tag is up to 128 characters of
 *   [A-Za-z0-9_.-] not starting with "." or "-"; a digest is "algorithm:hex".
 * The tag is left undefined when absent (see `referenceOf` for the default).
 */
export function parseImageRef(ref: string): ImageRef {
  const fail = (why: string): never => {
    throw new ImageRefError(`"${ref}" is not a valid image reference: ${why}`);
  };
  if (ref === '' || ref.trim() !== ref) fail('empty or surrounded by spaces');
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) fail(`digest "${digest}" is not algorithm:hex`);
    if (digest.startsWith('sha256:') && !/^sha256:[a-f0-9]{64}$/.test(digest))
      fail('a sha256 digest is 64 lower-case hex digits');
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.indexOf(':', lastSlash + 1);
  if (colon >= 0) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag))
      fail(`tag "${tag}" must be [A-Za-z0-9_.-], at most 128, not starting with . or -`);
  }
  let registry = 'docker.io';
  let repository = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (/[.:]/.test(first) || first === 'localhost' || first !== first.toLowerCase()) {
      if (!DOMAIN.test(first)) fail(`registry "${first}" is not a host[:port]`);
      registry = first;
      repository = rest.slice(slash + 1);
    }
  }
  if (registry === 'index.docker.io' || registry === 'registry-1.docker.io') registry = 'docker.io';
  if (registry === 'docker.io' && repository !== '' && !repository.includes('/'))
    repository = `library/${repository}`;
  if (repository === '') fail('no repository');
  for (const c of repository.split('/')) {
    if (!PATH_COMPONENT.test(c))
      fail(
        `repository "${repository}" must be lower-case components of [a-z0-9._-] separated by /`,
      );
  }
  if (registry.length + 1 + repository.length > 255) fail('name longer than 255 characters');
  return { registry, repository, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
}

/** The canonical string form: registry/repository[:tag][@digest]. */
export function formatImageRef(r: ImageRef): string {
  return `${r.registry}/${r.repository}${r.tag ? `:${r.tag}` : ''}${r.digest ? `@${r.digest}` : ''}`;
}

/** What to ask the registry for: the digest when pinned, else the tag, else "latest". */
export function referenceOf(r: ImageRef): string {
  return r.digest ?? r.tag ?? 'latest';
}

/** Registry hosts that speak plain http: loopback, plus those named in GANTRY_INSECURE_REGISTRIES. */
export function isInsecureRegistry(registry: string): boolean {
  const host = registry.replace(/:\d+$/, '');
  if (/^(localhost|127(\.\d{1,3}){3}|\[::1\]|::1)$/.test(host)) return true;
  const list = (process.env.GANTRY_INSECURE_REGISTRIES ?? '').split(/[\s,]+/).filter(Boolean);
  return list.includes(registry) || list.includes(host);
}

/** The base URL of a registry's API (Docker Hub's API host is registry-1.docker.io). */
export function registryBaseUrl(registry: string, insecure = isInsecureRegistry(registry)): string {
  const host = registry === 'docker.io' ? 'registry-1.docker.io' : registry;
  return `${insecure ? 'http' : 'https'}://${host}`;
}
