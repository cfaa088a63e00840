// An alert from a real pod reaches a person's channel through the whole chain: the echo
// fixture answers every 2nd request with a 500 (FAIL_EVERY=2) under load through the
// gateway; Prometheus evaluates the rule `gantry alerts apply` loaded; Alertmanager routes
// GantryErrorRateHigh by the service's subtree to its `wecom` receiver, rendered as a
// webhook to the alert relay (monitoring.relay.url); the relay — shipped from
// deploy/alert-relay/gantry.yaml into this test's namespace, on a node port of its own, its
// channels mount pointed at a Secret of this test's — posts to a WeCom stand-in. Then the
// load stops, the error rate goes away and the resolved message follows.
//
// The receiver names a full robot URL ({fromEnv}) rather than a key, because a key is
// always sent to qyapi.weixin.qq.com (WECOM_ROBOT_URL); pods cannot reach the host's
// 127.0.0.1, so the stand-in listens on the node address ($GANTRY_NODE_IP). The Secret is
// written before the relay starts, so its pod mounts the channels at once (a later update
// would wait for the kubelet's next sync of the volume).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import {
  eventually,
  freeNodePort,
  kubectl,
  pushEchoImage,
  requireCluster,
  run,
} from '../../../../hack/cluster/test/cluster-env.js';
import type { ClusterEnv } from '../../../../hack/cluster/test/cluster-env.js';
import { Load, once } from '../../../../hack/cluster/test/load.js';
import { hasSubtree } from '../../src/monitor/index.js';
import { runGantry } from '../gantry-cli.js';
import type { CliResult } from '../gantry-cli.js';
import { startWeComStandIn } from './loopback-receivers.js';
import type { WeComStandIn } from './loopback-receivers.js';

interface DeliveryEnv extends ClusterEnv {
  GANTRY_ALERTMANAGER_CONFIG?: string;
  GANTRY_PROMETHEUS_RULES_DIR?: string;
}

const repo = fileURLToPath(new URL('../../../../', import.meta.url));
const cluster = requireCluster();
const skip = typeof cluster === 'string' ? cluster : false;
const id = Date.now().toString(36);
const ns = `gantry-delivery-${id}`;
const name = 'flaky';
const host = `${name}.${ns}.test`;
const GATEWAY = 'http://127.0.0.1:8000';
const relaySecret = `relay-channels-${id}`;
const KEY = `wecom-key-${id}-Tq3Vz8`;
const receiver = `${ns}.${name}.oncall`;

let env: DeliveryEnv;
let work = '';
let image = '';
let nodePort = 0;
let standIn: WeComStandIn | undefined;
let standInUrl = '';
let amBefore = '';

function gantry(args: string[], timeoutMs = 120_000): CliResult {
  return runGantry(
    args,
    {
      ...env,
      GANTRY_PROMETHEUS_URL: env.PROMETHEUS_URL,
      TEST_WECOM_URL: `${standInUrl}/cgi-bin/webhook/send?key=${KEY}`,
    },
    timeoutMs,
  );
}

const echoSpec = () => join(work, 'echo.yaml');
const relaySpec = () => join(work, 'relay.yaml');

function writeEchoSpec(): void {
  writeFileSync(
    echoSpec(),
    `apiVersion: gantry.dev/v1alpha1
name: ${name}
namespace: ${ns}
image: ${image}
replicas: 1
env: { FAIL_EVERY: "2" }
ports: [{ containerPort: 8080, servicePort: 80 }]
metrics: { path: /metrics }
resources: { requests: { cpu: 10m, memory: 16Mi }, limits: { memory: 64Mi } }
probes: { readiness: { path: /healthz, periodSeconds: 1 } }
terminationGracePeriodSeconds: 2
routes: [{ hostnames: [${host}], gateway: gantry-system/gantry }]
monitoring:
  groupWait: 1s
  groupInterval: 5s
  alerts:
    errorRate: { above: 0.01, window: 30s, for: 0s }
    latencyP99: false
    cpu: false
    memory: false
    down: false
    errorLogs: false
  relay: { url: 'http://127.0.0.1:${nodePort}' }
  receivers:
    oncall:
      kind: wecom
      url: { fromEnv: TEST_WECOM_URL }
      language: en
  routes:
    - alerts: [ErrorRateHigh]
      receivers: [oncall]
`,
  );
}

