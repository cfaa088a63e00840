// gantry console: a live web console of every service Gantry manages, served from the
// CLI with the user's own kubeconfig identity; read-only unless --allow-actions. Runs
// until interrupted.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { prometheusUrl } from '../../analysis/prometheus.js';
import { gantryVersion } from '../../gantry-version.js';
import { kubeconfigPath, loadClusterAccess } from '../../kube/kubeconfig.js';
import { globals, parseDuration } from '../context.js';
import { printJson, UsageError } from '../output.js';

interface ConsoleOpts {
  address: string;
  open?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  namespace?: string;
  prometheus?: string;
  alertmanager?: string;
  refresh: string;
  allowActions?: boolean;
  chaosReports: string[];
}

const collect = (v: string, all: string[]) => [...all, v];

export function registerConsoleCommands(program: Command): void {
  program
    .command('console')
    .description(
      'serve a live web console of the services, releases, alerts and chaos runs (read-only unless --allow-actions; Ctrl-C stops it)',
    )
    .option(
      '--address <host:port>',
      'where to listen; other than loopback needs the printed token',
      '127.0.0.1:3100',
    )
    .option('--open', 'open the console in the default browser')
    .option('--tls-cert <file>', 'serve HTTPS with this certificate (PEM)')
    .option('--tls-key <file>', 'the private key of --tls-cert (PEM)')
    .option(
      '-n, --namespace <name>',
      'show one namespace only (for identities that may not list all)',
    )
    .option(
      '--prometheus <url>',
      'Prometheus base URL (default: $GANTRY_PROMETHEUS_URL, $PROMETHEUS_URL, http://127.0.0.1:9090)',
    )
    .option(
      '--alertmanager <url>',
      'Alertmanager base URL (default: $ALERTMANAGER_URL, http://127.0.0.1:9093)',
    )
    .option(
      '--refresh <duration>',
      'how often charts and alerts are read (once for all open pages)',
      '5s',
    )
    .option(
      '--allow-actions',
      'offer promote, pause, resume, abort, rollback and restart on the pages (each confirmed, run as your kubeconfig identity, logged)',
    )
    .option(
      '--chaos-reports <dir>',
      'where `gantry chaos run --report DIR` wrote journals, for the chaos page (repeatable)',
      collect,
      [],
    )
    .addHelpText(
      'after',
      `
Without --allow-actions the console changes nothing: its pages have no action controls and
its action endpoint does not exist. With it, every action is confirmed on the page (naming
the service, namespace and step, weight or revision), runs the same library code as the
CLI command (gantry release promote|pause|resume|abort, rollback, restart) as your
kubeconfig identity, and is logged: a line on stderr and a JSON line on stdout.

Examples:
  gantry console
  gantry console --allow-actions --chaos-reports out/
  gantry console --address 0.0.0.0:3100 --tls-cert cert.pem --tls-key key.pem
`,
    )
    .action(async (opts: ConsoleOpts, cmd: Command) => {
      const g = globals(cmd);
      const gl = cmd.optsWithGlobals<{ kubeconfig?: string; context?: string }>();
      if ((opts.tlsCert === undefined) !== (opts.tlsKey === undefined)) {
        throw new UsageError('--tls-cert and --tls-key go together');
      }
      const refreshMs = parseDuration(opts.refresh);
      if (refreshMs < 1000) throw new UsageError('--refresh must be at least 1s');
      const { startConsole, parseAddress, ConsoleError } = await import('../../console/server.js');
      try {
        parseAddress(opts.address);
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
      const access = loadClusterAccess(kubeconfigPath(gl.kubeconfig), gl.context);
      let tls: { cert: Buffer; key: Buffer } | undefined;
      try {
        tls =
          opts.tlsCert && opts.tlsKey
            ? { cert: readFileSync(opts.tlsCert), key: readFileSync(opts.tlsKey) }
            : undefined;
      } catch (err) {
        throw new UsageError(`cannot read the TLS files: ${(err as Error).message}`);
      }
      const kube = await g.kube();
      let actions: Parameters<typeof startConsole>[0]['actions'];
      if (opts.allowActions) {
        const { whoAmI } = await import('../../console/actions.js');
        // The identity the API server sees (SelfSubjectReview); else the kubeconfig's context.
        const user = (await whoAmI(kube)) ?? `context ${access.contextName}`;
        actions = {
          user,
          audit: (e) => {
            const what = `${e.action}${e.revision !== undefined ? ` r${e.revision}` : ''} ${e.namespace}/${e.name}`;
            process.stderr.write(
              `${new Date().toISOString()} console action ${what} by ${e.user}: ${
                e.outcome === 'running'
                  ? `started (${e.confirm})`
                  : `${e.outcome}: ${e.message ?? ''}`
              }\n`,
            );
            process.stdout.write(
              `${JSON.stringify({
                time: new Date().toISOString(),
                event: e.outcome === 'running' ? 'console.action.start' : 'console.action.end',
                ...e,
              })}\n`,
            );
          },
        };
      }
      let running;
      try {
        running = await startConsole({
          kube,
          ...(actions ? { actions } : {}),
          chaosReports: opts.chaosReports,
          address: opts.address,
          prometheusUrl: prometheusUrl({}, opts.prometheus),
          alertmanagerUrl: (
            opts.alertmanager ??
            process.env.ALERTMANAGER_URL ??
            'http://127.0.0.1:9093'
          ).replace(/\/+$/, ''),
          refreshMs,
          ...(opts.namespace ? { namespace: opts.namespace } : {}),
          ...(tls ? { tls } : {}),
          context: access.contextName,
          version: gantryVersion(),
        });
      } catch (err) {
        if (err instanceof ConsoleError) throw new UsageError(err.message);
        throw err;
      }
      if (g.format === 'json') {
        printJson({
          url: running.url,
          address: opts.address,
          tokenRequired: running.token !== undefined,
          actions: actions ? { user: actions.user } : null,
        });
      } else {
        process.stdout.write(`Gantry console (context ${access.contextName}): ${running.url}\n`);
        if (running.token) {
          process.stdout.write(
            `listening on ${opts.address}: the token in the URL is required (then kept as a cookie)\n`,
          );
        }
        process.stdout.write(
          actions
            ? `actions allowed, as ${actions.user}; each is logged here. Ctrl-C stops it\n`
            : 'read-only; Ctrl-C stops it\n',
        );
      }
      if (opts.open) {
        const child = spawn('xdg-open', [running.url], { stdio: 'ignore', detached: true });
        child.on('error', () =>
          process.stderr.write('gantry: could not open a browser (xdg-open)\n'),
        );
        child.unref();
      }
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          void running.close().then(resolve, resolve);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    });
}
