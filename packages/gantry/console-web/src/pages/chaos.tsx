// Chaos: the faults in effect now (undo records in the chaos namespace), the runs of
// `gantry chaos run --report DIR` found below --chaos-reports with their resilience
// scores, and one run in full: each probe's values over time with the fault windows
// marked, the steps and the rollbacks.
import type { ChaosView, JournalDetail } from '../../../src/console/view-types.js';
import { Chart } from '../chart.js';
import { ago, clock } from '../format.js';
import { useStream } from '../stream.js';
import { Empty, Problems, Section, TableWrap, serviceHref } from '../ui.js';

const chaosHref = (id: string) => `#/chaos/${id}`;
const verdictClass = (v: string) =>
  v === 'passed' ? 'good' : v === 'dry-run' || v === 'not-started' ? 'warn' : 'bad';
const secs = (iso: string | undefined) => (iso ? Date.parse(iso) / 1000 : NaN);

function Run({ j }: { j: JournalDetail }) {
  const from = secs(j.startedAt);
  const to = secs(j.finishedAt);
  const pad = Math.max(2, (to - from) * 0.03);
  return (
    <Section title={`Run: ${j.experiment}`} id="run">
      <div class="run-head">
        <p class="score" data-testid="run-score">
          <span class="score-n">{j.score}</span>
          <span class="note"> / 100 resilience</span>
        </p>
        <dl class="facts">
          <div>
            <dt>Verdict</dt>
            <dd class={verdictClass(j.verdict)} data-testid="run-verdict">
              {j.verdict}
            </dd>
          </div>
          <div>
            <dt>Service</dt>
            <dd>
              <a href={serviceHref(j.namespace, j.service)}>
                {j.namespace}/{j.service}
              </a>
            </dd>
          </div>
          <div>
            <dt>Started</dt>
            <dd title={clock(j.startedAt)}>{ago(j.startedAt)}</dd>
          </div>
          <div>
            <dt>Took</dt>
            <dd>{Number.isFinite(to - from) ? `${(to - from).toFixed(1)} s` : '–'}</dd>
          </div>
          <div>
            <dt>Run id</dt>
            <dd class="mono">{j.runId || '–'}</dd>
          </div>
        </dl>
      </div>
      {j.reason ? <p class="note">{j.reason}</p> : null}
      {j.abortRevertMs !== undefined ? (
        <p class="note">Active faults reverted {j.abortRevertMs} ms after the stop.</p>
      ) : null}
      <p class="note mono">{j.path}</p>
      <h3>Probes over time</h3>
      <p class="note">
        Markers: <span class="mk mk-fault">fault in</span> <span class="mk mk-end">fault out</span>.
        A probe without a value is drawn as 1 (held) or 0 (violated).
      </p>
      {j.probeSeries.length === 0 ? (
        <Empty>This experiment has no probes.</Empty>
      ) : (
        <div class="charts">
          {j.probeSeries.map((p) => (
            <div class="panel" key={p.name} data-probe={p.name}>
              <Chart
                title={`${p.name} (${p.kind}, ${p.mode}, weight ${p.weight})`}
                label={`Probe ${p.name} over the run: ${p.passed ? 'passed' : 'not passed'}`}
                unit="none"
                series={[{ name: p.name, points: p.points }]}
                markers={j.markers}
                stepped={!p.valued}
                points
                height={140}
                {...(Number.isFinite(from) && Number.isFinite(to)
                  ? { xRange: [from - pad, to + pad] as [number, number] }
                  : {})}
              />
              <p class={p.passed ? 'good' : 'bad'}>
                {p.passed ? 'passed' : 'not passed'} · {p.evaluations} evaluations · {p.violations}{' '}
                violations
              </p>
              {p.firstViolation ? <p class="reason">first: {p.firstViolation}</p> : null}
            </div>
          ))}
        </div>
      )}
      <h3>Steps</h3>
      <TableWrap label="Steps">
        <thead>
          <tr>
            <th scope="col">Step</th>
            <th scope="col">Fault</th>
            <th scope="col">Targets</th>
            <th scope="col">In effect</th>
            <th scope="col">Status</th>
          </tr>
        </thead>
        <tbody>
          {j.steps.map((s, i) => (
            <tr key={i}>
              <td>{s.name}</td>
              <td>{s.fault ?? s.type}</td>
              <td class="mono">{s.targets.join(', ') || '–'}</td>
              <td>
                {s.injectedAt || s.startedAt
                  ? `+${(secs(s.injectedAt ?? s.startedAt) - from).toFixed(1)} s`
                  : '–'}
                {s.endedAt ? ` → +${(secs(s.endedAt) - from).toFixed(1)} s` : ''}
              </td>
              <td class={s.status === 'done' ? 'good' : s.status === 'failed' ? 'bad' : ''}>
                {s.status}
                {s.error ? <div class="reason">{s.error}</div> : null}
                {s.description ? <div class="reason">{s.description}</div> : null}
              </td>
            </tr>
          ))}
        </tbody>
      </TableWrap>
      {j.rollbacks.length ? (
        <>
          <h3>Rollbacks</h3>
          <ul>
            {j.rollbacks.map((r, i) => (
              <li key={i}>
                {r.name}: <span class={r.status === 'done' ? 'good' : 'bad'}>{r.status}</span>
                {r.description ? ` (${r.description})` : ''}
                {r.error ? ` — ${r.error}` : ''}
              </li>
            ))}
          </ul>
        </>
      ) : null}
    </Section>
  );
}

