// Cluster access: kubeconfig, server-side apply, reads, deletes and watches.
// Everything above this file speaks plain Kubernetes objects.
import {
  ApiException,
  CoreV1Api,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  Watch,
} from '@kubernetes/client-node';
import type { KubeObject } from '../render/index.js';
import { KubeApiError, describeObject } from './errors.js';
import type { ObjectRef } from './errors.js';

export { KubeApiError, describeObject } from './errors.js';
export type { ObjectRef } from './errors.js';

export const FIELD_MANAGER = 'gantry';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface KubeOptions {
  /** Path to a kubeconfig; default $KUBECONFIG, then ~/.kube/config. */
  kubeconfig?: string;
  context?: string;
}

function toKubeError(err: unknown, what: string): unknown {
  if (err instanceof ApiException) {
    let detail = '';
    try {
      const body = (typeof err.body === 'string' ? JSON.parse(err.body) : err.body) as {
        message?: string;
      };
      detail = body.message ?? '';
    } catch {
      detail = String(err.body);
    }
    return new KubeApiError(err.code, `${what}: ${detail || `HTTP ${err.code}`}`);
  }
  return err;
}

export class Kube {
  readonly config: KubeConfig;
  private readonly objects: KubernetesObjectApi;
  private readonly core: CoreV1Api;

  constructor(config: KubeConfig) {
    this.config = config;
    this.objects = KubernetesObjectApi.makeApiClient(config);
    this.core = config.makeApiClient(CoreV1Api);
  }

  static load(opts: KubeOptions = {}): Kube {
    const kc = new KubeConfig();
    if (opts.kubeconfig) kc.loadFromFile(opts.kubeconfig);
    else kc.loadFromDefault();
    if (opts.context) kc.setCurrentContext(opts.context);
    if (!kc.getCurrentCluster()) {
      throw new Error('no Kubernetes cluster configured (set KUBECONFIG or pass --kubeconfig)');
    }
    return new Kube(kc);
  }

  get server(): string {
    return this.config.getCurrentCluster()?.server ?? '';
  }

  /** Server-side apply as field manager "gantry" (conflicts forced: Gantry owns these fields). */
  async apply<T extends KubeObject>(obj: T, opts: { dryRun?: boolean } = {}): Promise<T> {
    try {
      const out = await this.objects.patch(
        obj,
        undefined,
        opts.dryRun ? 'All' : undefined,
        FIELD_MANAGER,
        true,
        PatchStrategy.ServerSideApply,
      );
      return out;
    } catch (err) {
      throw toKubeError(err, `apply ${describeObject(obj)}${opts.dryRun ? ' (dry run)' : ''}`);
    }
  }

  /** The object, or undefined when it does not exist. */
  async get<T = KubeObject>(ref: ObjectRef): Promise<T | undefined> {
    try {
      return (await this.objects.read(ref)) as unknown as T;
    } catch (err) {
      if (err instanceof ApiException && err.code === 404) return undefined;
      throw toKubeError(err, `get ${describeObject(ref)}`);
    }
  }

  async create<T extends KubeObject>(obj: T): Promise<T> {
    try {
      return await this.objects.create(obj);
    } catch (err) {
      throw toKubeError(err, `create ${describeObject(obj)}`);
    }
  }

  /** Replaces an object; fails with status 409 when resourceVersion is stale. */
  async replace<T extends KubeObject>(obj: T): Promise<T> {
    try {
      return await this.objects.replace(obj);
    } catch (err) {
      throw toKubeError(err, `replace ${describeObject(obj)}`);
    }
  }

  /** Deletes an object; true when it existed. Dependents are deleted in the background. */
  async delete(ref: ObjectRef): Promise<boolean> {
    try {
      await this.objects.delete(ref, undefined, undefined, undefined, undefined, 'Background');
      return true;
    } catch (err) {
      if (err instanceof ApiException && err.code === 404) return false;
      throw toKubeError(err, `delete ${describeObject(ref)}`);
    }
  }

  async list<T = KubeObject>(
    apiVersion: string,
    kind: string,
    namespace: string | undefined,
    selectors: { labelSelector?: string; fieldSelector?: string } = {},
  ): Promise<T[]> {
    try {
      const res = await this.objects.list(
        apiVersion,
        kind,
        namespace,
        undefined,
        undefined,
        undefined,
        selectors.fieldSelector,
        selectors.labelSelector,
      );
      return res.items as unknown as T[];
    } catch (err) {
      throw toKubeError(err, `list ${kind}${namespace ? ` in ${namespace}` : ''}`);
    }
  }

  /**
   * Watches a collection path (e.g. /apis/apps/v1/namespaces/ns/deployments)
   * and calls onEvent for every change. Returns a function that stops it.
   */
  async watch<T = KubeObject>(
    path: string,
    query: Record<string, string>,
    onEvent: (type: WatchEventType, obj: T) => void,
    onEnd: (err: unknown) => void = () => undefined,
  ): Promise<() => void> {
    const w = new Watch(this.config);
    let stopped = false;
    const ctl = await w.watch(
      path,
      { ...query, allowWatchBookmarks: true },
      (type: string, obj: T) => onEvent(type as WatchEventType, obj),
      (err: unknown) => {
        if (!stopped) onEnd(err);
      },
    );
    return () => {
      stopped = true;
      ctl.abort();
    };
  }

  /** The last lines of a container's log (current, or previous when it crashed). */
  async logTail(namespace: string, pod: string, container: string, lines = 20): Promise<string> {
    const read = (previous: boolean) =>
      this.core
        .readNamespacedPodLog({ name: pod, namespace, container, tailLines: lines, previous })
        .catch(() => '');
    const current = await read(false);
    return current.trim() ? current : read(true);
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
    try {
      return await this.core.connectGetNamespacedServiceProxyWithPath({
        name: `${service}:${port}`,
        namespace,
        path: path.replace(/^\//, ''),
      });
    } catch (err) {
      throw toKubeError(err, `GET ${path} on Service ${namespace}/${service}`);
    }
  }
}
