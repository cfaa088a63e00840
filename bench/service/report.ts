// Prints the benchmark table and the verdict on the targets from the results.jsonl that run.sh
// writes: node --import tsx report.ts <results.jsonl>
import { readFileSync } from 'node:fs';

interface FixedRate {
  targetRate: number;
  achievedRate: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  non2xx: number;
}

interface Result {
  target: 'user-service' | 'hello-go';
  backend: string;
  peakRps: number;
  p50Ms: number;
  p99Ms: number;
  cpuUsPerRequest: number;
  fixed?: FixedRate;
  controls?: FixedRate[];
}

const file = process.argv[2];
if (file === undefined) throw new Error('usage: report.ts <results.jsonl>');
const results = readFileSync(file, 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => JSON.parse(l) as Result);

const RATIO_TARGET = 0.5;
const P99_TARGET_MS = 10;

const num = (x: number | undefined, digits = 2) =>
  x === undefined || Number.isNaN(x) ? '-' : x.toFixed(digits);
const row = (cells: string[]) =>
  console.log(cells.map((c, i) => c.padEnd([26, 10, 8, 8, 10, 12, 14, 9][i] ?? 10)).join(' '));

console.log('');
row([
  'target',
  'peak rps',
  'p50 ms',
  'p99 ms',
  'cpu us/rq',
  'cpu cap rps',
  'half-peak rps',
  'p99 ms',
]);
console.log('-'.repeat(104));
for (const r of results) {
  row([
    r.target === 'hello-go' ? 'hello-go GET /' : `user-service (${r.backend})`,
    num(r.peakRps, 0),
    num(r.p50Ms),
    num(r.p99Ms),
    num(r.cpuUsPerRequest, 1),
    num(1e6 / r.cpuUsPerRequest, 0),
    r.fixed ? `${r.fixed.achievedRate}/${r.fixed.targetRate}` : '-',
    num(r.fixed?.p99Ms),
  ]);
  for (const c of r.controls ?? []) {
    row([
      '  control at fixed rate',
      '',
      '',
      '',
      '',
      '',
      `${c.achievedRate}/${c.targetRate}`,
      num(c.p99Ms),
    ]);
  }
}
console.log(
  '\npeak rps, p50, p99: wrk, closed loop. cpu us/rq: server CPU time (user+system) per request' +
    ' during the wrk run; cpu cap rps = 1e6 / that, the capacity of one dedicated core.' +
    '\nhalf-peak: open-loop fixed rate (achieved/target), latency from the scheduled send time.',
);

const hello = results.find((r) => r.target === 'hello-go');
const verdicts: { what: string; ok: boolean }[] = [];
console.log('');
for (const r of results.filter((x) => x.target === 'user-service')) {
  if (hello !== undefined) {
    const ratio = r.peakRps / hello.peakRps;
    const cpuRatio = hello.cpuUsPerRequest / r.cpuUsPerRequest;
    const ok = ratio >= RATIO_TARGET;
    verdicts.push({ what: `rps ratio ${r.backend}`, ok });
    console.log(
      `user-service (${r.backend}) / hello-go: rps ratio ${ratio.toFixed(2)} ` +
        `(target >= ${RATIO_TARGET}): ${ok ? 'MET' : 'NOT MET'}; ` +
        `CPU-capacity ratio ${cpuRatio.toFixed(2)}`,
    );
  }
  if (r.fixed !== undefined) {
    const clean = r.fixed.errors === 0 && r.fixed.non2xx === 0;
    const ok = r.fixed.p99Ms <= P99_TARGET_MS && clean;
    verdicts.push({ what: `p99 ${r.backend}`, ok });
    const control = hello?.controls?.find((c) => c.targetRate === r.fixed?.targetRate);
    console.log(
      `user-service (${r.backend}) p99 at half peak (${r.fixed.achievedRate} rps) = ` +
        `${r.fixed.p99Ms.toFixed(2)} ms (target <= ${P99_TARGET_MS} ms` +
        `${clean ? '' : `; ${r.fixed.errors} errors, ${r.fixed.non2xx} non-2xx`}): ` +
        `${ok ? 'MET' : 'NOT MET'}` +
        (control
          ? ` [control: hello-go at the same rate p99 = ${control.p99Ms.toFixed(2)} ms]`
          : ''),
    );
  }
}
const missed = verdicts.filter((v) => !v.ok).map((v) => v.what);
console.log(
  `\n${verdicts.length - missed.length}/${verdicts.length} targets met` +
    (missed.length > 0 ? ` (missed: ${missed.join(', ')})` : ''),
);
