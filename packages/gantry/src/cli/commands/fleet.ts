// Commands over several services at once: `-f` given more than once or naming a
// directory. Specs are all loaded and checked first (every problem listed, exit 3,
// nothing applied), then deploys run concurrently within a bound and in the order
// `dependsOn` asks for; the others go on when one fails (it is rolled back as
// usual) unless --fail-fast. One summary table at the end; `-o json` for scripts.
import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Kube } from '../../kube/client.js';
import { findSpecFiles } from '../../fleet/discover.js';
import { memberKey, planFleet } from '../../fleet/plan.js';
import type { FleetPlan } from '../../fleet/plan.js';
import { runScheduled } from '../../fleet/schedule.js';
import { serviceStatus } from '../../fleet/status.js';
import type { ServiceStatus } from '../../fleet/status.js';
import { diffService } from '../../release/diff.js';
import { deploy } from '../../release/deploy.js';
import type { DeployEvent, DeployResult } from '../../release/deploy.js';
import { assertNoActiveRelease } from '../../progressive/state.js';
import { SpecError, loadSpecFile, resolveSecretValues } from '../../spec/index.js';
import type { SpecProblem } from '../../spec/errors.js';
import { ExitCode } from '../exit-codes.js';
import { printJson } from '../output.js';
import type { OutputFormat } from '../output.js';
import { formatDiff } from './diff.js';

export const FILE_HELP =
  'spec file, or a directory of specs; repeat for several (default gantry.yaml)';

/** commander collector for a repeatable -f. */
export const collectFiles = (value: string, previous: string[]): string[] => [...previous, value];

/** The spec files named, and whether this is the several-services form. */
export function specFilesOf(args: readonly string[]): { files: string[]; many: boolean } {
  const given = args.length ? args : ['gantry.yaml'];
  const isDir = (p: string) => {
    try {
      return statSync(p).isDirectory();
    } catch {
      return false;
    }
  };
  const many = given.length > 1 || given.some(isDir);
  return { files: many ? findSpecFiles(given) : [...given], many };
}

/** Loads every spec (all problems of all files in one error) and orders them. */
export function loadFleet(files: readonly string[]): FleetPlan {
  const problems: SpecProblem[] = [];
  const members = [];
  for (const file of files) {
    try {
      members.push({ file, spec: loadSpecFile(file) });
    } catch (err) {
      if (!(err instanceof SpecError)) throw err;
      problems.push(...err.problems);
    }
  }
  if (problems.length) throw new SpecError(problems);
  return planFleet(members);
}

const secs = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return (
    rows
      .map((r) =>
        r
          .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 2)))
          .join('')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

export interface FleetDeployOptions {
  concurrency: number;
  failFast: boolean;
  timeoutMs: number;
  rollbackTimeoutMs: number;
  autoRollback: boolean;
  lockWaitMs: number;
  routeTimeoutMs: number;
  gatewayUrl?: string;
}

