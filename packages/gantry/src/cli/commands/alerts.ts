// gantry alerts: the service's Prometheus alerting rules and who is told — render them,
// put the rules in front of a Prometheus that loads a rules directory and the routing
// into Alertmanager's configuration (and the relay's channels Secret), remove them,
// show what fires, and silence alerts.
import { dirname } from 'node:path';
import type { Command } from 'commander';
import { prometheusUrl } from '../../analysis/prometheus.js';
import { Kube } from '../../kube/client.js';
import {
  AlertmanagerConfigError,
  AlertRulesError,
  AlertTestError,
  RELAY_SECRET,
  SilenceError,
  alertmanagerConfigObject,
  applyAlertRules,
  applyServiceRouting,
  DEFAULT_RELAY_URL,
  createSilence,
  deliveryStatus,
  describeReceivers,
  expireSilence,
  formatMatchers,
  fragmentsDirOf,
  listSilences,
  prometheusRuleObject,
  removeAlertRules,
  removeAlertmanagerConfig,
  renderAlertRules,
  renderAlertmanager,
  rulesYaml,
  serviceAlerts,
  testReceivers,
  hasRelayReceivers,
  routesSomething,
  writeRelayChannels,
} from '../../monitor/index.js';
import type {
  AlertTestReport,
  DeliveryStatus,
  RelaySecretRef,
  RoutingResult,
  RulesTarget,
} from '../../monitor/index.js';
import { loadSpecFile } from '../../spec/index.js';
import type { ServiceSpec } from '../../spec/index.js';
import { ExitCode } from '../exit-codes.js';
import { parseDuration as parseCliDuration } from '../context.js';
import { parseFormat, printJson, UsageError } from '../output.js';
import { FILE_HELP, collectFiles, loadFleet, specFilesOf } from './fleet.js';

interface TargetOpts {
  file: string;
  rulesDir?: string;
  prometheus?: string;
  alertmanager?: string;
  alertmanagerConfig?: string;
  relaySecret?: string;
}

/** Default Alertmanager base URL: $ALERTMANAGER_URL, else the usual local port. */
function alertmanagerUrl(flag?: string): string {
  return (flag ?? process.env.ALERTMANAGER_URL ?? 'http://127.0.0.1:9093').replace(/\/+$/, '');
}

/** Alertmanager and silence errors as AlertRulesError, which the CLI maps to exit codes. */
async function asAlertsError<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (err) {
    if (err instanceof AlertmanagerConfigError) throw new AlertRulesError(err.message, err.input);
    if (err instanceof SilenceError) throw new AlertRulesError(err.message);
    if (err instanceof AlertTestError) throw new AlertRulesError(err.message, err.input);
    throw err;
  }
}

const SPEC_HELP = `
The rules come from the spec's monitoring section (defaults in brackets):
  alerts.errorRate    errors over requests above [1%] for [2m], rate window [5m]
  alerts.latencyP99   P99 from the latency histogram above [600ms] for [5m]
  alerts.cpu          a pod's CPU above [80%] of its limit (or request) for [5m]
  alerts.memory       a pod's working set above [85%] of its limit (or request) for [5m]
  alerts.down         no pod scraped successfully for [1m]
  slo                 availability (e.g. 0.999) and windowDays [30]: burn-rate alerts,
                      page at 2% of the budget in 1h or 5% in 6h, ticket at 10% in 3d
  labels              added to every alert (route them in Alertmanager)
  receivers           name: { kind: email | webhook | dingtalk | wecom | sms | voice, ... };
                      credentials only as { fromEnv } or { fromFile }
  routes              - { alerts: [CPUHigh], severity: [...], matchers: ['team="x"'],
                          receivers: [mail, sms], continue: false }
  groupBy [alertname, namespace, service], groupWait [30s], groupInterval [5m],
  repeatInterval      by severity [page 1h, critical 1h, warning 4h, ticket 12h, default 4h]
  inhibitOnDown       [true] a firing GantryServiceDown silences the service's other alerts
  language [zh], relay.url [$GANTRY_ALERT_RELAY_URL, http://127.0.0.1:30093], links
Set an alert to false to leave it out. Request metrics are release.analysis.requests
and release.analysis.latency; CPU and memory are cAdvisor's (the kubelet's).
`;

