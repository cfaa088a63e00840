// The alert relay as gantry ships it (deploy/alert-relay/gantry.yaml) on the local cluster:
// its channels come from a Secret it does not own, mounted as a directory (mounts:, optional),
// and the host reaches it on a fixed node port. In a namespace and on a node port of its own:
// the relay starts with no Secret at all, picks up a channels Secret written after it started,
// delivers an Alertmanager (v4) webhook to a WeCom stand-in, and picks up a receiver added to
// the Secret later, all without a restart.
//
// Pods cannot reach the host's 127.0.0.1, so the stand-in listens on the node address
// ($GANTRY_NODE_IP) on an ephemeral port.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  eventually,
  freeNodePort,
  kubectl,
  requireCluster,
  run,
} from '../../../../hack/cluster/test/cluster-env.js';
import type { ClusterEnv } from '../../../../hack/cluster/test/cluster-env.js';
import { runGantry } from '../gantry-cli.js';
import { startWeComStandIn } from '../monitor/loopback-receivers.js';
import type { WeComStandIn } from '../monitor/loopback-receivers.js';

const repo = fileURLToPath(new URL('../../../../', import.meta.url));
const cluster = requireCluster();
const skip = typeof cluster === 'string' ? cluster : false;
const env = cluster as ClusterEnv;
const ns = `relay-it-${Date.now().toString(36)}`;
const work = mkdtempSync(join(tmpdir(), 'gantry-relay-'));

let standIn: WeComStandIn | undefined;
let nodePort = 0;

before(async () => {
  if (skip) return;
  nodePort = freeNodePort(env);
  assert.ok(env.GANTRY_NODE_IP, 'cluster env has no GANTRY_NODE_IP');
  standIn = await startWeComStandIn(env.GANTRY_NODE_IP, ['first-key', 'second-key']);
});

after(async () => {
  if (!skip) {
    runGantry(['alerts', 'delete', '-f', join(work, 'gantry.yaml')], env);
    run('kubectl', ['delete', 'namespace', ns, '--wait=false'], env);
  }
  await standIn?.close();
  rmSync(work, { recursive: true, force: true });
});

function channels(keys: string[]): string {
  const receivers: Record<string, unknown> = {};
  for (const key of keys) {
    receivers[`${ns}.svc.${key.replace('-key', '')}`] = {
      language: 'en',
      channels: [{ kind: 'wecom', url: `${standIn!.url}/cgi-bin/webhook/send?key=${key}` }],
    };
  }
  return JSON.stringify(receivers);
}

/** Creates or replaces the relay's channels Secret: one file per service, as alerts apply writes. */
function writeChannels(keys: string[]): void {
  const secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'alert-relay-channels', namespace: ns },
    type: 'Opaque',
    stringData: { [`${ns}.svc.json`]: channels(keys) },
  };
  kubectl(env, ['apply', '-f', '-'], JSON.stringify(secret));
}

function alertPayload(receiver: string, alertname: string) {
  return {
    version: '4',
    groupKey: `{}:{alertname="${alertname}"}`,
    truncatedAlerts: 0,
    status: 'firing',
    receiver,
    groupLabels: { alertname },
    commonLabels: { service: 'svc', namespace: ns },
    commonAnnotations: {},
    externalURL: 'http://127.0.0.1:9093',
    alerts: [
      {
        status: 'firing',
        labels: { alertname, service: 'svc', namespace: ns, severity: 'warning' },
        annotations: { summary: `${alertname} in ${ns}` },
        startsAt: new Date().toISOString(),
        endsAt: '0001-01-01T00:00:00Z',
        generatorURL: 'http://127.0.0.1:9090/graph',
        fingerprint: `fp-${alertname}`,
      },
    ],
  };
}

/** POSTs a webhook to the relay through its node port on the host; the HTTP status. */
async function post(receiverKey: string, alertname: string): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${nodePort}/v1/alerts/${receiverKey}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(alertPayload(receiverKey, alertname)),
    signal: AbortSignal.timeout(5000),
  });
  await res.text();
  return res.status;
}

