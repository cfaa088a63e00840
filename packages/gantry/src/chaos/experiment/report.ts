// The human report of a run, from its journal: Markdown, and one self-contained
// HTML page (no script, no CDN, no external file) with an inline SVG chart per
// probe: its values over time, violations in red, the fault windows shaded.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Journal, ProbeRecord, StepRecord } from './journal.js';

const t = (iso: string | undefined) => (iso ? Date.parse(iso) : NaN);
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function faultWindows(j: Journal): { from: number; to: number; label: string }[] {
  return j.steps
    .filter((s) => s.type === 'fault' && s.startedAt && s.endedAt)
    .map((s) => ({
      from: t(s.injectedAt ?? s.startedAt),
      to: t(s.endedAt),
      label: s.fault ?? s.name,
    }));
}

export function markdownReport(j: Journal): string {
  const t0 = t(j.startedAt);
  const rel = (iso?: string) => (iso ? `+${secs(t(iso) - t0)}` : '-');
  const lines = [
    `# Chaos experiment ${j.experiment}: ${j.verdict}`,
    '',
    `- Target: ${j.namespace}/${j.service}${j.file ? ` (${j.file})` : ''}`,
    `- Started ${j.startedAt}, finished ${j.finishedAt} (${secs(t(j.finishedAt) - t0)})`,
    `- Resilience score: **${j.score}** / 100`,
    ...(j.reason ? [`- Reason: ${j.reason}`] : []),
    ...(j.abortRevertMs !== undefined
      ? [`- Active faults reverted ${j.abortRevertMs} ms after the stop`]
      : []),
    '',
    '## Steps',
    '',
    '| step | kind | targets | start | end | status |',
    '|---|---|---|---|---|---|',
    ...j.steps.map(
      (s) =>
        `| ${cell(s.name)} | ${s.fault ?? s.type} | ${cell((s.targets ?? []).join(', ') || '-')} | ${rel(s.startedAt)} | ${rel(s.endedAt)} | ${s.status}${s.error ? `: ${cell(s.error)}` : ''} |`,
    ),
    '',
    '## Probes',
    '',
    '| probe | kind | mode | weight | evaluations | violations | passed |',
    '|---|---|---|---|---|---|---|',
    ...j.probes.map(
      (p) =>
        `| ${cell(p.name)} | ${p.kind} | ${p.mode} | ${p.weight} | ${p.samples.length} | ${p.samples.filter((s) => !s.ok).length} | ${p.passed ? 'yes' : 'no'} |`,
    ),
    '',
    ...j.probes.flatMap((p) => {
      const bad = p.samples.filter((s) => !s.ok);
      return bad.length
        ? [`First violation of ${p.name} at +${secs(bad[0]!.at - t0)}: ${bad[0]!.message}`, '']
        : [];
    }),
    ...(j.rollbacks.length
      ? [
          '## Rollbacks',
          '',
          ...j.rollbacks.map(
            (r) =>
              `- ${r.name}: ${r.status}${r.description ? ` (${r.description})` : ''}${r.error ? ` — ${r.error}` : ''}`,
          ),
          '',
        ]
      : []),
  ];
  return lines.join('\n');
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const esc = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** One probe over time: values (or pass/fail as 1/0) with violations in red. */
export function probeSvg(
  p: ProbeRecord,
  from: number,
  to: number,
  windows: ReturnType<typeof faultWindows>,
): string {
  const W = 720;
  const H = 160;
  const L = 48;
  const R = 12;
  const T = 12;
  const B = 28;
  const span = Math.max(to - from, 1);
  const x = (ms: number) => L + ((ms - from) / span) * (W - L - R);
  const values = p.samples.map((s) => s.value ?? (s.ok ? 1 : 0));
  const hi = Math.max(1, ...values);
  const lo = Math.min(0, ...values);
  const y = (v: number) => T + (1 - (v - lo) / (hi - lo || 1)) * (H - T - B);
  const shade = windows
    .map(
      (w) =>
        `<rect x="${x(w.from).toFixed(1)}" y="${T}" width="${Math.max(1, x(w.to) - x(w.from)).toFixed(1)}" height="${H - T - B}" fill="#f6d8a8" opacity="0.6"><title>${esc(w.label)}</title></rect>`,
    )
    .join('');
  const path = p.samples
    .map((s, i) => `${i ? 'L' : 'M'}${x(s.at).toFixed(1)},${y(values[i]!).toFixed(1)}`)
    .join(' ');
  const dots = p.samples
    .map(
      (s, i) =>
        `<circle cx="${x(s.at).toFixed(1)}" cy="${y(values[i]!).toFixed(1)}" r="3" fill="${s.ok ? '#2b7a3d' : '#c0392b'}"><title>+${secs(s.at - from)} ${esc(s.message)}</title></circle>`,
    )
    .join('');
  const axis =
    `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#888"/>` +
    `<line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#888"/>` +
    `<text x="${L - 4}" y="${T + 4}" text-anchor="end" font-size="10">${fmt(hi)}</text>` +
    `<text x="${L - 4}" y="${H - B}" text-anchor="end" font-size="10">${fmt(lo)}</text>` +
    `<text x="${L}" y="${H - 8}" font-size="10">0 s</text>` +
    `<text x="${W - R}" y="${H - 8}" text-anchor="end" font-size="10">${secs(span)}</text>`;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(p.name)} over time">` +
    `${shade}${axis}<path d="${path}" fill="none" stroke="#34495e" stroke-width="1.5"/>${dots}</svg>`
  );
}

