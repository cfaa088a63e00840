// gantry chaos run on the local cluster, against the echo fixture (2 replicas, a NodePort
// on 127.0.0.1): a dry run prints the plan and touches nothing; an experiment runs end to
// end with its journal, Markdown and HTML report; a probe violation stops it and reverts
// within one probe interval; SIGTERM reverts before exit; and a SIGKILLed gantry's
// service-down is restored at its expiry by the watchdog in the cluster.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  eventually,
  kubectl,
  requireCluster,
  run,
} from '../../../../hack/cluster/test/cluster-env.js';
import type { ClusterEnv } from '../../../../hack/cluster/test/cluster-env.js';
import type { Journal } from '../../src/chaos/experiment/journal.js';
import { gantryBin, runGantry } from '../gantry-cli.js';
import { answers, deployEcho, specOf } from './experiment-fixture.js';
import type { Fixture } from './experiment-fixture.js';

const cluster = requireCluster();
const skip = typeof cluster === 'string' ? cluster : false;
let env: ClusterEnv;
let fx: Fixture;

before(
  async () => {
    if (skip) return;
    env = cluster as ClusterEnv;
    fx = await deployEcho(env, 'gantry-exp');
  },
  { timeout: 180_000 },
);

after(() => {
  if (skip) return;
  fx?.cleanup();
});

function experiment(file: string, body: string): string {
  const path = join(fx.work, file);
  writeFileSync(
    path,
    `apiVersion: gantry.dev/v1alpha1
kind: ChaosExperiment
metadata: { name: ${file.replace(/\.yaml$/, '')} }
target: { spec: gantry.yaml }
${body}`,
  );
  return path;
}

const selector = () =>
  kubectl(env, ['-n', fx.ns, 'get', 'service', fx.name, '-o', 'jsonpath={.spec.selector}']);
const replicas = () =>
  kubectl(env, [
    '-n',
    fx.ns,
    'get',
    'deployment',
    fx.name,
    '-o',
    'jsonpath={.spec.replicas}',
  ]).trim();
const versions = () =>
  kubectl(env, [
    '-n',
    fx.ns,
    'get',
    'deployment,service,pods',
    '-o',
    'jsonpath={range .items[*]}{.kind}/{.metadata.name}={.metadata.resourceVersion} {end}',
  ]);
const records = () =>
  run(
    'kubectl',
    ['-n', 'gantry-chaos', 'get', 'configmaps', '-l', 'gantry.dev/chaos-undo=true', '-o', 'name'],
    env,
  ).stdout.trim();

test('--dry-run prints the plan per target and touches nothing', { skip, timeout: 60_000 }, () => {
  const file = experiment(
    'dry.yaml',
    `probes:
  - { name: up, kind: ready, mode: continuous, interval: 1s }
method:
  - { fault: pod-failure, target: { count: 1 }, duration: 30s }
  - { fault: service-down, params: { mode: scale-to-zero }, duration: 30s }
`,
  );
  const was = versions();
  const recs = records();
  const r = runGantry(['chaos', 'run', file, '--dry-run'], env);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, new RegExp(`^dry ${fx.ns}/${fx.name}: dry-run$`, 'm'));
  assert.match(
    r.stdout,
    new RegExp(
      `patch pod ${fx.ns}/${fx.name}-[a-z0-9]+-[a-z0-9]+ container ${fx.name} image -> the node's pause image`,
    ),
  );
  assert.match(
    r.stdout,
    new RegExp(`scale Deployment ${fx.ns}/${fx.name} to 0 replicas \\(2 pods stop\\)`),
  );
  assert.equal(versions(), was);
  assert.equal(records(), recs);
});

