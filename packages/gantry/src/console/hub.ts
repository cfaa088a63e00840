// The pages' event streams and the one schedule behind them. Each open page holds a
// Server-Sent Events stream for one view; the hub sends it the view whenever the cache
// changes it (debounced), and the data of its charts. Prometheus, Alertmanager and the
// events and logs of the API are read on one schedule: at most once per refresh interval
// per chart (per service, for events and logs), and only for what some open page shows,
// whatever the number of pages.
import type { ServerResponse } from 'node:http';
import type { Kube } from '../kube/client.js';
import type { Prometheus } from '../analysis/prometheus.js';
import type { ClusterCache } from './cache.js';
import { readAlerts, readDetails, readPanel } from './sources.js';
import {
  alertsView,
  fleetView,
  releasePanelDefs,
  releaseView,
  servicePanelDefs,
  servicePods,
  serviceView,
} from './views.js';
import type { AlertSnapshot, ServiceDetails } from './views.js';
import type { ActionKind, Hello, PanelData, PanelMeta, View } from './view-types.js';
import type { Actions } from './actions.js';
import { JournalReader, chaosView, readActiveFaults } from './chaos.js';
import type { ActiveFaults } from './chaos.js';

export type ViewRequest =
  | { kind: 'fleet' }
  | { kind: 'alerts' }
  | { kind: 'chaos'; journal?: string }
  | { kind: 'service' | 'release'; namespace: string; name: string };

export interface HubOptions {
  cache: ClusterCache;
  kube: Kube;
  prometheus: Prometheus;
  prometheusUrl: string;
  alertmanagerUrl: string;
  refreshMs: number;
  hello: Hello;
  /** Streams open at once; more are refused (503). */
  maxClients?: number;
  /** Only with --allow-actions: the pages of a service and its release offer these. */
  actions?: Actions;
  /** Where chaos journals are read from (--chaos-reports). */
  chaosReports?: readonly string[];
}

interface Client {
  res: ServerResponse;
  view: ViewRequest;
  lastView?: string;
  panelsSent: Map<string, number>;
}

export interface HubStats {
  clients: number;
  prometheusQueries: number;
  alertReads: number;
  detailReads: number;
  /** Reads of the chaos undo records (one per refresh while a chaos page is open). */
  chaosReads: number;
  kubeWatchRequests: number;
}

const DEBOUNCE_MS = 60;
const HEARTBEAT_MS = 15_000;
const DETAILS_MIN_MS = 10_000;
/** Range queries run at once (a page of 5 charts is one round). */
const QUERY_CONCURRENCY = 6;

const serviceKey = (v: { namespace: string; name: string }) => `${v.namespace}/${v.name}`;

export class Hub {
  private readonly clients = new Set<Client>();
  private readonly panelData = new Map<string, PanelData>();
  private readonly panelFetchedAt = new Map<string, number>();
  private readonly inflight = new Set<string>();
  private readonly details = new Map<string, { at: number; pods: string; data: ServiceDetails }>();
  private readonly detailsInflight = new Set<string>();
  private alerts: AlertSnapshot = { alerts: [], silences: [], problems: [], at: 0 };
  private alertsInflight = false;
  private renderTimer: NodeJS.Timeout | undefined;
  private readonly ticker: NodeJS.Timeout;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly unsubscribe: () => void;
  private queue: PanelMeta[] = [];
  private running = 0;
  private readonly counts = {
    prometheusQueries: 0,
    alertReads: 0,
    detailReads: 0,
    chaosReads: 0,
  };
  private readonly journals: JournalReader;
  private journalList: ReturnType<JournalReader['read']> = [];
  private faults: ActiveFaults = { rows: [], problems: [], at: 0 };
  private faultsInflight = false;

