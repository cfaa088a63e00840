// Cluster access: server-side apply, reads, deletes, watches, logs and the
// service proxy, over a kept-alive HTTPS pool. Kubernetes object types come
// from @kubernetes/client-node (types only); the library itself is loaded
// only for kubeconfigs whose credentials need an exec plugin or auth provider.
import type { KubeObject } from '../render/index.js';
import { KubeApiError, describeObject } from './errors.js';
import type { ObjectRef } from './errors.js';
import { existsSync } from 'node:fs';
import { inClusterAvailable, inClusterToken, loadInClusterAccess } from './in-cluster.js';
import { kubeconfigPath, loadClusterAccess } from './kubeconfig.js';
import { ResourcePaths } from './resources.js';
import { httpsTransport, statusInfo, statusMessage } from './transport.js';
import type { CredentialSource, Transport } from './transport.js';
import type { KubeConfig } from '@kubernetes/client-node';

export { KubeApiError, describeObject } from './errors.js';
export type { ObjectRef, StatusInfo } from './errors.js';

export const FIELD_MANAGER = 'gantry';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface KubeOptions {
  /** Path to a kubeconfig; default the first file in $KUBECONFIG, then ~/.kube/config. */
  kubeconfig?: string;
  context?: string;
}

const query = (q: Record<string, string | number | boolean | undefined>) => {
  const parts = Object.entries(q)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  return parts.length ? `?${parts.join('&')}` : '';
};

export class Kube {
  private readonly paths: ResourcePaths;

  constructor(private readonly http: Transport) {
    this.paths = new ResourcePaths(async (apiVersion) => {
      const prefix = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
      const list = await this.json<{
        resources: { kind: string; name: string; namespaced: boolean }[];
      }>('GET', prefix, undefined, `discover ${apiVersion}`);
      return list.resources;
    });
  }

  static load(opts: KubeOptions = {}): Kube {
    const path = kubeconfigPath(opts.kubeconfig);
    // In a pod with no kubeconfig given or found: its ServiceAccount (as client-go does).
    if (!opts.kubeconfig && !process.env.KUBECONFIG && !existsSync(path) && inClusterAvailable()) {
      return Kube.inCluster();
    }
    const access = loadClusterAccess(path, opts.context);
    let plugin: CredentialSource | undefined;
    if (access.needsPlugin) {
      // Exec plugins and auth providers: the client library runs them. One KubeConfig
      // (its authenticators keep credentials that carry an expiry), a new one when the
      // server refused the last credentials.
      let kc: KubeConfig | undefined;
      plugin = async (fresh) => {
        const lib = await import('@kubernetes/client-node');
        if (fresh || !kc) {
          kc = new lib.KubeConfig();
          kc.loadFromFile(path);
          if (opts.context) kc.setCurrentContext(opts.context);
        }
        const o: {
          headers?: Record<string, string>;
          cert?: string | Buffer;
          key?: string | Buffer;
        } = { headers: {} };
        await kc.applyToHTTPSOptions(o);
        return {
          headers: o.headers ?? {},
          ...(o.cert && o.key ? { cert: o.cert, key: o.key } : {}),
        };
      };
    }
    return new Kube(httpsTransport(access, plugin));
  }

  /** The pod's own ServiceAccount: the in-cluster API server address, CA and token. */
  static inCluster(): Kube {
    return new Kube(httpsTransport(loadInClusterAccess(), inClusterToken()));
  }

  get server(): string {
    return this.http.server;
  }

  private async json<T>(
    method: string,
    path: string,
    body: unknown,
    what: string,
    contentType?: string,
  ): Promise<T> {
    const res = await this.http.request(method, path, body, contentType);
    if (res.status >= 300)
      throw new KubeApiError(
        res.status,
        `${what}: ${statusMessage(res.text)}`,
        statusInfo(res.text),
      );
    return JSON.parse(res.text) as T;
  }

  private objectPath(ref: ObjectRef, name = true): Promise<string> {
    return this.paths.path(
      ref.apiVersion,
      ref.kind,
      ref.metadata.namespace,
      name ? ref.metadata.name : undefined,
    );
  }