/** Registers the alerts commands; returns the exit codes they set (alerts test: 4). */
export function registerAlertCommands(program: Command): number[] {
  const exits: number[] = [];
  const alerts = program
    .command('alerts')
    .description(
      "the service's alerting rules and routing: render, apply, remove, status, test, silences",
    )
    .addHelpText('after', SPEC_HELP);

  alerts
    .command('render')
    .description(
      'print the rule file, the Alertmanager part, or Prometheus Operator objects; touches nothing',
    )
    .option('-f, --file <path>', 'spec file', 'gantry.yaml')
    .option(
      '--format <kind>',
      'rules (a Prometheus rule file), alertmanager (the route subtree, receivers and ' +
        'inhibit rules gantry alerts apply merges) or operator (PrometheusRule and AlertmanagerConfig)',
      'rules',
    )
    .addHelpText(
      'after',
      `
Credentials are never printed: SMTP passwords are files (auth_password_file), and a
webhook URL given as { fromEnv | fromFile } shows as https://redacted.invalid/....

Examples:
  gantry alerts render -f deploy/user-service/gantry.yaml > user-service.rules.yml
  promtool check rules user-service.rules.yml
  gantry alerts render -f deploy/user-service/gantry.yaml --format alertmanager
  gantry alerts render -f deploy/user-service/gantry.yaml --format operator | kubectl apply -f -
`,
    )
    .action((opts: { file: string; format: string }, cmd: Command) => {
      if (!['rules', 'operator', 'alertmanager'].includes(opts.format)) {
        throw new UsageError(
          `--format must be rules, alertmanager or operator, not "${opts.format}"`,
        );
      }
      const spec = loadSpecFile(opts.file);
      const rendered = renderAlertRules(spec);
      const am = renderAlertmanager(spec, {
        secretsDir: fragmentsDirOf({ configPath: amConfigPath() ?? 'alertmanager.yml' }),
      });
      const amPart = am.fragment
        ? {
            route: am.fragment.route,
            receivers: am.fragment.receivers,
            inhibit_rules: am.fragment.inhibit_rules,
          }
        : undefined;
      const docs: unknown[] =
        opts.format === 'operator'
          ? [
              prometheusRuleObject(spec, rendered),
              ...(am.fragment ? [alertmanagerConfigObject(spec, am)] : []),
            ]
          : opts.format === 'alertmanager'
            ? [amPart ?? {}]
            : [rendered.file];
      if (json(cmd))
        printJson({
          ...rendered,
          alertmanager: amPart ?? null,
          receivers: describeReceivers(spec),
          document: docs.length === 1 ? docs[0] : docs,
        });
      else process.stdout.write(docs.map((d) => rulesYaml(d)).join('---\n'));
      for (const n of rendered.notes) process.stderr.write(`note: ${n}\n`);
      if (opts.format !== 'rules' && !json(cmd))
        for (const d of describeReceivers(spec)) process.stderr.write(`receiver ${d}\n`);
    });

  alerts
    .command('apply')
    .description(
      "load the rules into Prometheus and the routing into Alertmanager (and the relay's channels); confirm both",
    )
    .option('-f, --file <path>', FILE_HELP, collectFiles, [])
    .option(
      '--rules-dir <dir>',
      "a directory in Prometheus' rule_files (default: $GANTRY_PROMETHEUS_RULES_DIR)",
    )
    .option(
      '--prometheus <url>',
      'Prometheus base URL (default: release.analysis.prometheus, $GANTRY_PROMETHEUS_URL, http://127.0.0.1:9090)',
    )
    .option(
      '--alertmanager-config <path>',
      'the configuration file Alertmanager reads (default: $GANTRY_ALERTMANAGER_CONFIG)',
    )
    .option(
      '--alertmanager <url>',
      'Alertmanager base URL (default: $ALERTMANAGER_URL, http://127.0.0.1:9093)',
    )
    .option(
      '--relay-secret <namespace/name>',
      'the Secret the alert relay reads its channels from (default: $GANTRY_ALERT_RELAY_SECRET, gantry-system/alert-relay-channels)',
    )
    .addHelpText(
      'after',
      `
Prometheus must read rule files from that directory (rule_files: ["<dir>/*.yml"]) and
allow /-/reload (--web.enable-lifecycle). The local cluster's Prometheus does both, and
hack/cluster/cluster env exports GANTRY_PROMETHEUS_RULES_DIR. A rule file Prometheus
refuses is replaced by the one before. With the Prometheus Operator, use
gantry alerts render --format operator instead.

With monitoring.receivers or monitoring.routes in the spec, the service's route subtree
(matched on its namespace and service labels), receivers (<namespace>.<service>.<name>)
and inhibit rules are written as a fragment next to the Alertmanager configuration
(gantry.d/<namespace>.<service>.yml) and the file is composed again from its base
(<config>.base.yml) and every fragment, checked with amtool check-config, reloaded and
confirmed through /api/v2/status; a configuration Alertmanager refuses is replaced by the
one before. DingTalk, WeCom, SMS and voice receivers go through the alert relay: their
channels (credentials included) are written into the relay's Secret under the key
<namespace>.<service>.json. A receiver whose credentials cannot be read is left out with
a warning. hack/cluster/cluster env exports GANTRY_ALERTMANAGER_CONFIG.

Examples:
  eval "$(hack/cluster/cluster env)"
  gantry alerts apply -f deploy/user-service/gantry.yaml
  gantry alerts apply -f deploy/          # every spec below deploy/, one after another
  gantry alerts apply -f gantry.yaml --rules-dir /etc/prometheus/rules.d --prometheus http://prom:9090 \\
    --alertmanager-config /etc/alertmanager/alertmanager.yml --alertmanager http://am:9093
`,
    )
    .action(async (opts: TargetOpts & { file: string[] }, cmd: Command) => {
      const { files, many } = specFilesOf(opts.file);
      if (!many) {
        const out = await applyAlerts(loadSpecFile(files[0]!), files[0]!, opts, cmd);
        if (json(cmd)) printJson(out);
        return;
      }
      // One after another: each reload of Prometheus and Alertmanager is confirmed before the next.
      const services = [];
      for (const { spec, file } of loadFleet(files).members) {
        if (!json(cmd)) process.stdout.write(`### ${spec.namespace}/${spec.name}\n`);
        services.push({
          service: spec.name,
          namespace: spec.namespace,
          ...(await applyAlerts(spec, file, opts, cmd)),
        });
      }
      if (json(cmd)) printJson({ services });
    });

  alerts
    .command('delete')
    .description("remove the service's rule file and its Alertmanager subtree, and reload both")
    .option('-f, --file <path>', 'spec file (for name and namespace)', 'gantry.yaml')
    .option('--rules-dir <dir>', 'the rules directory (default: $GANTRY_PROMETHEUS_RULES_DIR)')
    .option('--prometheus <url>', 'Prometheus base URL')
    .option(
      '--alertmanager-config <path>',
      'the Alertmanager configuration file (default: $GANTRY_ALERTMANAGER_CONFIG)',
    )
    .option('--alertmanager <url>', 'Alertmanager base URL (default: $ALERTMANAGER_URL)')
    .option('--relay-secret <namespace/name>', "the relay's channels Secret")
    .action(async (opts: TargetOpts, cmd: Command) => {
      const spec = loadSpecFile(opts.file);
      const r = await removeAlertRules(spec, target(spec, opts, cmd));
      const config = opts.alertmanagerConfig ?? amConfigPath();
      let am: { configPath: string; removed: boolean } | undefined;
      if (config) {
        am = await asAlertsError(() =>
          removeAlertmanagerConfig(spec, {
            configPath: config,
            url: alertmanagerUrl(opts.alertmanager),
          }),
        );
      }
      let relay: Awaited<ReturnType<typeof writeRelayChannels>> | undefined;
      if (hasRelayReceivers(spec)) {
        relay = await writeRelayChannels(kubeFor(cmd), spec, undefined, relaySecretRef(opts));
      }
      if (json(cmd)) printJson({ ...r, alertmanager: am ?? null, relay: relay ?? null });
      else {
        process.stdout.write(r.removed ? `removed ${r.file}\n` : `no rule file at ${r.file}\n`);
        if (am)
          process.stdout.write(
            am.removed
              ? `removed the Alertmanager subtree of ${spec.namespace}/${spec.name} from ${am.configPath}\n`
              : `no Alertmanager subtree of ${spec.namespace}/${spec.name} in ${am.configPath}\n`,
          );
        if (relay && relay.action === 'removed')
          process.stdout.write(`removed key ${relay.key} from ${relay.secret}\n`);
      }
    });

  alerts
    .command('status')
    .description(
      "the service's pending and firing alerts (Prometheus), its alerts in Alertmanager " +
        "(silenced, inhibited) and what is known of each receiver's deliveries",
    )
    .option('-f, --file <path>', 'spec file (for name and namespace)', 'gantry.yaml')
    .option('--prometheus <url>', 'Prometheus base URL')
    .option('--alertmanager <url>', 'Alertmanager base URL (default: $ALERTMANAGER_URL)')
    .option(
      '--relay <url>',
      "the alert relay's base URL, for its /metrics (default: $GANTRY_ALERT_RELAY_URL, monitoring.relay.url, http://127.0.0.1:30093)",
    )
    .addHelpText(
      'after',
      `
Sources: pending and firing come from Prometheus (its alerts API); silenced and inhibited
from Alertmanager's API v2. Alertmanager 0.25 counts notifications per integration
(email, webhook), not per receiver, and keeps no record of a last attempt: the counts
shown for a receiver are its integration's, over every receiver using it, and LAST is
n/a. For DingTalk, WeCom, SMS and voice receivers the relay's counts are per channel
kind. gantry alerts test checks one receiver end to end.

Example:
  gantry alerts status -f deploy/user-service/gantry.yaml -o json
`,
    )
    .action(
      async (
        opts: { file: string; prometheus?: string; alertmanager?: string; relay?: string },
        cmd: Command,
      ) => {
        const spec = loadSpecFile(opts.file);
        const url = prometheusUrl(spec.release.analysis, opts.prometheus);
        const [list, delivery] = await Promise.all([
          serviceAlerts(spec, url),
          deliveryStatus(spec, {
            alertmanagerUrl: alertmanagerUrl(opts.alertmanager),
            relayUrl: relayMetricsUrl(spec, opts.relay),
          }),
        ]);
        if (json(cmd)) {
          printJson({
            service: spec.name,
            namespace: spec.namespace,
            alerts: list,
            alertmanager: delivery,
          });
          return;
        }
        if (!list.length) {
          process.stdout.write(`${spec.namespace}/${spec.name}: no alert pending or firing\n`);
        }
        for (const a of list) {
          process.stdout.write(
            `${a.state.padEnd(7)} ${a.alertname} since ${a.activeAt}${a.summary ? `: ${a.summary}` : ''}\n`,
          );
        }
        printDelivery(delivery);
      },
    );

  alerts
    .command('test')
    .description(
      'send a synthetic alert through Alertmanager to each receiver (or one), resolve it, and report what each delivered',
    )
    .argument('[receiver]', 'one receiver of monitoring.receivers (default: every one)')
    .option('-f, --file <path>', 'spec file', 'gantry.yaml')
    .option('--wait <duration>', 'bound on each wait for a notification (firing, resolved)', '60s')
    .option('--alertmanager <url>', 'Alertmanager base URL (default: $ALERTMANAGER_URL)')
    .option(
      '--relay <url>',
      "the alert relay's base URL, for its /metrics (default: $GANTRY_ALERT_RELAY_URL, monitoring.relay.url, http://127.0.0.1:30093)",
    )
    .addHelpText(
      'after',
      `
The alert has alertname=GantryTest, the service's namespace and service, severity=info,
gantry_test_receiver=<receiver> and a unique test_id. gantry alerts apply renders, first
in the service's subtree, one route per receiver matching alertname and
gantry_test_receiver, so the alert reaches that receiver alone (not inhibited, but a
silence on the service stops it: reported as silenced). Once the firing notification is
out the alert is resolved (endsAt now) and the resolved notification is waited for too.

What each receiver delivered is read from Alertmanager's /metrics before and after
(alertmanager_notification_requests_total and _failed_total, notifications_failed_total):
Alertmanager 0.25 counts per integration, not per receiver, so receivers are tested one
per integration at a time. For DingTalk, WeCom, SMS and voice receivers the relay's
relay_deliveries_total (per channel kind) tells whether the relay delivered; when its
metrics cannot be read the result is "accepted" (the relay answers Alertmanager once
the alert is on disk). Progress goes to stderr.

RESULT: delivered, accepted, failed, timeout, silenced, inhibited, not-routed (the live
configuration has no test route: run gantry alerts apply). Exit 0 when every receiver
tested delivered (or was accepted), 4 otherwise.

Examples:
  gantry alerts test -f deploy/user-service/gantry.yaml
  gantry alerts test ops-email -f deploy/user-service/gantry.yaml --wait 30s -o json
`,
    )
    .action(
      async (
        receiver: string | undefined,
        opts: { file: string; wait: string; alertmanager?: string; relay?: string },
        cmd: Command,
      ) => {
        const spec = loadSpecFile(opts.file);
        const seconds = positiveSeconds(opts.wait, '--wait');
        const report = await asAlertsError(() =>
          testReceivers(spec, {
            alertmanagerUrl: alertmanagerUrl(opts.alertmanager),
            relayUrl: relayMetricsUrl(spec, opts.relay),
            ...(receiver !== undefined ? { receiver } : {}),
            waitMs: seconds * 1000,
            onProgress: (m) => process.stderr.write(`  ${m}\n`),
          }),
        );
        if (json(cmd)) printJson(report);
        else printTestReport(report);
        if (!report.ok) exits.push(ExitCode.DeployFailed);
      },
    );

  alerts
    .command('silence')
    .description('silence one alert of the service in Alertmanager (API v2)')
    .argument('<alert>', 'alert name, e.g. CPUHigh or GantryCPUHigh')
    .requiredOption('--for <duration>', 'how long, e.g. 30m, 1h, 8h')
    .option('--comment <text>', 'why (shown with the silence)')
    .option('-f, --file <path>', 'spec file (for name and namespace)', 'gantry.yaml')
    .option('--alertmanager <url>', 'Alertmanager base URL (default: $ALERTMANAGER_URL)')
    .addHelpText(
      'after',
      `
The silence matches alertname, namespace and service. Expire it with
gantry alerts unsilence ID.

Example:
  gantry alerts silence CPUHigh --for 1h --comment "load test" -f deploy/user-service/gantry.yaml
`,
    )
    .action(
      async (
        alert: string,
        opts: { for: string; comment?: string; file: string; alertmanager?: string },
        cmd: Command,
      ) => {
        const spec = loadSpecFile(opts.file);
        const seconds = positiveSeconds(opts.for, '--for');
        const s = await asAlertsError(() =>
          createSilence(alertmanagerUrl(opts.alertmanager), spec, {
            alert,
            durationSeconds: seconds,
            ...(opts.comment ? { comment: opts.comment } : {}),
          }),
        );
        if (json(cmd)) printJson(s);
        else
          process.stdout.write(
            `silence ${s.id}: ${formatMatchers(s.matchers)} until ${s.endsAt}\n`,
          );
      },
    );

  alerts
    .command('silences')
    .description("the service's active and pending silences in Alertmanager (API v2)")
    .option('-f, --file <path>', 'spec file (for name and namespace)', 'gantry.yaml')
    .option('--all', "every silence, not only the service's")
    .option('--expired', 'expired silences too')
    .option('--alertmanager <url>', 'Alertmanager base URL (default: $ALERTMANAGER_URL)')
    .action(
      async (
        opts: { file: string; all?: boolean; expired?: boolean; alertmanager?: string },
        cmd: Command,
      ) => {
        const spec = opts.all ? undefined : loadSpecFile(opts.file);
        const list = await asAlertsError(() =>
          listSilences(alertmanagerUrl(opts.alertmanager), spec, { expired: !!opts.expired }),
        );
        if (json(cmd)) {
          printJson({ silences: list });
          return;
        }
        if (!list.length) {
          process.stdout.write(`no silences${spec ? ` for ${spec.namespace}/${spec.name}` : ''}\n`);
          return;
        }
        for (const s of list) {
          process.stdout.write(
            `${s.id} ${s.status.state.padEnd(7)} until ${s.endsAt} ${formatMatchers(s.matchers)}` +
              ` by ${s.createdBy}${s.comment ? `: ${s.comment}` : ''}\n`,
          );
        }
      },
    );

  alerts
    .command('unsilence')
    .description('expire a silence now (API v2)')
    .argument('<id>', 'silence ID, as gantry alerts silences shows it')
    .option('--alertmanager <url>', 'Alertmanager base URL (default: $ALERTMANAGER_URL)')
    .action(async (id: string, opts: { alertmanager?: string }, cmd: Command) => {
      await asAlertsError(() => expireSilence(alertmanagerUrl(opts.alertmanager), id));
      if (json(cmd)) printJson({ id, expired: true });
      else process.stdout.write(`expired silence ${id}\n`);
    });
  return exits;
}

