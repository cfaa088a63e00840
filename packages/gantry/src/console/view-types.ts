// What the console's server sends its pages over Server-Sent Events: one message per view
// (fleet, service, release, alerts) and one per chart. Self-contained (no imports), so the
// front end (console-web/) type-checks against exactly what the server sends.

export type Health = 'ok' | 'progressing' | 'degraded' | 'failed' | 'unknown';

/** A refusal or failure of the API server, Prometheus or Alertmanager, as they worded it. */
export interface Problem {
  /** What was being read: "deployments", "prometheus", "alertmanager", … */
  what: string;
  status?: number;
  message: string;
}

export interface AlertRow {
  name: string;
  severity: string;
  state: 'firing' | 'pending' | 'silenced' | 'inhibited';
  namespace?: string;
  service?: string;
  summary?: string;
  /** ISO time the alert became active (pending or firing). */
  since?: string;
  labels: Record<string, string>;
  silencedBy?: string[];
}

export interface SilenceRow {
  id: string;
  state: string;
  matchers: string;
  createdBy: string;
  comment: string;
  startsAt: string;
  endsAt: string;
}

export interface ActiveRelease {
  strategy: string;
  phase: string;
  /** 1-based step in force (0: none yet). */
  step: number;
  steps: number;
  weight: number;
  traffic: string;
  pausedReason?: string;
}

export interface FleetRow {
  namespace: string;
  name: string;
  /** Gantry's revision (release record) the cluster runs. */
  revision?: number;
  image: string;
  version?: string;
  ready: number;
  desired: number;
  health: Health;
  reason: string;
  release?: ActiveRelease;
  alerts: AlertRow[];
  /** When the running revision was deployed. */
  deployedAt?: string;
}

export interface FleetView {
  kind: 'fleet';
  rows: FleetRow[];
  synced: boolean;
  problems: Problem[];
}

export type PanelUnit = 'reqps' | 'percentunit' | 's' | 'cores' | 'bytes';

export interface PanelMeta {
  /** Server-wide key of the chart's data: "<namespace>/<service>/<panel id>". */
  key: string;
  id: string;
  title: string;
  description: string;
  unit: PanelUnit;
  expr: string;
  seriesLabel?: string;
  thresholds: { value: number; label: string; severity: 'warning' | 'critical' }[];
}

export interface PanelData {
  key: string;
  /** Unix seconds of the last refresh. */
  at: number;
  series: { name: string; points: [number, number][] }[];
  error?: string;
}

export interface Marker {
  /** Unix seconds. */
  t: number;
  kind: 'deploy' | 'rollback' | 'release' | 'step' | 'end' | 'fault';
  label: string;
}

export interface PodRow {
  name: string;
  phase: string;
  ready: boolean;
  restarts: number;
  track: string;
  node?: string;
  startedAt?: string;
  image: string;
  problem?: string;
}

export interface RevisionRow {
  revision: number;
  status: string;
  image: string;
  version?: string;
  actor: string;
  startedAt: string;
  finishedAt?: string;
  message?: string;
  rollbackOf?: number;
}

export interface PastRelease {
  strategy: string;
  image: string;
  version?: string;
  outcome: string;
  reason?: string;
  startedAt: string;
  finishedAt?: string;
  stepReached: number;
  steps: number;
}

export interface EventRow {
  object: string;
  type: string;
  reason: string;
  message: string;
  count: number;
  last: string;
}

export interface ReplicaSetRow {
  name: string;
  track: string;
  /** deployment.kubernetes.io/revision */
  revision: string;
  image: string;
  ready: number;
  desired: number;
  createdAt?: string;
}

export interface ServiceView {
  kind: 'service';
  namespace: string;
  name: string;
  found: boolean;
  synced: boolean;
  row?: FleetRow;
  pods: PodRow[];
  /** ReplicaSets with pods wanted or running, newest first. */
  replicaSets: ReplicaSetRow[];
  history: RevisionRow[];
  releases: PastRelease[];
  markers: Marker[];
  panels: PanelMeta[];
  /** Where the panels' selectors come from: the recorded spec, or defaults and the live Deployment. */
  selectorsFrom: 'release state' | 'deployment';
  events: EventRow[];
  logs: { pod: string; lines: string }[];
  problems: Problem[];
  /** Only with --allow-actions: what may be done to the service now (absent: read-only). */
  actions?: ActionOffer[];
  /** Only with --allow-actions: this console's actions on the service, newest first. */
  actionLog?: ActionLogEntry[];
}

export interface CheckRow {
  name: string;
  verdict: string;
  canary: string;
  baseline: string;
  statistic: string;
  threshold: string;
}

export interface DecisionRow {
  at: string;
  step: number;
  verdict: string;
  confidence: number;
  summary: string;
  checks: CheckRow[];
}

export interface StepRow {
  weight: number;
  pauseSeconds: number;
  gate: string;
  analyze: boolean;
  /** done, current, waiting */
  state: 'done' | 'current' | 'waiting';
}

