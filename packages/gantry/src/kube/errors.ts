// Types and errors of cluster access that cost nothing to import (the client
// library itself is loaded only by commands that talk to a cluster).

export interface ObjectRef {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
}

/** The machine-readable part of a Kubernetes Status response. */
export interface StatusInfo {
  /** e.g. "NotFound", "AlreadyExists", "Conflict". */
  reason?: string;
  /** The object the status is about, e.g. { kind: "namespaces", name: "shop" }. */
  details?: { name?: string; group?: string; kind?: string };
}

/** An error from the API server, with its HTTP status and the server's message. */
export class KubeApiError extends Error {
  override name = 'KubeApiError';
  constructor(
    readonly status: number,
    message: string,
    readonly info: StatusInfo = {},
  ) {
    super(message);
  }

  /** True when the request failed because namespace `name` does not exist. */
  isNamespaceNotFound(name: string): boolean {
    const d = this.info.details;
    return (
      this.status === 404 &&
      this.info.reason === 'NotFound' &&
      d?.kind === 'namespaces' &&
      !d.group &&
      d.name === name
    );
  }
}

export function describeObject(o: ObjectRef): string {
  const ns = o.metadata.namespace ? `${o.metadata.namespace}/` : '';
  return `${o.kind} ${ns}${o.metadata.name}`;
}