/** deploy/alert-relay/gantry.yaml in this namespace, on its node port, mounting this test's Secret. */
function writeRelaySpec(): void {
  const text = readFileSync(join(repo, 'deploy/alert-relay/gantry.yaml'), 'utf8');
  const patched = text
    .replace(/^namespace: gantry-system$/m, `namespace: ${ns}`)
    .replace(/^(\s+nodePort:) 30093$/m, `$1 ${nodePort}`)
    .replace(/^(\s+- secret:) alert-relay-channels$/m, `$1 ${relaySecret}`)
    .replace(
      'context: ../../services/alert-relay',
      `context: ${join(repo, 'services/alert-relay')}`,
    )
    .replace("RELAY_CONFIG_POLL_MS: '3000'", "RELAY_CONFIG_POLL_MS: '1000'");
  assert.match(patched, new RegExp(`^namespace: ${ns}$`, 'm'));
  assert.match(patched, new RegExp(`nodePort: ${nodePort}$`, 'm'));
  assert.match(patched, new RegExp(`- secret: ${relaySecret}$`, 'm'));
  assert.ok(patched.includes(join(repo, 'services/alert-relay')));
  writeFileSync(relaySpec(), patched);
}

async function liveConfig(): Promise<{ text: string; doc: unknown }> {
  const res = await fetch(`${env.ALERTMANAGER_URL}/api/v2/status`);
  const body = (await res.json()) as { config: { original: string } };
  return { text: body.config.original, doc: parse(body.config.original) as unknown };
}

/** The first message the stand-in got that matches, if any. */
const message = (re: RegExp) => standIn!.received.find((r) => re.test(r.text));

before(
  async () => {
    if (skip) return;
    env = cluster as DeliveryEnv;
    assert.ok(env.GANTRY_ALERTMANAGER_CONFIG, 'cluster env has no GANTRY_ALERTMANAGER_CONFIG');
    assert.ok(env.GANTRY_PROMETHEUS_RULES_DIR, 'cluster env has no GANTRY_PROMETHEUS_RULES_DIR');
    assert.ok(env.GANTRY_NODE_IP, 'cluster env has no GANTRY_NODE_IP');
    work = mkdtempSync(join(tmpdir(), 'gantry-delivery-'));
    amBefore = (await liveConfig()).text;
    assert.ok(!amBefore.includes(ns));
    nodePort = freeNodePort(env);
    standIn = await startWeComStandIn(env.GANTRY_NODE_IP, [KEY]);
    standInUrl = standIn.url;
    image = pushEchoImage(env, 'gantry-delivery/echo', '1');
    writeEchoSpec();
    writeRelaySpec();
  },
  { timeout: 120_000 },
);

after(
  async () => {
    if (!skip && work) {
      const deleted = gantry([
        'alerts',
        'delete',
        '-f',
        echoSpec(),
        '--relay-secret',
        `${ns}/${relaySecret}`,
      ]);
      gantry(['alerts', 'delete', '-f', relaySpec()]);
      run('kubectl', ['delete', 'namespace', ns, '--wait=false'], env);
      assert.equal(deleted.status, 0, deleted.stderr);
      const live = await liveConfig();
      assert.ok(!hasSubtree(live.doc, { namespace: ns, name }, []), 'the subtree is still routed');
      assert.ok(!live.text.includes(ns), 'a test receiver is still in the live configuration');
      assert.equal(live.text, amBefore, 'Alertmanager is not left as found');
    }
    await standIn?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  },
  { timeout: 120_000 },
);