  /**
   * Server-side apply as field manager "gantry" (conflicts forced: Gantry owns these fields).
   * Another `fieldManager` applies only the fields given, leaving gantry's own alone (a
   * restart's annotation: under "gantry" the fields left out of it would be dropped).
   */
  async apply<T extends KubeObject>(
    obj: T,
    opts: { dryRun?: boolean; fieldManager?: string } = {},
  ): Promise<T> {
    const path =
      (await this.objectPath(obj)) +
      query({
        fieldManager: opts.fieldManager ?? FIELD_MANAGER,
        force: true,
        dryRun: opts.dryRun ? 'All' : undefined,
      });
    return this.json<T>(
      'PATCH',
      path,
      obj,
      `apply ${describeObject(obj)}${opts.dryRun ? ' (dry run)' : ''}`,
      'application/apply-patch+yaml',
    );
  }

  /** The object, or undefined when it does not exist. */
  async get<T = KubeObject>(ref: ObjectRef): Promise<T | undefined> {
    const res = await this.http.request('GET', await this.objectPath(ref));
    if (res.status === 404) return undefined;
    if (res.status >= 300)
      throw new KubeApiError(
        res.status,
        `get ${describeObject(ref)}: ${statusMessage(res.text)}`,
        statusInfo(res.text),
      );
    return JSON.parse(res.text) as T;
  }

  async create<T extends KubeObject>(obj: T): Promise<T> {
    return this.json<T>(
      'POST',
      await this.objectPath(obj, false),
      obj,
      `create ${describeObject(obj)}`,
    );
  }

  /** Replaces an object; fails with status 409 when resourceVersion is stale. */
  async replace<T extends KubeObject>(obj: T): Promise<T> {
    return this.json<T>('PUT', await this.objectPath(obj), obj, `replace ${describeObject(obj)}`);
  }

  /**
   * Deletes an object; true when it existed. Dependents are deleted in the background. With
   * `preconditions`, the API server deletes only the object of that uid / resourceVersion and
   * answers 409 otherwise.
   */
  async delete(
    ref: ObjectRef,
    preconditions?: { uid?: string; resourceVersion?: string },
  ): Promise<boolean> {
    const res = await this.http.request('DELETE', await this.objectPath(ref), {
      apiVersion: 'v1',
      kind: 'DeleteOptions',
      propagationPolicy: 'Background',
      ...(preconditions ? { preconditions } : {}),
    });
    if (res.status === 404) return false;
    if (res.status >= 300)
      throw new KubeApiError(
        res.status,
        `delete ${describeObject(ref)}: ${statusMessage(res.text)}`,
        statusInfo(res.text),
      );
    return true;
  }

  async list<T = KubeObject>(
    apiVersion: string,
    kind: string,
    namespace: string | undefined,
    selectors: { labelSelector?: string; fieldSelector?: string } = {},
  ): Promise<T[]> {
    const path = (await this.paths.path(apiVersion, kind, namespace)) + query(selectors);
    const out = await this.json<{ items: T[] }>(
      'GET',
      path,
      undefined,
      `list ${kind}${namespace ? ` in ${namespace}` : ''}`,
    );
    return out.items;
  }

  /**
   * Watches a collection path (e.g. /apis/apps/v1/namespaces/ns/deployments)
   * and calls onEvent for every change. Returns a function that stops it.
   */
  watch<T = KubeObject>(
    path: string,
    params: Record<string, string>,
    onEvent: (type: WatchEventType, obj: T) => void,
    onEnd: (err: unknown) => void = () => undefined,
  ): Promise<() => void> {
    const stop = this.http.stream(
      path + query({ ...params, watch: 1, allowWatchBookmarks: true }),
      (line) => {
        let ev: { type: WatchEventType; object: T };
        try {
          ev = JSON.parse(line) as { type: WatchEventType; object: T };
        } catch {
          return;
        }
        if (ev.type === 'ERROR') {
          onEnd(
            new KubeApiError(
              0,
              `watch ${path}: ${(ev.object as { message?: string }).message ?? 'error'}`,
            ),
          );
          return;
        }
        onEvent(ev.type, ev.object);
      },
      onEnd,
    );
    return Promise.resolve(stop);
  }