export async function deployFleet(
  kube: Kube,
  plan: FleetPlan,
  opts: FleetDeployOptions,
  format: OutputFormat,
): Promise<number> {
  const byKey = new Map(plan.members.map((m) => [memberKey(m.spec), m]));
  // Secret sources are read before anything is applied: a missing one stops all (exit 3).
  const secrets = new Map(
    plan.members.map((m) => [memberKey(m.spec), resolveSecretValues(m.spec, dirname(m.file))]),
  );
  const t0 = Date.now();
  const say = (key: string, line: string) => {
    if (format === 'text') {
      process.stderr.write(`${secs(Date.now() - t0).padStart(6)} [${key}] ${line}\n`);
    }
  };
  const keys = [...byKey.keys()];
  if (format === 'text') {
    process.stderr.write(
      `deploying ${keys.length} services, up to ${opts.concurrency} at once${opts.failFast ? ', stopping at the first failure' : ''}\n`,
    );
  }
  const results = await runScheduled<DeployResult>(
    keys,
    plan.deps,
    {
      concurrency: opts.concurrency,
      failFast: opts.failFast,
      onStart: (k) => say(k, 'start'),
    },
    async (key) => {
      const { spec } = byKey.get(key)!;
      await assertNoActiveRelease(kube, spec.namespace, spec.name);
      const r = await deploy(kube, spec, {
        secretValues: secrets.get(key)!,
        timeoutMs: opts.timeoutMs,
        rollbackTimeoutMs: opts.rollbackTimeoutMs,
        autoRollback: opts.autoRollback,
        lockWaitMs: opts.lockWaitMs,
        routeTimeoutMs: opts.routeTimeoutMs,
        ...(opts.gatewayUrl ? { gatewayUrl: opts.gatewayUrl } : {}),
        onEvent: (e: DeployEvent) => {
          if (e.type === 'stage' || e.type === 'warning') say(key, e.message);
        },
      });
      say(key, r.ok ? `revision ${r.revision} deployed` : `FAILED: ${r.message}`);
      return { ok: r.ok, result: r };
    },
  );
  const rows = results.map((s) => {
    const m = byKey.get(s.key)!;
    const r = s.result;
    const message =
      s.outcome === 'skipped'
        ? `skipped: ${s.reason ?? ''}`
        : r
          ? r.ok
            ? r.message
            : `${r.message}${r.rolledBackTo !== undefined ? ` (back on revision ${r.rolledBackTo})` : ''}`
          : errorText(s.error);
    return {
      service: m.spec.name,
      namespace: m.spec.namespace,
      file: m.file,
      outcome: s.outcome === 'succeeded' ? 'deployed' : s.outcome,
      revision: r?.revision ?? null,
      elapsedMs: s.elapsedMs,
      message,
      ...(r?.rolledBackTo !== undefined ? { rolledBackTo: r.rolledBackTo } : {}),
    };
  });
  const ok = rows.every((r) => r.outcome === 'deployed');
  if (format === 'json') printJson({ ok, elapsedMs: Date.now() - t0, services: rows });
  else {
    process.stdout.write(
      table([
        ['SERVICE', 'RESULT', 'REVISION', 'TIME', 'MESSAGE'],
        ...rows.map((r) => [
          `${r.namespace}/${r.service}`,
          r.outcome,
          r.revision === null ? '-' : String(r.revision),
          r.outcome === 'skipped' ? '-' : secs(r.elapsedMs),
          r.message,
        ]),
      ]),
    );
    const n = rows.filter((r) => r.outcome === 'deployed').length;
    process.stdout.write(`${n} of ${rows.length} deployed in ${secs(Date.now() - t0)}\n`);
  }
  return ok ? ExitCode.Ok : ExitCode.DeployFailed;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message.split('\n')[0]! : String(err);
}

export async function statusFleet(
  kube: Kube,
  services: readonly { namespace: string; name: string }[],
  format: OutputFormat,
): Promise<number> {
  const list: ServiceStatus[] = await Promise.all(
    services.map((s) => serviceStatus(kube, s.namespace, s.name)),
  );
  if (format === 'json') printJson({ services: list, healthy: list.every((s) => s.healthy) });
  else if (list.length === 0) process.stdout.write('no services\n');
  else {
    process.stdout.write(
      table([
        ['SERVICE', 'REVISION', 'READY', 'ROLLOUT', 'IMAGE'],
        ...list.map((s) => [
          `${s.namespace}/${s.service}`,
          s.revision === null ? '-' : String(s.revision),
          s.deployment ? `${s.deployment.ready}/${s.deployment.replicas}` : '-',
          s.deployment ? s.deployment.rollout : 'no Deployment',
          s.image ?? 'never deployed',
        ]),
      ]),
    );
  }
  return list.every((s) => s.healthy) ? ExitCode.Ok : ExitCode.DeployFailed;
}

export async function diffFleet(
  kube: Kube,
  plan: FleetPlan,
  format: OutputFormat,
): Promise<number> {
  const results = await Promise.all(
    plan.members.map(async (m) => ({
      service: m.spec.name,
      namespace: m.spec.namespace,
      file: m.file,
      ...(await diffService(kube, m.spec, {
        secretValues: resolveSecretValues(m.spec, dirname(m.file)),
      })),
    })),
  );
  const changed = results.filter((r) => r.changed > 0).length;
  if (format === 'json') printJson({ services: results, changed });
  else {
    for (const r of results) {
      process.stdout.write(`### ${r.namespace}/${r.service} (${r.file})\n${formatDiff(r)}\n`);
    }
    process.stdout.write(`${changed} of ${results.length} services would change\n`);
  }
  return changed ? ExitCode.Changes : ExitCode.Ok;
}
