// Putting a service's rules in front of a Prometheus that reads rule files from a
// directory (its rule_files glob): write the file atomically, ask Prometheus to
// reload (/-/reload, which needs --web.enable-lifecycle), and confirm through
// /api/v1/rules that it loaded the group from that file. A file Prometheus refuses
// is replaced by what was there before, so a bad change never stays on disk.
import { existsSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { ServiceSpec } from '../spec/index.js';
import { getJson, postReload, writeAtomic } from './lifecycle.js';
import { ruleGroupName, rulesYaml } from './rules.js';
import type { RenderedRules } from './rules.js';

export class AlertRulesError extends Error {
  override name = 'AlertRulesError';
  /** true: bad input (nothing changed); false: Prometheus refused or could not be reached. */
  constructor(
    message: string,
    readonly input = false,
  ) {
    super(message);
  }
}

export interface RulesTarget {
  /** A directory Prometheus loads *.yml rule files from. */
  rulesDir: string;
  /** Prometheus base URL. */
  prometheusUrl: string;
  /** How long to wait for Prometheus to show the new rules. Default 15 s. */
  timeoutMs?: number;
  onProgress?: (message: string) => void;
}

export interface AppliedRules {
  file: string;
  group: string;
  rules: number;
  /** false when the file held exactly these rules already (Prometheus still confirmed them). */
  changed: boolean;
}

export function rulesFileName(spec: Pick<ServiceSpec, 'namespace' | 'name'>): string {
  return `gantry-${spec.namespace}-${spec.name}.yml`;
}

export async function applyAlertRules(
  spec: ServiceSpec,
  rendered: RenderedRules,
  target: RulesTarget,
): Promise<AppliedRules> {
  const file = join(checkDir(target.rulesDir), rulesFileName(spec));
  const group = ruleGroupName(spec);
  const text = `# Written by gantry alerts apply for ${spec.namespace}/${spec.name}; edits are overwritten.\n${rulesYaml(rendered.file)}`;
  const previous = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
  const count = rendered.file.groups.reduce((n, g) => n + g.rules.length, 0);
  if (count === 0) {
    // Every alert is off: no file at all rather than an empty group.
    const { removed } = await removeAlertRules(spec, target);
    target.onProgress?.(removed ? `no rules: removed ${file}` : 'no rules to write');
    return { file, group, rules: 0, changed: removed };
  }
  const changed = previous !== text;
  if (changed) writeAtomic(file, text);
  target.onProgress?.(`${changed ? 'wrote' : 'unchanged'} ${file} (${count} rules)`);
  try {
    await reload(target.prometheusUrl);
  } catch (err) {
    if (changed) {
      if (previous === undefined) unlinkSync(file);
      else writeAtomic(file, previous);
      await reload(target.prometheusUrl).catch(() => undefined);
    }
    throw err;
  }
  target.onProgress?.(`Prometheus at ${target.prometheusUrl} reloaded; waiting for group ${group}`);
  await waitForGroup(target, group, file, count);
  return { file, group, rules: count, changed };
}

/** Removes the service's rule file and reloads; resolves false when there was none. */
export async function removeAlertRules(
  spec: ServiceSpec,
  target: RulesTarget,
): Promise<{ file: string; removed: boolean }> {
  const file = join(checkDir(target.rulesDir), rulesFileName(spec));
  if (!existsSync(file)) return { file, removed: false };
  unlinkSync(file);
  await reload(target.prometheusUrl);
  await waitForGroup(target, ruleGroupName(spec), file, 0);
  return { file, removed: true };
}

export interface ActiveAlert {
  alertname: string;
  state: 'pending' | 'firing';
  activeAt: string;
  value: string;
  labels: Record<string, string>;
  summary?: string;
}

/** The service's pending and firing alerts, as Prometheus evaluates them now. */
export async function serviceAlerts(
  spec: Pick<ServiceSpec, 'namespace' | 'name'>,
  prometheusUrl: string,
): Promise<ActiveAlert[]> {
  const body = (await call(prometheusUrl, '/api/v1/alerts')) as {
    data?: {
      alerts?: {
        labels: Record<string, string>;
        annotations?: Record<string, string>;
        state: string;
        activeAt: string;
        value: string;
      }[];
    };
  };
  return (body.data?.alerts ?? [])
    .filter((x) => x.labels.namespace === spec.namespace && x.labels.service === spec.name)
    .filter((x) => x.state === 'pending' || x.state === 'firing')
    .map((x) => ({
      alertname: x.labels.alertname ?? '',
      state: x.state as 'pending' | 'firing',
      activeAt: x.activeAt,
      value: x.value,
      labels: x.labels,
      ...(x.annotations?.summary ? { summary: x.annotations.summary } : {}),
    }));
}

function checkDir(dir: string): string {
  const abs = resolve(dir);
  if (!existsSync(abs) || !statSync(abs).isDirectory()) {
    throw new AlertRulesError(
      `rules directory ${abs} does not exist: give a directory Prometheus loads rule files from ` +
        '(one of its rule_files globs), with --rules-dir or $GANTRY_PROMETHEUS_RULES_DIR',
      true,
    );
  }
  return abs;
}

async function reload(prometheusUrl: string): Promise<void> {
  const res = await postReload(
    prometheusUrl,
    (why) =>
      new AlertRulesError(
        `cannot reach Prometheus at ${prometheusUrl} to reload its rules: ${why}`,
      ),
  );
  if (res.ok) return;
  if (res.status === 403 || res.status === 404 || res.status === 405) {
    throw new AlertRulesError(
      `Prometheus at ${prometheusUrl} refused /-/reload (HTTP ${res.status}): start it with --web.enable-lifecycle`,
    );
  }
  throw new AlertRulesError(
    `Prometheus at ${prometheusUrl} could not load the rules (HTTP ${res.status}): ${res.text}; the previous rule file was put back`,
  );
}

async function waitForGroup(
  target: RulesTarget,
  group: string,
  file: string,
  rules: number,
): Promise<void> {
  const deadline = Date.now() + (target.timeoutMs ?? 15_000);
  let seen = 'no such group';
  for (;;) {
    const body = (await call(target.prometheusUrl, '/api/v1/rules')) as {
      data?: { groups?: { name: string; file: string; rules: unknown[] }[] };
    };
    const groups = (body.data?.groups ?? []).filter((g) => g.name === group);
    // By file name: Prometheus reports the path as its rule_files glob spells it, which
    // may reach the same directory through a symlink.
    const ours = groups.find((g) => basename(g.file) === basename(file));
    if (rules === 0 ? ours === undefined : ours?.rules.length === rules) return;
    seen = groups.length
      ? groups.map((g) => `${g.rules.length} rules from ${g.file}`).join(', ')
      : 'no such group';
    if (Date.now() > deadline) {
      throw new AlertRulesError(
        rules === 0
          ? `Prometheus still shows group ${group} from ${file} after the reload`
          : `Prometheus reloaded but does not show group ${group} with ${rules} rules from ${file} ` +
              `(it shows ${seen}): is ${target.rulesDir} one of its rule_files globs, and on the same machine?`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

function call(prometheusUrl: string, path: string): Promise<unknown> {
  return getJson('Prometheus', prometheusUrl, path, (m) => new AlertRulesError(m));
}