/** The relay URL whose /metrics to read: flag, env, spec, local NodePort. */
function relayMetricsUrl(spec: ServiceSpec, flag?: string): string {
  return (
    flag ??
    (process.env.GANTRY_ALERT_RELAY_URL || undefined) ??
    spec.monitoring.relay.url ??
    DEFAULT_RELAY_URL
  ).replace(/\/+$/, '');
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  '))
    .join('\n');
}

function printTestReport(r: AlertTestReport): void {
  const rows = [['RECEIVER', 'KIND', 'RESULT', 'DETAIL']];
  for (const x of r.receivers) rows.push([x.receiver, x.kind, x.result, x.detail]);
  process.stdout.write(`${table(rows)}\n`);
  process.stderr.write(`note: ${r.note}\n`);
}

function printDelivery(d: DeliveryStatus): void {
  const out = (s: string) => process.stdout.write(`${s}\n`);
  if (d.alertmanager.error) {
    out(`alertmanager: ${d.alertmanager.error}`);
  } else {
    const suppressed = d.alerts.filter((a) => a.state === 'suppressed');
    out(
      `alertmanager ${d.alertmanager.url}: ${d.alerts.length - suppressed.length} active, ` +
        `${suppressed.length} silenced or inhibited`,
    );
    for (const a of suppressed) {
      const by = a.silencedBy.length
        ? `silenced by ${a.silencedBy.join(', ')}`
        : `inhibited by ${a.inhibitedBy.join(', ')}`;
      out(`  ${a.alertname} since ${a.startsAt}: ${by}`);
    }
  }
  if (d.relay?.error) out(`relay: ${d.relay.error}`);
  if (!d.receivers.length) return;
  const rows = [
    ['RECEIVER', 'KIND', 'ALERTS', 'ALERTMANAGER (per integration)', 'RELAY (per kind)', 'LAST'],
  ];
  for (const r of d.receivers) {
    const am = r.alertmanager
      ? `${r.integration}: ${r.alertmanager.requests - r.alertmanager.requestsFailed} sent, ` +
        `${r.alertmanager.requestsFailed} failed attempts, ${r.alertmanager.notificationsFailed} given up`
      : 'n/a';
    const relay = r.relay
      ? `${r.relay.delivered} delivered, ${r.relay.retry} retried, ${r.relay.failed} failed`
      : r.integration === 'email' || r.kind === 'webhook'
        ? '-'
        : 'n/a';
    rows.push([r.receiver, r.kind, String(r.alertsNow), am, relay, r.lastAttempt]);
  }
  out(table(rows));
  out(
    'ALERTS: alerts Alertmanager routes to the receiver now. Counts are totals since each ' +
      'process started, over every receiver of the integration or kind; neither records a ' +
      'last attempt per receiver (gantry alerts test checks one).',
  );
}

