// Numbers both canary benches print: the simulated grid (grid.ts) and the real releases
// (run.ts) share these so their tables read and compare alike.

import { prng } from '../../packages/gantry/test/analysis/sim.js';

/** mulberry32 (the simulation's): seeded, so tables and replays are reproducible. */
export const rng = prng;

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  if (!n) return NaN;
  return n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}

/** A blast radius as a percentage, with enough digits for the small ones. */
export function pct(x: number): string {
  if (!Number.isFinite(x)) return '—';
  return `${(100 * x).toFixed(x < 0.001 ? 4 : 3)}%`;
}

/** a ÷ b for a table cell: '—' when both are 0, '∞' when only b is. */
export function ratio(a: number, b: number): string {
  if (!Number.isFinite(a) || !Number.isFinite(b)) return '—';
  if (b === 0) return a === 0 ? '—' : '∞';
  return a / b < 0.01 ? (a / b).toFixed(4) : (a / b).toFixed(2);
}

/**
 * 95 % percentile-bootstrap interval of Σ a ÷ Σ b: each side's releases resampled with
 * replacement, 2,000 times. Both sides share a denominator in the benches (the same
 * requests served), so this is the interval of the blast-radius ratio.
 */
export function ratioInterval(a: number[], b: number[], seed: number): [number, number] {
  const r = rng(seed);
  const draw = (xs: number[]) => {
    let t = 0;
    for (let i = 0; i < xs.length; i++) t += xs[Math.floor(r() * xs.length)]!;
    return t;
  };
  const ratios: number[] = [];
  for (let k = 0; k < 2000; k++) {
    const bb = draw(b);
    const aa = draw(a);
    ratios.push(bb > 0 ? aa / bb : aa > 0 ? Infinity : 1);
  }
  ratios.sort((x, y) => x - y);
  return [ratios[Math.floor(0.025 * ratios.length)]!, ratios[Math.floor(0.975 * ratios.length)]!];
}

/** "lo–hi" of an interval, as the tables print it. */
export function formatInterval([lo, hi]: [number, number]): string {
  const f = (x: number) => (Number.isFinite(x) ? x.toFixed(x < 0.01 ? 4 : 2) : '∞');
  return `${f(lo)}–${f(hi)}`;
}