function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toPrecision(3);
}

export function htmlReport(j: Journal): string {
  const from = t(j.startedAt);
  const to = t(j.finishedAt);
  const windows = faultWindows(j);
  const colour = j.verdict === 'passed' ? '#2b7a3d' : j.verdict === 'dry-run' ? '#555' : '#c0392b';
  const row = (s: StepRecord) =>
    `<tr><td>${esc(s.name)}</td><td>${esc(s.fault ?? s.type)}</td><td>${esc((s.targets ?? []).join(', ') || '-')}</td>` +
    `<td>${s.startedAt ? secs(t(s.startedAt) - from) : '-'}</td><td>${s.endedAt ? secs(t(s.endedAt) - from) : '-'}</td>` +
    `<td>${esc(s.status)}${s.error ? `: ${esc(s.error)}` : ''}</td></tr>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Chaos experiment ${esc(j.experiment)}: ${esc(j.verdict)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:780px;color:#222}
table{border-collapse:collapse;width:100%;margin:.5em 0 1.5em}td,th{border-bottom:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top}
.verdict{color:${colour};font-weight:600}.score{font-size:2em;font-weight:600}figure{margin:0 0 1.5em}figcaption{font-weight:600}
</style></head><body>
<h1>${esc(j.experiment)}: <span class="verdict">${esc(j.verdict)}</span></h1>
<p>${esc(j.namespace)}/${esc(j.service)}${j.file ? ` — ${esc(j.file)}` : ''}<br>
${esc(j.startedAt)} → ${esc(j.finishedAt)} (${secs(to - from)})</p>
<p>Resilience score <span class="score">${j.score}</span> / 100</p>
${j.reason ? `<p>${esc(j.reason)}</p>` : ''}
${j.abortRevertMs !== undefined ? `<p>Active faults reverted ${j.abortRevertMs} ms after the stop.</p>` : ''}
<h2>Probes over time</h2>
<p>Shaded: faults in effect. Dots: evaluations (green held, red violated); a probe without a value is drawn as 1 (held) or 0.</p>
${j.probes
  .map(
    (p) =>
      `<figure><figcaption>${esc(p.name)} (${esc(p.kind)}, ${esc(p.mode)}, weight ${p.weight}): ${p.passed ? 'passed' : 'not passed'}</figcaption>${probeSvg(p, from, to, windows)}</figure>`,
  )
  .join('\n')}
<h2>Steps</h2>
<table><tr><th>step</th><th>kind</th><th>targets</th><th>start</th><th>end</th><th>status</th></tr>
${j.steps.map(row).join('\n')}</table>
${j.rollbacks.length ? `<h2>Rollbacks</h2><table><tr><th>rollback</th><th>kind</th><th>targets</th><th>start</th><th>end</th><th>status</th></tr>${j.rollbacks.map(row).join('\n')}</table>` : ''}
</body></html>
`;
}

/** Writes journal.json, report.md and report.html into `dir`; returns their paths. */
export function writeReport(
  dir: string,
  j: Journal,
): { journal: string; markdown: string; html: string } {
  mkdirSync(dir, { recursive: true });
  const out = {
    journal: join(dir, 'journal.json'),
    markdown: join(dir, 'report.md'),
    html: join(dir, 'report.html'),
  };
  writeFileSync(out.journal, JSON.stringify(j, null, 2) + '\n');
  writeFileSync(out.markdown, markdownReport(j) + '\n');
  writeFileSync(out.html, htmlReport(j));
  return out;
}
