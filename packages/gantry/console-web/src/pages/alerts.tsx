// Alerts: firing and silenced (Alertmanager), pending (Prometheus), and the silences.
import type { AlertRow, AlertsView } from '../../../src/console/view-types.js';
import { ago, clock } from '../format.js';
import { useStream } from '../stream.js';
import { Empty, Problems, Section, TableWrap, serviceHref } from '../ui.js';

function AlertTable({ rows, label }: { rows: AlertRow[]; label: string }) {
  if (rows.length === 0) return <Empty>None.</Empty>;
  return (
    <TableWrap label={label}>
      <thead>
        <tr>
          <th scope="col">Alert</th>
          <th scope="col">Severity</th>
          <th scope="col">Service</th>
          <th scope="col">Since</th>
          <th scope="col">Summary</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((a, i) => (
          <tr key={i}>
            <td>{a.name}</td>
            <td class={`sev-${a.severity}`}>{a.severity || '–'}</td>
            <td>
              {a.namespace && a.service ? (
                <a href={serviceHref(a.namespace, a.service)}>
                  {a.namespace}/{a.service}
                </a>
              ) : (
                (a.labels.namespace ?? '–')
              )}
            </td>
            <td title={clock(a.since)}>{ago(a.since)}</td>
            <td>{a.summary ?? ''}</td>
          </tr>
        ))}
      </tbody>
    </TableWrap>
  );
}

export function AlertsPage() {
  const { view } = useStream<AlertsView>('view=alerts');
  if (!view) return <p class="loading">Reading alerts…</p>;
  return (
    <main id="main" tabIndex={-1}>
      <div class="page-head">
        <h1>Alerts</h1>
        <p class="summary">
          {view.firing.length} firing · {view.pending.length} pending · {view.silenced.length}{' '}
          silenced
          {view.at ? ` · read ${ago(view.at * 1000)}` : ''}
        </p>
      </div>
      <Problems problems={view.problems} />
      <Section title="Firing" id="firing">
        <AlertTable rows={view.firing} label="Firing alerts" />
      </Section>
      <Section title="Pending" id="pending">
        <AlertTable rows={view.pending} label="Pending alerts" />
      </Section>
      <Section title="Silenced or inhibited" id="silenced">
        <AlertTable rows={view.silenced} label="Silenced alerts" />
      </Section>
      <Section title="Silences" id="silences">
        {view.silences.length === 0 ? (
          <Empty>None.</Empty>
        ) : (
          <TableWrap label="Silences">
            <thead>
              <tr>
                <th scope="col">Matchers</th>
                <th scope="col">State</th>
                <th scope="col">By</th>
                <th scope="col">Ends</th>
                <th scope="col">Comment</th>
              </tr>
            </thead>
            <tbody>
              {view.silences.map((s) => (
                <tr key={s.id}>
                  <td class="mono">{s.matchers}</td>
                  <td>{s.state}</td>
                  <td>{s.createdBy}</td>
                  <td title={clock(s.endsAt)}>{clock(s.endsAt)}</td>
                  <td>{s.comment}</td>
                </tr>
              ))}
            </tbody>
          </TableWrap>
        )}
      </Section>
    </main>
  );
}