test(
  'an experiment runs end to end: journal, Markdown and HTML report, score',
  { skip, timeout: 180_000 },
  (t) => {
    const file = experiment(
      'e2e.yaml',
      `probes:
  - { name: replicas, kind: ready, mode: continuous, interval: 1s }
  - { name: pods-stay, kind: ready, mode: during, interval: 1s }
  - { name: prometheus, kind: promql, query: "vector(1)", min: 1, max: 1, mode: start, prometheus: "${env.PROMETHEUS_URL}" }
  - { name: answers-again, kind: http, url: "${fx.url}", mode: end, interval: 500ms, weight: 2 }
method:
  - name: selector empty
    fault: service-down
    params: { mode: no-endpoints }
    duration: 4s
  - pause: 1s
rollbacks:
  - action: recover
  - action: wait-ready
    timeout: 30s
`,
    );
    const svc = specOf(env, 'service', fx.name, fx.ns);
    const dir = join(fx.work, 'report-e2e');
    const r = runGantry(['-o', 'json', 'chaos', 'run', file, '--report', dir], env);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const j = JSON.parse(r.stdout) as Journal;
    assert.equal(j.verdict, 'passed');
    assert.equal(j.score, 100);
    assert.deepEqual(
      j.steps.map((s) => [s.name, s.status]),
      [
        ['selector empty', 'done'],
        ['step 2 (pause)', 'done'],
      ],
    );
    const fault = j.steps[0]!;
    const inEffect = Date.parse(fault.injectedAt!) - Date.parse(fault.startedAt!);
    const ms = Date.parse(fault.endedAt!) - Date.parse(fault.injectedAt!);
    t.diagnostic(`in effect ${inEffect} ms after the step began; reverted ${ms} ms after that`);
    assert.ok(ms >= 4000 && ms < 8000, `the fault lasted ${ms} ms`);
    assert.ok(j.probes[0]!.samples.length >= 4, 'the continuous probe ran every second');
    // The during probe: only while the fault was in effect (no-endpoints leaves the pods ready).
    const during = j.probes[1]!.samples;
    assert.ok(during.length >= 2, `${during.length} during samples`);
    for (const x of during) {
      assert.equal(x.phase, 'during');
      assert.ok(x.at >= Date.parse(fault.injectedAt!) && x.at <= Date.parse(fault.endedAt!) + 1000);
    }
    assert.deepEqual(
      j.rollbacks.map((x) => x.status),
      ['done', 'done'],
    );
    assert.deepEqual(specOf(env, 'service', fx.name, fx.ns), svc);
    for (const f of ['journal.json', 'report.md', 'report.html'])
      assert.ok(existsSync(join(dir, f)), f);
    const html = readFileSync(join(dir, 'report.html'), 'utf8');
    assert.equal((html.match(/<svg /g) ?? []).length, 4);
    assert.ok(!/<script|src=|href=/.test(html), 'self-contained');
    assert.match(readFileSync(join(dir, 'report.md'), 'utf8'), /Resilience score: \*\*100\*\*/);
    assert.equal(
      (JSON.parse(readFileSync(join(dir, 'journal.json'), 'utf8')) as Journal).verdict,
      'passed',
    );
  },
);

test(
  'a probe violation stops the experiment and reverts within one probe interval',
  { skip, timeout: 120_000 },
  async (t) => {
    const file = experiment(
      'violation.yaml',
      `probes:
  - { name: front-door, kind: http, url: "${fx.url}", mode: continuous, interval: 1s, timeout: 500ms }
method:
  - fault: service-down
    params: { mode: no-endpoints }
    duration: 60s
  - { fault: pod-kill, duration: 5s }
`,
    );
    const svc = specOf(env, 'service', fx.name, fx.ns);
    const pods = kubectl(env, ['-n', fx.ns, 'get', 'pods', '-o', 'name']);
    const t0 = Date.now();
    const r = runGantry(['-o', 'json', 'chaos', 'run', file], env);
    const took = Date.now() - t0;
    assert.equal(r.status, 4, r.stdout + r.stderr);
    const j = JSON.parse(r.stdout) as Journal;
    t.diagnostic(`run ${took} ms; reverted ${j.abortRevertMs} ms after the violation; ${j.reason}`);
    assert.equal(j.verdict, 'failed');
    assert.match(j.reason ?? '', /probe front-door violated/);
    assert.ok(
      j.abortRevertMs !== undefined && j.abortRevertMs <= 1000,
      `reverted in ${j.abortRevertMs} ms`,
    );
    const down = j.steps[0]!;
    assert.equal(down.status, 'reverted-early');
    const violation = j.probes[0]!.samples.find((s) => !s.ok)!;
    // The first failing evaluation came at most one interval (plus its 500 ms timeout) after
    // the fault was in effect.
    const seen = violation.at - Date.parse(down.injectedAt!);
    t.diagnostic(`violation seen ${seen} ms after the fault was in effect`);
    assert.ok(seen <= 1000 + 500 + 250, `violation seen ${seen} ms after the fault`);
    assert.deepEqual(j.steps[1], { name: 'step 2 (pod-kill)', type: 'fault', status: 'skipped' });
    assert.ok(took < 40_000, `the run stopped early (${took} ms)`);
    assert.deepEqual(specOf(env, 'service', fx.name, fx.ns), svc);
    assert.equal(kubectl(env, ['-n', fx.ns, 'get', 'pods', '-o', 'name']), pods, 'no pod killed');
    await eventually('answers again', 20_000, async () =>
      (await answers(fx.url)) ? true : undefined,
    );
  },
);

