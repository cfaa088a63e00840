// The Alertmanager half of `gantry alerts apply`: the service's receivers and routes as a
// subtree of Alertmanager's configuration, and — for receivers the relay delivers to
// (DingTalk, WeCom, SMS, voice) — the relay's channels written into its Secret first, so
// the relay knows a receiver before Alertmanager routes anything to it.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Kube } from '../kube/client.js';
import type { ServiceSpec } from '../spec/index.js';
import { applyAlertmanagerConfig, fragmentName, fragmentsDirOf } from './alertmanager.js';
import type { AlertmanagerTarget } from './alertmanager.js';
import {
  RELAY_KINDS,
  relayChannels,
  renderAlertmanager,
  resolveReceiverSecrets,
} from './receivers.js';
import { writeRelayChannels } from './relay.js';
import type { RelaySecretRef } from './relay.js';

/** Whether any receiver is one the relay delivers to (RELAY_KINDS). */
export function hasRelayReceivers(spec: ServiceSpec): boolean {
  const kinds: readonly string[] = RELAY_KINDS;
  return Object.values(spec.monitoring.receivers).some((r) => kinds.includes(r.kind));
}

/** Whether the spec routes anything, or an earlier apply left a subtree to update. */
export function routesSomething(spec: ServiceSpec, configPath: string | undefined): boolean {
  const m = spec.monitoring;
  if (Object.keys(m.receivers).length > 0 || m.routes.length > 0) return true;
  return (
    configPath !== undefined && existsSync(join(fragmentsDirOf({ configPath }), fragmentName(spec)))
  );
}

export interface RoutingTarget {
  /** The Alertmanager configuration file (composed from a base and per-service fragments). */
  configPath: string;
  /** Alertmanager base URL. */
  alertmanagerUrl: string;
  /** Prometheus base URL, for the links in relayed messages. */
  prometheusUrl: string;
  /** Directory relative secret files are read from (the spec's). */
  specDir: string;
  /** The cluster holding the relay's channels Secret (asked for only when needed). */
  kube: () => Kube | Promise<Kube>;
  relaySecret: RelaySecretRef;
  onProgress?: (message: string) => void;
}

export interface RoutingResult {
  warnings: string[];
  alertmanager: { url: string; configPath: string; receivers: string[]; changed: boolean };
  relay?: Awaited<ReturnType<typeof writeRelayChannels>>;
}

/** Renders and loads the service's routing; throws AlertmanagerConfigError when refused. */
export async function applyServiceRouting(
  spec: ServiceSpec,
  t: RoutingTarget,
): Promise<RoutingResult> {
  const secrets = resolveReceiverSecrets(spec, t.specDir);
  const amTarget: AlertmanagerTarget = {
    configPath: t.configPath,
    url: t.alertmanagerUrl,
    secrets: secrets.values,
    ...(t.onProgress ? { onProgress: t.onProgress } : {}),
  };
  const rendered = renderAlertmanager(spec, { secrets, secretsDir: fragmentsDirOf(amTarget) });
  const out: Omit<RoutingResult, 'alertmanager'> = { warnings: rendered.warnings };
  if (hasRelayReceivers(spec)) {
    const entries = relayChannels(spec, secrets.values, { prometheusUrl: t.prometheusUrl });
    out.relay = await writeRelayChannels(await t.kube(), spec, entries, t.relaySecret);
    t.onProgress?.(
      `relay channels: ${out.relay.action} key ${out.relay.key} of ${out.relay.secret}`,
    );
  }
  const applied = await applyAlertmanagerConfig(spec, rendered, amTarget);
  return {
    ...out,
    alertmanager: {
      url: amTarget.url,
      configPath: applied.configPath,
      receivers: applied.receivers,
      changed: applied.changed,
    },
  };
}