export interface ReleaseView {
  kind: 'release';
  namespace: string;
  name: string;
  synced: boolean;
  release?: {
    strategy: string;
    router: string;
    image: string;
    version?: string;
    phase: string;
    active: boolean;
    stepIndex: number;
    appliedStep: number;
    canaryPercent: number;
    traffic: string;
    startedAt: string;
    stepStartedAt: string;
    updatedAt: string;
    finishedAt?: string;
    pausedReason?: string;
    message?: string;
    request?: { action: string; by: string; at: string };
    steps: StepRow[];
    decisions: DecisionRow[];
  };
  /** Canary weight over time: [unix seconds, percent]. */
  weights: [number, number][];
  markers: Marker[];
  panels: PanelMeta[];
  /** The PromQL the judge runs per track (cumulative counters it differences over the step). */
  judgeQueries: { track: string; requests: string; errors: string; buckets: string }[];
  problems: Problem[];
  /** Only with --allow-actions: what may be done to the release now (absent: read-only). */
  actions?: ActionOffer[];
  /** Only with --allow-actions: this console's actions on the service, newest first. */
  actionLog?: ActionLogEntry[];
}

export interface AlertsView {
  kind: 'alerts';
  firing: AlertRow[];
  pending: AlertRow[];
  silenced: AlertRow[];
  silences: SilenceRow[];
  problems: Problem[];
  /** Unix seconds of the last read. */
  at: number;
}

/** One chaos run's journal (gantry chaos run --report DIR), as listed. */
export interface JournalRow {
  /** Stable id of the journal file (for #/chaos/ID). */
  id: string;
  experiment: string;
  runId: string;
  namespace: string;
  service: string;
  verdict: string;
  reason?: string;
  score: number;
  startedAt: string;
  finishedAt: string;
  /** The journal.json it was read from. */
  path: string;
  faults: string[];
  probes: { name: string; passed: boolean }[];
}

export interface JournalDetail extends JournalRow {
  steps: {
    name: string;
    type: string;
    fault?: string;
    targets: string[];
    startedAt?: string;
    injectedAt?: string;
    endedAt?: string;
    status: string;
    error?: string;
    description?: string;
  }[];
  probeSeries: {
    name: string;
    kind: string;
    mode: string;
    weight: number;
    passed: boolean;
    evaluations: number;
    violations: number;
    /** [unix seconds, value] (a probe without a value: 1 held, 0 violated). */
    points: [number, number][];
    /** Whether the values are the probe's own (else 1/0 for held/violated). */
    valued: boolean;
    firstViolation?: string;
  }[];
  rollbacks: { name: string; status: string; description?: string; error?: string }[];
  abortRevertMs?: number;
  /** Fault windows on the time axis. */
  markers: Marker[];
}

/** A fault in effect now: an undo record in the chaos namespace. */
export interface ActiveFaultRow {
  id: string;
  kind: string;
  experiment: string;
  namespace: string;
  service: string;
  state: string;
  createdAt: string;
  expiresAt: string;
  /** The helper pod's phase, or "gone". */
  helper: string;
  overdue: boolean;
  /** What it changed, as the record lists it. */
  changes: string[];
}

export interface ChaosView {
  kind: 'chaos';
  /** Where journals are read from (--chaos-reports); empty: none given. */
  reportDirs: string[];
  journals: JournalRow[];
  /** The journal asked for (view=chaos&journal=ID), when found. */
  journal?: JournalDetail;
  active: ActiveFaultRow[];
  /** Unix seconds of the last read of the undo records (0: not yet). */
  activeAt: number;
  problems: Problem[];
}

export type View = FleetView | ServiceView | ReleaseView | AlertsView | ChaosView;

export type ActionKind = 'promote' | 'pause' | 'resume' | 'abort' | 'rollback' | 'restart';

/** An action the console may take now, with the exact words of its confirmation. */
export interface ActionOffer {
  action: ActionKind;
  namespace: string;
  name: string;
  /** rollback: the revision returned to. */
  revision?: number;
  /** The button's words, e.g. "Abort". */
  label: string;
  /** What will happen, in full: shown in the confirmation and compared again on the server. */
  confirm: string;
}

export interface ActionLogEntry {
  id: string;
  action: ActionKind;
  namespace: string;
  name: string;
  revision?: number;
  /** The Kubernetes identity the action ran as. */
  user: string;
  /** The confirmation the user accepted. */
  confirm: string;
  startedAt: string;
  finishedAt?: string;
  outcome: 'running' | 'ok' | 'failed';
  /** What happened, or the refusal in the API server's words. */
  message?: string;
  /** HTTP status of a Kubernetes API refusal (403: RBAC). */
  status?: number;
}

/** POST /api/actions: what the page asks (with the confirmation it showed). */
export interface ActionRequest {
  action: ActionKind;
  namespace: string;
  name: string;
  revision?: number;
  confirm: string;
}

/** GET /api/diff: two revisions' objects compared field by field; secret values never sent. */
export interface RevisionDiff {
  namespace: string;
  name: string;
  from: { revision: number; image: string; version?: string; status: string; startedAt: string };
  to: { revision: number; image: string; version?: string; status: string; startedAt: string };
  objects: {
    object: string;
    kind: string;
    name: string;
    change: 'added' | 'removed' | 'changed' | 'unchanged';
    /** Field changes (values as JSON text); a Secret's values only as changed or unchanged. */
    fields: { path: string; before?: string; after?: string }[];
  }[];
  /** Every secret key of the two revisions: changed or unchanged (values never leave the server). */
  secrets: { key: string; state: 'changed' | 'unchanged' | 'added' | 'removed' }[];
}

/** The first message on every event stream. */
export interface Hello {
  version: string;
  context: string;
  namespace?: string;
  refreshSeconds: number;
  /**
   * Only with --allow-actions: who the actions run as and the token their requests carry
   * (readable only by pages of this origin; see server.ts on CSRF).
   */
  actions?: { user: string; csrf: string };
}
