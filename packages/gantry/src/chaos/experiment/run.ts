// Running an experiment: the steady-state hypothesis -> the method -> the
// hypothesis again -> the rollbacks, as a journal.
//
//   1. every fault step's target resolved and preflighted (a refusal: not-started,
//      nothing touched); a dry run stops here with each step's plan
//   2. start and continuous probes evaluated once: any failing -> not-started
//   3. the method, step by step (parallel groups together); continuous probes every
//      interval, during probes every interval while a fault is in effect. The first
//      violation (or SIGINT/SIGTERM through opts.signal) stops the method and reverts
//      every active fault at once
//   4. end probes, each retried until it holds or endSettleMs has passed
//   5. the rollbacks, whatever happened
// Every wait is bounded: by the steps' durations, the probes' intervals, endSettleMs
// and each rollback's timeout.
import { setTimeout as sleep } from 'node:timers/promises';
import http from 'node:http';
import type { Kube } from '../../kube/client.js';
import type { ActiveFault, FaultContext, FaultDefinition, ResolvedTarget } from '../fault.js';
import { faults as registry } from '../faults/index.js';
import { recover } from '../recover.js';
import { TargetError, resolveTarget, targetScope } from '../target.js';
import type { Journal, ProbeRecord, StepRecord, Verdict } from './journal.js';
import { evaluateProbe, readDeployment } from './probes.js';
import type { ProbeEnv } from './probes.js';
import { resilienceScore } from './score.js';
import type { Experiment, FaultStep, Probe, Rollback, Step } from './types.js';

export interface RunOptions {
  kube: Kube;
  dryRun?: boolean;
  /** Aborting it (Ctrl-C, SIGTERM) reverts every active fault and ends the run. */
  signal?: AbortSignal;
  emit?: (message: string) => void;
  helperImage?: string;
  prometheusUrl?: string;
  defs?: readonly FaultDefinition[];
  /** How long end probes may take to hold again after the faults (default 60 s). */
  endSettleMs?: number;
}

/** What the run does to one fault step's target, resolved before anything is injected. */
interface Prepared {
  def: FaultDefinition;
  target: ResolvedTarget;
  plan: string[];
  refused: string[];
}

const flat = (steps: readonly Step[]): FaultStep[] =>
  steps.flatMap((s) => (s.type === 'fault' ? [s] : s.type === 'parallel' ? flat(s.steps) : []));

const targetNames = (t: ResolvedTarget) => [
  ...t.pods.map((p) => `${t.namespace}/${p.name}`),
  ...(t.node && t.pods.length === 0 ? [`node/${t.node}`] : []),
];