function json(cmd: Command): boolean {
  return parseFormat(cmd.optsWithGlobals<{ output?: string }>().output) === 'json';
}

function kubeFor(cmd: Command): Kube {
  const g = cmd.optsWithGlobals<{ kubeconfig?: string; context?: string }>();
  return Kube.load({
    ...(g.kubeconfig ? { kubeconfig: g.kubeconfig } : {}),
    ...(g.context ? { context: g.context } : {}),
  });
}

function amConfigPath(): string | undefined {
  return process.env.GANTRY_ALERTMANAGER_CONFIG || undefined;
}

function relaySecretRef(opts: Pick<TargetOpts, 'relaySecret'>): RelaySecretRef {
  const v = opts.relaySecret ?? process.env.GANTRY_ALERT_RELAY_SECRET;
  if (!v) return RELAY_SECRET;
  const m = /^([a-z0-9-]+)\/([a-z0-9.-]+)$/.exec(v);
  if (!m) throw new UsageError(`--relay-secret must be NAMESPACE/NAME, not "${v}"`);
  return { namespace: m[1]!, name: m[2]! };
}

/** The Alertmanager part of gantry alerts apply; undefined when the spec routes nothing. */
async function applyRouting(
  spec: ServiceSpec,
  specDir: string,
  opts: Omit<TargetOpts, 'file'>,
  cmd: Command,
  onProgress?: (m: string) => void,
): Promise<RoutingResult | undefined> {
  const config = opts.alertmanagerConfig ?? amConfigPath();
  if (!routesSomething(spec, config)) return undefined;
  if (!config) {
    throw new UsageError(
      'the spec has monitoring.receivers or routes: give the Alertmanager configuration file ' +
        'with --alertmanager-config or $GANTRY_ALERTMANAGER_CONFIG',
    );
  }
  return asAlertsError(() =>
    applyServiceRouting(spec, {
      configPath: config,
      alertmanagerUrl: alertmanagerUrl(opts.alertmanager),
      prometheusUrl: prometheusUrl(spec.release.analysis, opts.prometheus),
      specDir,
      kube: () => kubeFor(cmd),
      relaySecret: relaySecretRef(opts),
      ...(onProgress ? { onProgress } : {}),
    }),
  );
}