  /** The last lines of a container's log (current, or previous when it crashed). */
  async logTail(namespace: string, pod: string, container: string, lines = 20): Promise<string> {
    const read = async (previous: boolean) => {
      const res = await this.http.request(
        'GET',
        `/api/v1/namespaces/${namespace}/pods/${pod}/log${query({ container, tailLines: lines, previous: previous || undefined })}`,
      );
      return res.status < 300 ? res.text : '';
    };
    const current = await read(false).catch(() => '');
    return current.trim() ? current : read(true).catch(() => '');
  }

  /**
   * GET a path of a Service through the API server's service proxy: works
   * wherever the API server is reachable, without routes to cluster IPs.
   */
  async serviceGet(
    namespace: string,
    service: string,
    port: string | number,
    path: string,
  ): Promise<string> {
    const res = await this.http.request(
      'GET',
      `/api/v1/namespaces/${namespace}/services/${service}:${port}/proxy/${path.replace(/^\//, '')}`,
    );
    if (res.status >= 300) {
      throw new KubeApiError(
        res.status,
        `GET ${path} on Service ${namespace}/${service}: HTTP ${res.status} ${res.text.slice(0, 200)}`,
      );
    }
    return res.text;
  }
  /**
   * Patches an object: a JSON merge patch (RFC 7386: null removes a field) or a strategic
   * merge patch (lists of named items such as containers merge by name). With `uid`, the
   * API server patches only the object of that uid and answers 409 otherwise (a
   * precondition in the patch itself). Undefined when the object does not exist.
   */
  async patch<T = KubeObject>(
    ref: ObjectRef,
    patch: Record<string, unknown>,
    opts: { type?: 'merge' | 'strategic'; uid?: string } = {},
  ): Promise<T | undefined> {
    const body = opts.uid
      ? { ...patch, metadata: { ...(patch.metadata as object | undefined), uid: opts.uid } }
      : patch;
    const type =
      opts.type === 'strategic'
        ? 'application/strategic-merge-patch+json'
        : 'application/merge-patch+json';
    const res = await this.http.request('PATCH', await this.objectPath(ref), body, type);
    if (res.status === 404) return undefined;
    if (res.status >= 300)
      throw new KubeApiError(
        res.status,
        `patch ${describeObject(ref)}: ${statusMessage(res.text)}`,
        statusInfo(res.text),
      );
    return JSON.parse(res.text) as T;
  }

  /**
   * Evicts a pod through its policy/v1 Eviction subresource, as `kubectl drain` does:
   * PodDisruptionBudgets are respected. 'evicted', or 'gone' when the pod (of that uid)
   * no longer exists. A budget that forbids it now is a KubeApiError with status 429 whose
   * message names the budget; the caller decides whether to retry.
   */
  async evict(
    namespace: string,
    name: string,
    opts: { uid?: string; gracePeriodSeconds?: number } = {},
  ): Promise<'evicted' | 'gone'> {
    const res = await this.http.request(
      'POST',
      `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}/eviction`,
      {
        apiVersion: 'policy/v1',
        kind: 'Eviction',
        metadata: { name, namespace },
        ...(opts.uid || opts.gracePeriodSeconds !== undefined
          ? {
              deleteOptions: {
                ...(opts.uid ? { preconditions: { uid: opts.uid } } : {}),
                ...(opts.gracePeriodSeconds !== undefined
                  ? { gracePeriodSeconds: opts.gracePeriodSeconds }
                  : {}),
              },
            }
          : {}),
      },
    );
    if (res.status === 404) return 'gone';
    if (res.status === 409 && opts.uid && /uid/i.test(res.text)) return 'gone'; // another pod now
    if (res.status < 300) return 'evicted';
    let why = statusMessage(res.text);
    if (res.status === 429) {
      // The budget's own words ("The disruption budget web needs 2 healthy pods and has 2
      // currently") are in the Status' causes.
      try {
        const causes = (
          JSON.parse(res.text) as { details?: { causes?: { message?: string }[] } }
        ).details?.causes
          ?.map((c) => c.message)
          .filter(Boolean);
        if (causes?.length) why = `${why} ${causes.join('; ')}`;
      } catch {
        // not a Status body
      }
    }
    throw new KubeApiError(
      res.status,
      `evict Pod ${namespace}/${name}: ${why}`,
      statusInfo(res.text),
    );
  }
}
