// A linear pipeline of named stages that stops at the first failure, timing
// each stage and reporting progress as it goes.

export interface StageResult {
  name: string;
  ok: boolean;
  ms: number;
  summary: string;
}

export interface Stage<C> {
  name: string;
  /** Returns a one-line summary; throws to fail the pipeline. */
  run(ctx: C): Promise<string>;
}

export type PipelineEvent =
  | { type: 'start'; stage: string; index: number; total: number }
  | { type: 'done'; result: StageResult }
  | { type: 'skipped'; stage: string };

export interface PipelineResult {
  ok: boolean;
  stages: StageResult[];
  /** The failing stage's error message, when one failed. */
  error?: string;
}

export async function runPipeline<C>(
  stages: readonly Stage<C>[],
  ctx: C,
  onEvent: (e: PipelineEvent) => void = () => undefined,
): Promise<PipelineResult> {
  const results: StageResult[] = [];
  for (const [i, stage] of stages.entries()) {
    onEvent({ type: 'start', stage: stage.name, index: i, total: stages.length });
    const t0 = performance.now();
    try {
      const summary = await stage.run(ctx);
      const r = { name: stage.name, ok: true, ms: Math.round(performance.now() - t0), summary };
      results.push(r);
      onEvent({ type: 'done', result: r });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const r = {
        name: stage.name,
        ok: false,
        ms: Math.round(performance.now() - t0),
        summary: message,
      };
      results.push(r);
      onEvent({ type: 'done', result: r });
      for (const rest of stages.slice(i + 1)) onEvent({ type: 'skipped', stage: rest.name });
      return { ok: false, stages: results, error: `${stage.name}: ${message}` };
    }
  }
  return { ok: true, stages: results };
}