test(
  "a failing pod's error rate reaches a WeCom robot through Alertmanager and the relay, firing then resolved",
  { skip, timeout: 230_000 },
  async (t) => {
    const started = Date.now();
    const lap = (what: string) =>
      t.diagnostic(`${what} at ${((Date.now() - started) / 1000).toFixed(1)} s`);

    // The namespace first, so the channels Secret exists before the relay's pod mounts it.
    kubectl(env, ['create', 'namespace', ns]);
    const applied = gantry([
      'alerts',
      'apply',
      '-f',
      echoSpec(),
      '--relay-secret',
      `${ns}/${relaySecret}`,
    ]);
    assert.equal(applied.status, 0, applied.stdout + applied.stderr);
    const out = applied.stdout + applied.stderr;
    assert.ok(!out.includes(KEY), 'gantry alerts apply printed the robot key');
    assert.ok(!out.includes(standInUrl), 'gantry alerts apply printed the robot URL');
    assert.match(applied.stdout, new RegExp(`relay channels written in ${ns}/${relaySecret}`));
    const live = await liveConfig();
    assert.ok(
      hasSubtree(live.doc, { namespace: ns, name }, [receiver]),
      'no subtree for the service',
    );
    assert.ok(live.text.includes(`http://127.0.0.1:${nodePort}/v1/alerts/${receiver}`));
    assert.ok(!live.text.includes(KEY), 'the robot key is in the Alertmanager configuration');
    const secret = JSON.parse(
      kubectl(env, ['-n', ns, 'get', 'secret', relaySecret, '-o', 'json']),
    ) as { data: Record<string, string> };
    const channels = JSON.parse(
      Buffer.from(secret.data[`${ns}.${name}.json`] ?? '', 'base64').toString(),
    ) as Record<string, { channels: { kind: string; url: string }[] }>;
    assert.deepEqual(
      channels[receiver]?.channels.map((c) => [c.kind, c.url]),
      [['wecom', `${standInUrl}/cgi-bin/webhook/send?key=${KEY}`]],
    );
    lap('alerts applied');

    const ship = runGantry(['ship', '-f', relaySpec(), '--skip-tests'], env, 150_000);
    assert.equal(ship.status, 0, `gantry ship:\n${ship.stdout}\n${ship.stderr}`);
    await eventually('the relay ready on its node port', 30_000, async () => {
      const res = await fetch(`http://127.0.0.1:${nodePort}/readyz`).catch(() => undefined);
      return res?.status === 200 ? true : undefined;
    });
    lap('relay shipped');

    const deployed = gantry(['deploy', '-f', echoSpec()], 150_000);
    assert.equal(deployed.status, 0, deployed.stderr);
    await eventually('an answer through the gateway', 30_000, async () =>
      (await once(`${GATEWAY}/`, { host, timeoutMs: 2000 })).status === 200 ? true : undefined,
    );
    lap('echo deployed');

    // Half the requests fail: far above 1 %. Load through the gateway, bounded.
    const load = new Load({ url: `${GATEWAY}/`, host, rps: 10, maxDurationMs: 150_000 }).start();
    let firing: { key: string; text: string };
    try {
      firing = await eventually(
        'a FIRING GantryErrorRateHigh message at the stand-in',
        150_000,
        () => message(/\[FIRING\] GantryErrorRateHigh/),
      );
    } finally {
      await load.stop();
    }
    lap('firing message received');
    t.diagnostic(firing.text);
    assert.equal(firing.key, KEY, 'the message reached the stand-in with another key');
    assert.match(firing.text, new RegExp(`Service: ${name} · Namespace: ${ns}`));
    assert.match(firing.text, new RegExp(`${ns}/${name}: [0-9.]+% of requests fail`));
    assert.ok(!message(/RESOLVED/), 'resolved before the load stopped');

    // No more requests: after the 30 s window the ratio has no samples and the alert ends.
    const resolved = await eventually(
      'a RESOLVED GantryErrorRateHigh message at the stand-in',
      150_000,
      () => message(/\[RESOLVED\] GantryErrorRateHigh/),
      1000,
    );
    lap('resolved message received');
    t.diagnostic(resolved.text);
    assert.equal(resolved.key, KEY);
    assert.match(resolved.text, new RegExp(`Service: ${name} · Namespace: ${ns}`));
    assert.ok(
      standIn!.received.indexOf(resolved) > standIn!.received.indexOf(firing),
      'resolved came before firing',
    );
    assert.ok(
      standIn!.received.every((r) => r.key === KEY),
      `keys seen: ${standIn!.received.map((r) => r.key).join(',')}`,
    );
  },
);
