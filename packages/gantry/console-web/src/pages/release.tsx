// Release: the step timeline, the canary's weight over time, the traffic split now, each
// verdict of the judge with its numbers and the PromQL behind them, canary vs stable charts.
import type { ReleaseView } from '../../../src/console/view-types.js';
import { ActionBar } from '../actions.js';
import { Chart } from '../chart.js';
import { ago, clock, shortImage } from '../format.js';
import { useStream } from '../stream.js';
import { Empty, Problems, Section, TableWrap, serviceHref } from '../ui.js';
import { PanelChart } from './service.js';

const VERDICTS_SHOWN = 12;

/** A share as the page shows it: at most two decimals (33.33, not 33.333333333333336). */
export const pct = (x: number) => String(Number(x.toFixed(2)));

export function ReleasePage({ namespace, name }: { namespace: string; name: string }) {
  const { view, panels } = useStream<ReleaseView>(
    `view=release&namespace=${namespace}&name=${name}`,
  );
  if (!view) return <p class="loading">Reading the cluster…</p>;
  const r = view.release;
  const now = Date.now() / 1000;
  return (
    <main id="main" tabIndex={-1}>
      <div class="page-head">
        <h1>
          Release of{' '}
          <a href={serviceHref(namespace, name)}>
            <span class="ns">{namespace}/</span>
            {name}
          </a>
        </h1>
        {r ? (
          <p class="summary">
            <span class={`phase phase-${r.phase}`} data-phase={r.phase}>
              {r.phase}
            </span>{' '}
            {r.strategy} of {shortImage(r.image)}
            {r.version ? ` (v${r.version})` : ''} via{' '}
            {r.router === 'gateway' ? 'the Gateway' : 'replica ratio'}, started {ago(r.startedAt)}
          </p>
        ) : null}
      </div>
      <Problems problems={view.problems} />
      <ActionBar offers={view.actions} log={view.actionLog} />
      {!r ? (
        <Empty>
          {view.synced
            ? 'No progressive release is recorded for this service.'
            : 'Reading the cluster…'}
        </Empty>
      ) : (
        <>
          <Section title="Traffic now" id="traffic">
            <div
              class="split"
              role="img"
              aria-label={`canary ${pct(r.canaryPercent)}%, stable ${pct(100 - r.canaryPercent)}%`}
            >
              <div
                class="split-stable"
                style={{ flexGrow: Math.max(0.0001, 100 - r.canaryPercent) }}
              >
                <span>stable {pct(100 - r.canaryPercent)}%</span>
              </div>
              <div class="split-canary" style={{ flexGrow: Math.max(0.0001, r.canaryPercent) }}>
                <span>
                  canary <span data-testid="canary-weight">{pct(r.canaryPercent)}</span>%
                </span>
              </div>
            </div>
            <p class="note">{r.traffic}</p>
            {r.pausedReason ? <p class="warn">Paused: {r.pausedReason}</p> : null}
            {r.request ? (
              <p class="note">
                {r.request.action} requested by {r.request.by} {ago(r.request.at)}
              </p>
            ) : null}
            {r.message ? <p class="note">{r.message}</p> : null}
          </Section>
          <Section title="Steps" id="steps">
            <ol class="steps">
              {r.steps.map((s, i) => (
                <li
                  key={i}
                  class={`step step-${s.state}`}
                  aria-current={s.state === 'current' ? 'step' : undefined}
                >
                  <span class="step-n">{i + 1}</span>
                  <span class="step-w">{s.weight}%</span>
                  <span class="step-d">
                    {s.gate === 'manual' ? 'manual gate' : `≥ ${s.pauseSeconds}s`}
                    {s.analyze ? ' · judged' : ''}
                  </span>
                  {s.state === 'current' ? (
                    <span class="step-since">since {ago(r.stepStartedAt)}</span>
                  ) : null}
                </li>
              ))}
            </ol>
          </Section>
          <Section title="Canary weight over time" id="weight">
            <Chart
              title="Canary weight"
              label="Canary weight set by the release, over time"
              unit="percentunit"
              series={[
                {
                  name: 'canary weight',
                  points: view.weights.map(([t, w]) => [t, w / 100] as [number, number]),
                },
              ]}
              markers={view.markers.filter((m) => m.kind !== 'deploy')}
              stepped
              xRange={[
                Date.parse(r.startedAt) / 1000 - 30,
                Math.max(
                  r.active ? now : Date.parse(r.finishedAt ?? r.updatedAt) / 1000 + 30,
                  Date.parse(r.startedAt) / 1000 + 300,
                ),
              ]}
              {...(r.active ? { until: now } : {})}
            />
          </Section>
          <Section title="Canary vs stable" id="tracks">
            <div class="charts">
              {view.panels.map((p) => (
                <PanelChart key={p.key} meta={p} data={panels[p.key]} markers={view.markers} />
              ))}
            </div>
          </Section>
          <Section title="Judge's verdicts" id="verdicts">
            {r.decisions.length === 0 ? (
              <Empty>No verdict yet.</Empty>
            ) : (
              r.decisions.slice(0, VERDICTS_SHOWN).map((d, i) => (
                <details key={`${d.at}-${i}`} class="verdict" open={i === 0}>
                  <summary>
                    <span class={`verdict-${d.verdict}`}>{d.verdict}</span> · step {d.step + 1} ·{' '}
                    {clock(d.at)} · confidence {Math.round(d.confidence * 100)}% — {d.summary}
                  </summary>
                  <TableWrap label="Checks">
                    <thead>
                      <tr>
                        <th scope="col">Check</th>
                        <th scope="col">Verdict</th>
                        <th scope="col">Canary</th>
                        <th scope="col">Stable</th>
                        <th scope="col">Statistic</th>
                        <th scope="col">Threshold</th>
                      </tr>
                    </thead>
                    <tbody>
                      {d.checks.map((c) => (
                        <tr key={c.name}>
                          <td>{c.name}</td>
                          <td class={`verdict-${c.verdict}`}>{c.verdict}</td>
                          <td>{c.canary}</td>
                          <td>{c.baseline}</td>
                          <td>{c.statistic}</td>
                          <td>{c.threshold}</td>
                        </tr>
                      ))}
                    </tbody>
                  </TableWrap>
                </details>
              ))
            )}
            {r.decisions.length > VERDICTS_SHOWN ? (
              <p class="note">and {r.decisions.length - VERDICTS_SHOWN} earlier verdicts</p>
            ) : null}
            <details class="promql">
              <summary>PromQL the judge runs (per track, differenced over the step)</summary>
              {view.judgeQueries.map((q) => (
                <div key={q.track}>
                  <h3>{q.track}</h3>
                  <code>{q.requests}</code>
                  <code>{q.errors}</code>
                  <code>{q.buckets}</code>
                </div>
              ))}
            </details>
          </Section>
        </>
      )}
    </main>
  );
}