export async function runExperiment(exp: Experiment, opts: RunOptions): Promise<Journal> {
  const emit = opts.emit ?? (() => undefined);
  const defs = opts.defs ?? registry;
  const { spec } = exp;
  const started = new Date();
  const stopper = new AbortController();
  const ctx: FaultContext = {
    kube: opts.kube,
    spec,
    experiment: `${exp.name}-${started.getTime().toString(36)}`,
    ...(opts.helperImage ? { helperImage: opts.helperImage } : {}),
    ...(opts.dryRun ? { dryRun: true } : {}),
    signal: stopper.signal,
    emit,
  };
  const allowed = [{ namespace: spec.namespace, service: spec.name }];
  const probes: ProbeRecord[] = exp.probes.map((p) => ({
    name: p.name,
    kind: p.kind,
    mode: p.mode,
    weight: p.weight,
    samples: [],
    passed: false,
  }));
  const journal: Journal = {
    experiment: exp.name,
    runId: ctx.experiment,
    file: exp.file,
    namespace: spec.namespace,
    service: spec.name,
    startedAt: started.toISOString(),
    finishedAt: '',
    verdict: 'passed',
    score: 0,
    steps: [],
    probes,
    rollbacks: [],
  };
  const active = new Set<ActiveFault>();
  let stopped: { verdict: Verdict; reason: string } | undefined;
  /** A fault that could not be injected or reverted: an error of the run, not a finding. */
  let faultError = false;
  let reverting: Promise<void> | undefined;
  const revertAll = () =>
    Promise.all(
      [...active].map((f) =>
        f.revert().then(
          () => active.delete(f),
          (err: unknown) => emit(`revert of ${f.kind} (${f.id}) failed: ${String(err)}`),
        ),
      ),
    ).then(() => undefined);
  /** Ends the method at once: every active fault reverted, no further step started. */
  const stop = (verdict: Verdict, reason: string, detectedAt = Date.now()) => {
    if (stopped) return;
    stopped = { verdict, reason };
    emit(`stopping: ${reason}; reverting ${active.size} active fault(s)`);
    stopper.abort();
    reverting = revertAll().then(() => {
      journal.abortRevertMs = Date.now() - detectedAt;
      emit(
        `reverted ${journal.abortRevertMs} ms after the ${verdict === 'aborted' ? 'signal' : 'violation'}`,
      );
    });
  };
  const onSignal = () => stop('aborted', 'interrupted by a signal');
  if (opts.signal?.aborted) onSignal();
  opts.signal?.addEventListener('abort', onSignal, { once: true });

  const finish = (verdict: Verdict, reason?: string): Journal => {
    opts.signal?.removeEventListener('abort', onSignal);
    journal.verdict = verdict;
    if (reason) journal.reason = reason;
    journal.finishedAt = new Date().toISOString();
    for (const rec of probes) rec.passed = probePassed(rec);
    // A run whose fault errored tested nothing: 0, as Litmus scores an errored experiment.
    journal.score =
      verdict === 'dry-run' || faultError ? 0 : resilienceScore(probes, verdict === 'passed');
    return journal;
  };

  // 1. Targets and preflight of every fault step, before anything is touched.
  const prepared = new Map<FaultStep, Prepared>();
  for (const step of flat(exp.method)) {
    const def = defs.find((d) => d.kind === step.fault);
    if (!def) return finish('not-started', `unknown fault kind ${step.fault}`);
    let target: ResolvedTarget;
    try {
      target = await resolveTarget(ctx, step.target, { scope: targetScope(def), allowed });
    } catch (err) {
      if (!(err instanceof TargetError)) throw err;
      prepared.set(step, {
        def,
        target: { namespace: spec.namespace, service: spec.name, pods: [] },
        plan: [],
        refused: [err.message],
      });
      continue;
    }
    const refused = await def.preflight(ctx, step.params, target);
    prepared.set(step, { def, target, plan: def.plan(step.params, target), refused });
  }
  const refusals = [...prepared.entries()].filter(([, p]) => p.refused.length);
  if (opts.dryRun || refusals.length) {
    const record = (s: Step): StepRecord[] => {
      if (s.type === 'pause')
        return [
          { name: s.name, type: 'pause', status: 'planned', plan: [`wait ${ms(s.durationMs)}`] },
        ];
      if (s.type === 'parallel') {
        return [
          {
            name: s.name,
            type: 'parallel',
            status: 'planned',
            plan: [`${s.steps.length} steps together`],
          },
          ...s.steps.flatMap(record),
        ];
      }
      const p = prepared.get(s)!;
      return [
        {
          name: s.name,
          type: 'fault',
          fault: s.fault,
          params: s.params,
          targets: targetNames(p.target),
          plan: [...p.plan, `for ${ms(s.durationMs)}, then revert`],
          status: p.refused.length ? 'refused' : 'planned',
          ...(p.refused.length ? { error: p.refused.join('; ') } : {}),
        },
      ];
    };
    journal.steps = exp.method.flatMap(record);
    if (refusals.length) {
      const why = refusals.map(([s, p]) => `${s.name}: ${p.refused.join('; ')}`).join(' | ');
      return finish('not-started', `refused before anything was touched: ${why}`);
    }
    return finish('dry-run');
  }

  const deployment = await readDeployment(opts.kube, spec);
  const env: ProbeEnv = {
    kube: opts.kube,
    spec,
    baselineReplicas: deployment?.spec?.replicas ?? 0,
    prometheusUrl:
      opts.prometheusUrl ?? spec.release.analysis.prometheus ?? 'http://127.0.0.1:9090',
  };
  const sample = async (p: Probe, i: number, phase: 'start' | 'during' | 'end') => {
    const r = await evaluateProbe(p, env);
    probes[i]!.samples.push({
      at: r.at,
      ok: r.ok,
      message: r.message,
      phase,
      ...(r.value !== undefined ? { value: r.value } : {}),
    });
    return r;
  };

  try {
    // 2. The hypothesis before.
    const before = exp.probes
      .map((p, i) => ({ p, i }))
      .filter(({ p }) => p.mode === 'start' || p.mode === 'continuous');
    const failing: string[] = [];
    for (const { p, i } of before) {
      const r = await sample(p, i, 'start');
      emit(`probe ${p.name}: ${r.ok ? 'holds' : 'violated'} (${r.message})`);
      if (!r.ok) failing.push(`${p.name}: ${r.message}`);
    }
    if (failing.length) {
      return finish(
        'not-started',
        `steady state not met before the experiment: ${failing.join('; ')}`,
      );
    }

    // 3. The method, watched by the continuous and during probes.
    const methodDone = new AbortController();
    const watched = exp.probes
      .map((p, i) => ({ p, i }))
      .filter(({ p }) => p.mode === 'continuous' || p.mode === 'during');
    const bound = Date.now() + totalMs(exp.method) + 10 * 60_000;
    const loops = watched.map(async ({ p, i }) => {
      while (!methodDone.signal.aborted && !stopped && Date.now() < bound) {
        const ok = await sleep(p.intervalMs, true, { signal: methodDone.signal }).catch(
          () => false,
        );
        if (!ok || stopped) return;
        if (p.mode === 'during' && active.size === 0) continue;
        const r = await sample(p, i, 'during');
        if (!r.ok && !methodDone.signal.aborted) {
          stop('failed', `probe ${p.name} violated: ${r.message}`, r.at + r.ms);
        }
      }
    });

    const runStep = async (step: Step): Promise<void> => {
      if (stopped) {
        journal.steps.push({ name: step.name, type: step.type, status: 'skipped' });
        return;
      }
      if (step.type === 'pause') {
        const rec: StepRecord = {
          name: step.name,
          type: 'pause',
          status: 'done',
          startedAt: new Date().toISOString(),
        };
        journal.steps.push(rec);
        emit(`${step.name}: pause ${step.durationMs} ms`);
        await sleep(step.durationMs, undefined, { signal: stopper.signal }).catch(() => undefined);
        rec.endedAt = new Date().toISOString();
        if (stopped) rec.status = 'reverted-early';
        return;
      }
      if (step.type === 'parallel') {
        const rec: StepRecord = {
          name: step.name,
          type: 'parallel',
          status: 'done',
          startedAt: new Date().toISOString(),
        };
        journal.steps.push(rec);
        await Promise.all(step.steps.map(runStep));
        rec.endedAt = new Date().toISOString();
        return;
      }
      await runFault(step);
    };

    const runFault = async (step: FaultStep): Promise<void> => {
      const def = prepared.get(step)!.def;
      const rec: StepRecord = {
        name: step.name,
        type: 'fault',
        fault: step.fault,
        params: step.params,
        status: 'done',
      };
      journal.steps.push(rec);
      let fault: ActiveFault;
      try {
        // Resolved again: the pods of the first preflight may have been replaced by now.
        const target = await resolveTarget(ctx, step.target, { scope: targetScope(def), allowed });
        rec.targets = targetNames(target);
        rec.plan = def.plan(step.params, target);
        const refused = await def.preflight(ctx, step.params, target);
        if (refused.length) throw new TargetError(refused.join('; '));
        if (stopped) {
          rec.status = 'skipped';
          return;
        }
        rec.startedAt = new Date().toISOString();
        emit(
          `${step.name}: ${step.fault} on ${rec.targets.join(', ') || '-'} for ${step.durationMs} ms`,
        );
        fault = await def.inject(ctx, step.params, target, step.durationMs);
      } catch (err) {
        rec.status = 'failed';
        rec.error = err instanceof Error ? err.message : String(err);
        faultError = true;
        stop('failed', `${step.name}: ${rec.error}`);
        return;
      }
      active.add(fault);
      rec.injectedAt = new Date().toISOString();
      rec.description = fault.description;
      const t0 = Date.now();
      if (stopped) await revertAll();
      else {
        await sleep(step.durationMs, undefined, { signal: stopper.signal }).catch(() => undefined);
        try {
          await fault.revert();
          active.delete(fault);
        } catch (err) {
          rec.status = 'failed';
          rec.error = `revert: ${err instanceof Error ? err.message : String(err)}`;
          stop('failed', `${step.name}: ${rec.error}`);
        }
      }
      if (stopped && rec.status === 'done') rec.status = 'reverted-early';
      rec.endedAt = new Date().toISOString();
      rec.ms = Date.now() - t0;
      emit(`${step.name}: reverted after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    };

    for (const step of exp.method) await runStep(step);
    methodDone.abort();
    await Promise.all(loops);
    await reverting;
    await revertAll();

    // 4. The hypothesis after (also after a violation: did the service come back?).
    if (stopped?.verdict !== 'aborted') {
      const settle = opts.endSettleMs ?? 60_000;
      for (const [i, p] of exp.probes.entries()) {
        if (p.mode !== 'end') continue;
        const deadline = Date.now() + settle;
        for (;;) {
          const r = await sample(p, i, 'end');
          if (r.ok || Date.now() + p.intervalMs > deadline || opts.signal?.aborted) {
            emit(`probe ${p.name} after the faults: ${r.ok ? 'holds' : 'violated'} (${r.message})`);
            break;
          }
          await sleep(p.intervalMs);
        }
      }
    }
  } finally {
    stopper.abort();
    await revertAll();
    // 5. Rollbacks, whatever happened.
    await runRollbacks(exp.rollbacks, journal, active, opts, emit, ctx.experiment);
  }
  if (stopped) return finish(stopped.verdict, stopped.reason);
  const failedProbes = probes.filter((p) => !probePassed(p)).map((p) => p.name);
  if (failedProbes.length) return finish('failed', `probes not passed: ${failedProbes.join(', ')}`);
  return finish('passed');
}

/** Evaluated, and never violated; end probes count by their last (settled) evaluation. */
export function probePassed(p: Pick<ProbeRecord, 'samples'>): boolean {
  if (p.samples.length === 0) return false;
  const end = p.samples.filter((s) => s.phase === 'end');
  return p.samples.every((s) => s.phase === 'end' || s.ok) && (end.length === 0 || end.at(-1)!.ok);
}

const ms = (n: number) => (n % 1000 === 0 ? `${n / 1000}s` : `${n}ms`);

function totalMs(steps: readonly Step[]): number {
  return steps.reduce(
    (s, x) =>
      s + (x.type === 'parallel' ? Math.max(0, ...x.steps.map((y) => y.durationMs)) : x.durationMs),
    0,
  );
}

async function runRollbacks(
  rollbacks: readonly Rollback[],
  journal: Journal,
  active: Set<ActiveFault>,
  opts: RunOptions,
  emit: (m: string) => void,
  runId: string,
): Promise<void> {
  for (const r of rollbacks) {
    const rec: StepRecord = {
      name: r.name,
      type: 'rollback',
      status: 'done',
      startedAt: new Date().toISOString(),
    };
    journal.rollbacks.push(rec);
    try {
      if (r.action === 'recover') {
        for (const f of active) await f.revert();
        active.clear();
        // And whatever undo records of this run remain (a revert that failed midway).
        const r = await recover(opts.kube, {
          experiment: runId,
          all: true,
          ...(opts.helperImage ? { helperImage: opts.helperImage } : {}),
        });
        if (r.failed.length)
          throw new Error(r.failed.map((f) => `${f.id}: ${f.reason}`).join('; '));
        rec.description = `every fault of this run reverted (${r.reverted.length} left by records)`;
      } else if (r.action === 'wait-ready') {
        const deadline = Date.now() + r.timeoutMs;
        for (;;) {
          const spec = { name: journal.service, namespace: journal.namespace } as Parameters<
            typeof readDeployment
          >[1];
          const d = await readDeployment(opts.kube, spec);
          const want = d?.spec?.replicas ?? 0;
          const ready = d?.status?.readyReplicas ?? 0;
          if (d && ready >= want) {
            rec.description = `${ready}/${want} replicas ready`;
            break;
          }
          if (Date.now() > deadline)
            throw new Error(`${ready}/${want} replicas ready after ${r.timeoutMs} ms`);
          await sleep(500);
        }
      } else {
        const status = await request(r.url, r.method, r.host, r.timeoutMs);
        rec.description = `${r.method} ${r.url}: HTTP ${status}`;
      }
    } catch (err) {
      rec.status = 'failed';
      rec.error = err instanceof Error ? err.message : String(err);
    }
    rec.endedAt = new Date().toISOString();
    emit(`rollback ${r.name}: ${rec.status}${rec.error ? ` (${rec.error})` : ''}`);
  }
}

function request(
  url: string,
  method: string,
  host: string | undefined,
  timeoutMs: number,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method, headers: host ? { host } : {}, timeout: timeoutMs, agent: false },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}