/** Posts until the relay knows the receiver (200; 404 until its channels file names it). */
async function deliver(receiverKey: string, alertname: string, key: string): Promise<string> {
  // Secret volume updates reach the pod on the kubelet's next sync of it (30 s here), and
  // the relay polls the directory every RELAY_CONFIG_POLL_MS.
  await eventually(
    `the relay accepts alerts for ${receiverKey}`,
    120_000,
    async () => {
      const status = await post(receiverKey, alertname).catch(() => 0);
      assert.notEqual(status, 400, 'the payload is a valid v4 webhook');
      return status === 200 ? true : undefined;
    },
    2000,
  );
  const got = await eventually(`the stand-in receives ${alertname} for ${key}`, 60_000, () =>
    standIn!.received.find((r) => r.key === key && r.text.includes(alertname)),
  );
  return got.text;
}

test(
  'the relay ships with an optional channels mount and a node port, and follows the Secret',
  { skip, timeout: 480_000 },
  async () => {
    // The repository's relay spec, in a namespace and on a node port of its own.
    const spec = join(work, 'gantry.yaml');
    const text = readFileSync(join(repo, 'deploy/alert-relay/gantry.yaml'), 'utf8');
    const patched = text
      .replace(/^namespace: gantry-system$/m, `namespace: ${ns}`)
      .replace(/^(\s+nodePort:) 30093$/m, `$1 ${nodePort}`)
      .replace(
        'context: ../../services/alert-relay',
        `context: ${join(repo, 'services/alert-relay')}`,
      )
      .replace("RELAY_CONFIG_POLL_MS: '3000'", "RELAY_CONFIG_POLL_MS: '1000'");
    assert.notEqual(patched, text);
    assert.match(patched, new RegExp(`nodePort: ${nodePort}`));
    assert.match(patched, /secret: alert-relay-channels/);
    writeFileSync(spec, patched);

    // No Secret yet: the optional mount is an empty directory and the relay runs, ready.
    const ship = runGantry(['ship', '-f', spec, '--skip-tests'], env, 300_000);
    assert.equal(ship.status, 0, `gantry ship:\n${ship.stdout}\n${ship.stderr}`);
    const ready = await eventually('readyz on the node port', 30_000, async () => {
      const res = await fetch(`http://127.0.0.1:${nodePort}/readyz`).catch(() => undefined);
      return res?.status === 200 ? await res.text() : undefined;
    });
    assert.match(ready, /ready/);
    assert.equal(await post(`${ns}.svc.first`, 'Nothing'), 404, 'no receivers without a Secret');

    const svc = JSON.parse(
      kubectl(env, ['get', 'service', 'alert-relay', '-n', ns, '-o', 'json']),
    ) as { spec: { type: string; ports: { nodePort: number }[] } };
    assert.equal(svc.spec.type, 'NodePort');
    assert.equal(svc.spec.ports[0]!.nodePort, nodePort);

    // The channels Secret appears: its receiver is picked up and delivered to.
    writeChannels(['first-key']);
    const first = await deliver(`${ns}.svc.first`, 'RelayFirstAlert', 'first-key');
    assert.match(first, /RelayFirstAlert/);
    assert.match(first, new RegExp(ns));

    // A receiver added to the Secret later is picked up too, by the same pod.
    const pods = kubectl(env, ['get', 'pods', '-n', ns, '-o', 'name']).trim();
    writeChannels(['first-key', 'second-key']);
    await deliver(`${ns}.svc.second`, 'RelaySecondAlert', 'second-key');
    assert.equal(kubectl(env, ['get', 'pods', '-n', ns, '-o', 'name']).trim(), pods);
    const restarts = kubectl(env, [
      'get',
      'pods',
      '-n',
      ns,
      '-o',
      'jsonpath={.items[*].status.containerStatuses[*].restartCount}',
    ]);
    assert.equal(restarts.trim(), '0');
    // The robot key is in the Secret and the stand-in's URL only, never in what the relay logs.
    const logs = kubectl(env, ['logs', '-n', ns, 'deployment/alert-relay']);
    assert.ok(!logs.includes('first-key') && !logs.includes('second-key'), logs);
  },
);