  constructor(private readonly o: HubOptions) {
    this.journals = new JournalReader(o.chaosReports ?? []);
    this.unsubscribe = o.cache.onChange(() => this.scheduleRender());
    this.ticker = setInterval(() => this.refresh(), o.refreshMs);
    this.heartbeat = setInterval(() => {
      for (const c of this.clients) c.res.write(': keep-alive\n\n');
    }, HEARTBEAT_MS);
  }

  stats(): HubStats {
    return {
      clients: this.clients.size,
      ...this.counts,
      kubeWatchRequests: this.o.cache.apiRequests(),
    };
  }

  close(): void {
    clearInterval(this.ticker);
    clearInterval(this.heartbeat);
    clearTimeout(this.renderTimer);
    this.unsubscribe();
    for (const c of this.clients) c.res.end();
    this.clients.clear();
  }

  /** Opens an event stream for `view` on `res`. */
  open(res: ServerResponse, view: ViewRequest): void {
    if (this.clients.size >= (this.o.maxClients ?? 200)) {
      res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('too many console pages are open\n');
      return;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    });
    res.write(`retry: 2000\nevent: hello\ndata: ${JSON.stringify(this.o.hello)}\n\n`);
    const client: Client = { res, view, panelsSent: new Map() };
    this.clients.add(client);
    res.on('close', () => this.clients.delete(client));
    this.send(client, this.viewOf(view));
    // What the page needs and nobody has read lately: now, within the same bounds.
    this.refresh();
  }

  /** Sends every page its view again soon (an action started or ended). */
  changed(): void {
    this.scheduleRender();
  }

  private scheduleRender(): void {
    if (this.renderTimer) return;
    this.renderTimer = setTimeout(() => {
      this.renderTimer = undefined;
      this.render();
    }, DEBOUNCE_MS);
  }

  private render(): void {
    const memo = new Map<string, View>();
    for (const c of this.clients) {
      const k = JSON.stringify(c.view);
      let v = memo.get(k);
      if (!v) {
        v = this.viewOf(c.view);
        memo.set(k, v);
      }
      this.send(c, v);
    }
  }

  private send(c: Client, v: View): void {
    const text = JSON.stringify(v);
    if (text === c.lastView) return;
    c.lastView = text;
    c.res.write(`event: view\ndata: ${text}\n\n`);
    for (const p of this.panelsOf(c.view)) this.sendPanel(c, p.key);
  }

  private sendPanel(c: Client, key: string): void {
    const d = this.panelData.get(key);
    if (!d || c.panelsSent.get(key) === d.at) return;
    c.panelsSent.set(key, d.at);
    c.res.write(`event: panel\ndata: ${JSON.stringify(d)}\n\n`);
  }

  private viewOf(v: ViewRequest): View {
    const cache = this.o.cache;
    const actions = this.o.actions;
    // With --allow-actions only: what may be done now and what this console did.
    const withActions = <T extends object>(
      view: T,
      ns: string,
      name: string,
      only?: readonly ActionKind[],
    ): T =>
      actions
        ? {
            ...view,
            actions: actions.offers(ns, name).filter((o) => !only || only.includes(o.action)),
            actionLog: actions.logOf(ns, name),
          }
        : view;
    switch (v.kind) {
      case 'fleet':
        return fleetView(cache, this.alerts);
      case 'alerts':
        return alertsView(this.alerts);
      case 'chaos':
        return chaosView(
          this.journals.dirs,
          this.journalList,
          this.journals.problems,
          this.faults,
          v.journal,
        );
      case 'service':
        return withActions(
          serviceView(
            cache,
            v.namespace,
            v.name,
            this.alerts,
            this.details.get(serviceKey(v))?.data,
          ),
          v.namespace,
          v.name,
        );
      case 'release':
        // The release page: the release's own actions (restart and rollback are the service's).
        return withActions(releaseView(cache, v.namespace, v.name), v.namespace, v.name, [
          'promote',
          'pause',
          'resume',
          'abort',
        ]);
    }
  }

  private panelsOf(v: ViewRequest): PanelMeta[] {
    if (v.kind === 'service') return servicePanelDefs(this.o.cache, v.namespace, v.name).panels;
    if (v.kind === 'release') return releasePanelDefs(this.o.cache, v.namespace, v.name).panels;
    return [];
  }

  /** Reads what open pages show and is at least one interval old. */
  private refresh(): void {
    if (this.clients.size === 0) return;
    const now = Date.now();
    const due = (at: number | undefined, every: number) =>
      at === undefined || now - at >= every - 250;
    if (
      !this.alertsInflight &&
      due(this.alerts.at ? this.alerts.at * 1000 : undefined, this.o.refreshMs)
    ) {
      this.alertsInflight = true;
      this.counts.alertReads++;
      void readAlerts(this.o.alertmanagerUrl, this.o.prometheusUrl)
        .then((a) => {
          this.alerts = a;
          this.render();
        })
        .finally(() => (this.alertsInflight = false));
    }
    if ([...this.clients].some((c) => c.view.kind === 'chaos')) this.refreshChaos(due);
    const panels = new Map<string, PanelMeta>();
    const services = new Map<string, { namespace: string; name: string }>();
    for (const c of this.clients) {
      for (const p of this.panelsOf(c.view)) panels.set(p.key, p);
      if (c.view.kind === 'service') services.set(serviceKey(c.view), c.view);
    }
    for (const p of panels.values()) {
      if (this.inflight.has(p.key) || !due(this.panelFetchedAt.get(p.key), this.o.refreshMs))
        continue;
      this.inflight.add(p.key);
      this.queue.push(p);
    }
    this.pump();
    for (const [k, s] of services) {
      const interval = Math.max(this.o.refreshMs, DETAILS_MIN_MS);
      const pods = servicePods(this.o.cache, s.namespace, s.name);
      const last = this.details.get(k);
      // New pods are read at the next refresh, not up to DETAILS_MIN_MS later.
      const podsChanged = last !== undefined && last.pods !== pods.join(',');
      if (this.detailsInflight.has(k) || !(due(last?.at, interval) || podsChanged)) continue;
      this.detailsInflight.add(k);
      this.counts.detailReads++;
      void readDetails(this.o.kube, s.namespace, s.name, pods)
        .then((data) => {
          this.details.set(k, { at: Date.now(), pods: pods.join(','), data });
          this.render();
        })
        .finally(() => this.detailsInflight.delete(k));
    }
    // Forget what no page shows any more.
    for (const k of this.details.keys()) if (!services.has(k)) this.details.delete(k);
    for (const k of this.panelData.keys()) {
      if (!panels.has(k)) {
        this.panelData.delete(k);
        this.panelFetchedAt.delete(k);
      }
    }
  }

  /** Journals (files, re-parsed only when changed) and the undo records, once per interval. */
  private refreshChaos(due: (at: number | undefined, every: number) => boolean): void {
    if (
      this.faultsInflight ||
      !due(this.faults.at ? this.faults.at * 1000 : undefined, this.o.refreshMs)
    )
      return;
    this.journalList = this.journals.read();
    this.faultsInflight = true;
    this.counts.chaosReads++;
    void readActiveFaults(this.o.kube)
      .then((f) => {
        this.faults = f;
        this.render();
      })
      .finally(() => (this.faultsInflight = false));
  }

  private pump(): void {
    while (this.running < QUERY_CONCURRENCY && this.queue.length > 0) {
      const p = this.queue.shift()!;
      this.running++;
      this.counts.prometheusQueries++;
      this.panelFetchedAt.set(p.key, Date.now());
      void readPanel(this.o.prometheus, p)
        .then((d) => {
          this.panelData.set(p.key, d);
          for (const c of this.clients) {
            if (this.panelsOf(c.view).some((x) => x.key === p.key)) this.sendPanel(c, p.key);
          }
        })
        .finally(() => {
          this.running--;
          this.inflight.delete(p.key);
          this.pump();
        });
    }
  }
}