function target(spec: ServiceSpec, opts: Omit<TargetOpts, 'file'>, cmd: Command): RulesTarget {
  const rulesDir = opts.rulesDir ?? process.env.GANTRY_PROMETHEUS_RULES_DIR;
  if (!rulesDir) {
    throw new UsageError(
      "no rules directory: give --rules-dir (a directory in Prometheus' rule_files) or set $GANTRY_PROMETHEUS_RULES_DIR",
    );
  }
  const text = !json(cmd);
  return {
    rulesDir,
    prometheusUrl: prometheusUrl(spec.release.analysis, opts.prometheus),
    ...(text ? { onProgress: (m: string) => process.stderr.write(`  ${m}\n`) } : {}),
  };
}

/** A duration flag in seconds (a bare number is seconds); it must be longer than 0. */
function positiveSeconds(v: string, flag: string): number {
  const seconds = parseCliDuration(v) / 1000;
  if (!(seconds > 0)) throw new UsageError(`${flag} must be longer than 0`);
  return seconds;
}

/** gantry alerts apply of one service; prints the text lines, returns the JSON result. */
async function applyAlerts(
  spec: ServiceSpec,
  file: string,
  opts: Omit<TargetOpts, 'file'>,
  cmd: Command,
) {
  const m = spec.monitoring;
  if (
    (Object.keys(m.receivers).length || m.routes.length) &&
    !(opts.alertmanagerConfig ?? amConfigPath())
  ) {
    throw new UsageError(
      'the spec has monitoring.receivers or routes: give the Alertmanager configuration file ' +
        'with --alertmanager-config or $GANTRY_ALERTMANAGER_CONFIG',
    );
  }
  const rendered = renderAlertRules(spec);
  for (const n of rendered.notes) process.stderr.write(`note: ${n}\n`);
  const progress = json(cmd) ? undefined : (m: string) => process.stderr.write(`  ${m}\n`);
  const r = await applyAlertRules(spec, rendered, target(spec, opts, cmd));
  if (!json(cmd))
    process.stdout.write(
      `${r.rules} rules of ${spec.namespace}/${spec.name} loaded by Prometheus from ${r.file}\n`,
    );
  const routing = await applyRouting(spec, dirname(file), opts, cmd, progress);
  for (const w of routing?.warnings ?? []) process.stderr.write(`warning: ${w}\n`);
  if (!json(cmd) && routing?.alertmanager)
    process.stdout.write(
      `Alertmanager at ${routing.alertmanager.url} routes ${spec.namespace}/${spec.name} ` +
        `to ${routing.alertmanager.receivers.length} receiver(s)` +
        `${routing.relay ? `; relay channels ${routing.relay.action} in ${routing.relay.secret}` : ''}\n`,
    );
  return { ...r, notes: rendered.notes, routing: routing ?? null };
}