export function ChaosPage({ journal }: { journal?: string }) {
  const { view } = useStream<ChaosView>(`view=chaos${journal ? `&journal=${journal}` : ''}`);
  if (!view) return <p class="loading">Reading the cluster…</p>;
  const byExperiment = new Map<string, [number, number][]>();
  for (const j of [...view.journals].reverse()) {
    const t = secs(j.startedAt);
    if (!Number.isFinite(t)) continue;
    const pts = byExperiment.get(j.experiment) ?? [];
    pts.push([t, j.score / 100]);
    byExperiment.set(j.experiment, pts);
  }
  // Scores over time once there are two runs to compare.
  const times = [...byExperiment.values()].flat().map(([t]) => t);
  const span: [number, number] | undefined =
    times.length >= 2
      ? [
          Math.min(...times) - Math.max(60, (Math.max(...times) - Math.min(...times)) * 0.05),
          Math.max(...times) + Math.max(60, (Math.max(...times) - Math.min(...times)) * 0.05),
        ]
      : undefined;
  return (
    <main id="main" tabIndex={-1}>
      <div class="page-head">
        <h1>Chaos</h1>
        <p class="summary">
          {view.active.length} fault{view.active.length === 1 ? '' : 's'} in effect ·{' '}
          {view.journals.length} run{view.journals.length === 1 ? '' : 's'} recorded
        </p>
      </div>
      <Problems problems={view.problems} />
      <Section title="Faults in effect now" id="active">
        {view.active.length === 0 ? (
          <Empty>
            {view.activeAt
              ? `None: no undo record in the chaos namespace (read ${ago(view.activeAt * 1000)}).`
              : 'Reading the undo records…'}
          </Empty>
        ) : (
          <TableWrap label="Faults in effect" class="active-faults">
            <thead>
              <tr>
                <th scope="col">Fault</th>
                <th scope="col">Service</th>
                <th scope="col">Experiment</th>
                <th scope="col">State</th>
                <th scope="col">Since</th>
                <th scope="col">Expires</th>
                <th scope="col">Helper</th>
                <th scope="col">Changed</th>
              </tr>
            </thead>
            <tbody>
              {view.active.map((f) => (
                <tr key={f.id} data-fault={f.id} class={f.overdue ? 'warn-row' : ''}>
                  <td>
                    {f.kind}
                    <div class="reason mono">{f.id}</div>
                  </td>
                  <td>
                    <a href={serviceHref(f.namespace, f.service)}>
                      {f.namespace}/{f.service}
                    </a>
                  </td>
                  <td class="mono">{f.experiment}</td>
                  <td>{f.state}</td>
                  <td title={clock(f.createdAt)}>{ago(f.createdAt)}</td>
                  <td title={clock(f.expiresAt)} class={f.overdue ? 'bad' : ''}>
                    {clock(f.expiresAt)}
                    {f.overdue ? <div class="reason">overdue: gantry chaos recover</div> : null}
                  </td>
                  <td>{f.helper}</td>
                  <td class="mono">{f.changes.join(', ') || '–'}</td>
                </tr>
              ))}
            </tbody>
          </TableWrap>
        )}
      </Section>
      {view.journal ? <Run j={view.journal} /> : null}
      {journal && !view.journal ? (
        <Empty>That run's journal is no longer found below the reports directories.</Empty>
      ) : null}
      <Section title="Experiment runs" id="runs">
        {view.reportDirs.length === 0 ? (
          <Empty>
            No reports directory: start the console with <code>--chaos-reports DIR</code>, where{' '}
            <code>gantry chaos run --report DIR</code> writes its journals.
          </Empty>
        ) : view.journals.length === 0 ? (
          <Empty>No journal.json below {view.reportDirs.join(', ')} yet.</Empty>
        ) : (
          <>
            {span ? (
              <Chart
                title="Resilience score by run"
                label="Resilience score of each run, per experiment"
                unit="percentunit"
                series={[...byExperiment].map(([name, points]) => ({ name, points }))}
                points
                xRange={span}
                height={140}
              />
            ) : null}
            <TableWrap label="Runs" class="runs">
              <thead>
                <tr>
                  <th scope="col">Started</th>
                  <th scope="col">Experiment</th>
                  <th scope="col">Service</th>
                  <th scope="col">Faults</th>
                  <th scope="col">Verdict</th>
                  <th scope="col">Score</th>
                  <th scope="col">Probes passed</th>
                </tr>
              </thead>
              <tbody>
                {view.journals.map((j) => (
                  <tr
                    key={j.id}
                    data-journal={j.id}
                    aria-current={j.id === journal ? 'true' : undefined}
                  >
                    <td title={clock(j.startedAt)}>{ago(j.startedAt)}</td>
                    <td>
                      <a href={chaosHref(j.id)}>{j.experiment}</a>
                    </td>
                    <td>
                      {j.namespace}/{j.service}
                    </td>
                    <td>{j.faults.join(', ') || '–'}</td>
                    <td class={verdictClass(j.verdict)}>
                      {j.verdict}
                      {j.reason ? <div class="reason">{j.reason}</div> : null}
                    </td>
                    <td class="score-cell">{j.score}</td>
                    <td>
                      {j.probes.filter((p) => p.passed).length}/{j.probes.length}
                    </td>
                  </tr>
                ))}
              </tbody>
            </TableWrap>
          </>
        )}
      </Section>
    </main>
  );
}