/** Starts `gantry chaos run FILE` in the background; resolves with its exit once it ends. */
function background(file: string) {
  const child = spawn(process.execPath, [gantryBin, 'chaos', 'run', file], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }>(
    (resolve) => child.on('exit', (code, signal) => resolve({ code, signal, out })),
  );
  return { child, exited, output: () => out };
}

test('SIGTERM mid-fault reverts before gantry exits', { skip, timeout: 120_000 }, async () => {
  const svc = specOf(env, 'service', fx.name, fx.ns);
  const file = experiment(
    'sigterm.yaml',
    `method:
  - { fault: service-down, params: { mode: no-endpoints }, duration: 90s }
`,
  );
  const g = background(file);
  try {
    await eventually(
      'the fault in effect',
      60_000,
      () => (selector().includes('gantry.dev/chaos') ? true : undefined),
      200,
    );
    const t0 = Date.now();
    g.child.kill('SIGTERM');
    const e = await g.exited;
    assert.equal(e.code, 4, e.out);
    assert.match(e.out, /aborted \(interrupted by a signal\)/);
    assert.ok(Date.now() - t0 < 20_000, 'exited promptly');
    assert.deepEqual(specOf(env, 'service', fx.name, fx.ns), svc);
  } finally {
    g.child.kill('SIGKILL');
  }
});

test(
  'gantry SIGKILLed mid service-down: the watchdog restores the replicas at expiry',
  { skip, timeout: 180_000 },
  async (t) => {
    const dep = specOf(env, 'deployment', fx.name, fx.ns);
    const file = experiment(
      'sigkill.yaml',
      `method:
  - { fault: service-down, params: { mode: scale-to-zero }, duration: 10s }
`,
    );
    const g = background(file);
    try {
      await eventually('replicas 0', 60_000, () => (replicas() === '0' ? true : undefined), 200);
      const killedAt = Date.now();
      g.child.kill('SIGKILL');
      await g.exited;
      assert.equal(replicas(), '0', 'still down once gantry is gone');
      await eventually(
        'replicas restored by the watchdog',
        90_000,
        () => (replicas() === '2' ? true : undefined),
        250,
      );
      t.diagnostic(`restored ${Date.now() - killedAt} ms after the SIGKILL (duration 10 s)`);
      assert.deepEqual(specOf(env, 'deployment', fx.name, fx.ns), dep);
      await eventually(
        'no undo record left',
        60_000,
        () => (records().includes('service-down') ? undefined : true),
        500,
      );
      await eventually('both replicas ready', 60_000, async () =>
        (await answers(fx.url)) ? true : undefined,
      );
    } finally {
      g.child.kill('SIGKILL');
    }
  },
);

test(
  'a GameDay: a directory of experiments in name order with one summary; list shows active faults',
  { skip, timeout: 60_000 },
  () => {
    const dir = join(fx.work, 'gameday');
    mkdirSync(dir);
    for (const [file, fault] of [
      ['a-down.yaml', 'service-down'],
      ['b-kill.yaml', 'pod-kill'],
    ] as const) {
      writeFileSync(
        join(dir, file),
        `apiVersion: gantry.dev/v1alpha1
kind: ChaosExperiment
metadata: { name: ${file.replace(/\.yaml$/, '')} }
target: { spec: ../gantry.yaml }
method:
  - { fault: ${fault}, duration: 10s }
`,
      );
    }
    const r = runGantry(['chaos', 'run', dir, '--dry-run'], env);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^a-down .*: dry-run$[\s\S]*^b-kill .*: dry-run$/m);
    assert.match(r.stdout, /^gameday \(dry run\): 2 experiments planned, nothing injected$/m);
    const j = runGantry(['-o', 'json', 'chaos', 'gameday', dir, '--dry-run'], env);
    assert.equal(j.status, 0, j.stderr);
    const out = JSON.parse(j.stdout) as { total: number; runs: Journal[] };
    assert.deepEqual(
      out.runs.map((x) => x.experiment),
      ['a-down', 'b-kill'],
    );
    const list = runGantry(['-o', 'json', 'chaos', 'list'], env);
    assert.equal(list.status, 0, list.stderr);
    const l = JSON.parse(list.stdout) as { kinds: { kind: string }[]; active: unknown[] };
    assert.ok(l.kinds.some((k) => k.kind === 'service-down'));
    assert.ok(Array.isArray(l.active));
  },
);
