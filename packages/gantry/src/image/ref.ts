// Image references: [registry/]repository[:tag][@digest], normalised as docker does.

export interface ImageRef {
  registry: string;
  repository: string;
  tag?: string;
  digest?: string;
}

export class ImageRefError extends Error {
  override name = 'ImageRefError';
}

export function parseImageRef(ref: string): ImageRef {
  const m =
    /^(?:([^/]+)\/)?([^@:]+(?:\/[^@:]+)*)(?::([\w][\w.-]{0,127}))?(?:@(sha256:[a-f0-9]{64}))?$/.exec(
      ref,
    );
  if (!m || !m[2]) throw new ImageRefError(`"${ref}" is not an image reference`);
  let registry = m[1];
  let repository = m[2];
  // The first component is a registry only if it looks like a host.
  if (registry && !/[.:]/.test(registry) && registry !== 'localhost') {
    repository = `${registry}/${repository}`;
    registry = undefined;
  }
  if (!registry) {
    registry = 'docker.io';
    if (!repository.includes('/')) repository = `library/${repository}`;
  }
  if (!/^[a-z0-9]+(?:[._-]+[a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-]+[a-z0-9]+)*)*$/.test(repository)) {
    throw new ImageRefError(
      `"${ref}": repository "${repository}" must be lower-case path components`,
    );
  }
  return {
    registry,
    repository,
    ...(m[3] ? { tag: m[3] } : {}),
    ...(m[4] ? { digest: m[4] } : {}),
  };
}

export function formatImageRef(r: ImageRef): string {
  return `${r.registry}/${r.repository}${r.tag ? `:${r.tag}` : ''}${r.digest ? `@${r.digest}` : ''}`;
}

/** Loopback registries speak plain http, as containerd and docker assume. */
export function registryBaseUrl(registry: string): string {
  const host = registry === 'docker.io' ? 'registry-1.docker.io' : registry;
  const plain = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$/.test(host);
  return `${plain ? 'http' : 'https'}://${host}`;
}
