// Fleet: every service Gantry manages, across namespaces, filterable, live.
import { useState } from 'preact/hooks';
import type { FleetView, Health } from '../../../src/console/view-types.js';
import { ago, shortImage } from '../format.js';
import { useStream } from '../stream.js';
import {
  Empty,
  HealthBadge,
  Problems,
  TableWrap,
  Version,
  releaseHref,
  serviceHref,
} from '../ui.js';

const HEALTH_ORDER: Health[] = ['failed', 'degraded', 'progressing', 'unknown', 'ok'];

export function FleetPage() {
  const { view } = useStream<FleetView>('view=fleet');
  const [filter, setFilter] = useState('');
  const [health, setHealth] = useState<'' | Health>('');
  if (!view) return <p class="loading">Reading the cluster…</p>;
  const words = filter.toLowerCase().split(/\s+/).filter(Boolean);
  const rows = view.rows.filter(
    (r) =>
      (!health || r.health === health) &&
      words.every((w) =>
        `${r.namespace}/${r.name} ${r.image} ${r.version ?? ''}`.toLowerCase().includes(w),
      ),
  );
  const counts = HEALTH_ORDER.map(
    (h) => [h, view.rows.filter((r) => r.health === h).length] as const,
  );
  return (
    <main id="main" tabIndex={-1}>
      <div class="page-head">
        <h1>Fleet</h1>
        <p class="summary">
          {view.rows.length} service{view.rows.length === 1 ? '' : 's'}
          {counts
            .filter(([, n]) => n > 0)
            .map(([h, n]) => (
              <span key={h} class={`count health-${h}`}>
                {' '}
                · {n} {h}
              </span>
            ))}
        </p>
      </div>
      <Problems problems={view.problems} />
      <div class="filters">
        <label>
          Filter
          <input
            type="search"
            value={filter}
            placeholder="namespace, name, image"
            onInput={(e) => setFilter((e.target as HTMLInputElement).value)}
          />
        </label>
        <label>
          Health
          <select
            value={health}
            onChange={(e) => setHealth((e.target as HTMLSelectElement).value as Health | '')}
          >
            <option value="">all</option>
            {HEALTH_ORDER.map((h) => (
              <option key={h} value={h}>
                {h}
              </option>
            ))}
          </select>
        </label>
      </div>
      {!view.synced ? (
        <p class="loading">Reading the cluster…</p>
      ) : rows.length === 0 ? (
        <Empty>
          {view.rows.length
            ? 'No service matches the filter.'
            : 'No service managed by Gantry is visible to you.'}
        </Empty>
      ) : (
        <TableWrap label="Services" class="fleet">
          <thead>
            <tr>
              <th scope="col">Service</th>
              <th scope="col">Health</th>
              <th scope="col">Revision</th>
              <th scope="col">Image</th>
              <th scope="col">Ready</th>
              <th scope="col">Release</th>
              <th scope="col">Alerts</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={`${r.namespace}/${r.name}`} data-service={`${r.namespace}/${r.name}`}>
                <td data-label="Service">
                  <a href={serviceHref(r.namespace, r.name)}>
                    <span class="ns">{r.namespace}/</span>
                    {r.name}
                  </a>
                </td>
                <td data-label="Health">
                  <HealthBadge health={r.health} reason={r.reason} />
                  <div class="reason">{r.reason}</div>
                </td>
                <td class="revision" data-label="Revision">
                  {r.revision !== undefined ? `r${r.revision}` : '–'}
                  {r.deployedAt ? <div class="reason">{ago(r.deployedAt)}</div> : null}
                </td>
                <td class="image" title={r.image} data-label="Image">
                  {shortImage(r.image)}
                  {r.version ? (
                    <div class="reason version">
                      v<Version v={r.version} />
                    </div>
                  ) : null}
                </td>
                <td class="ready" data-label="Ready">
                  {r.ready}/{r.desired}
                </td>
                <td data-label="Release">
                  {r.release ? (
                    <a href={releaseHref(r.namespace, r.name)} class="release-link">
                      {r.release.strategy} · step {r.release.step}/{r.release.steps} ·{' '}
                      {r.release.weight}%<div class="reason">{r.release.phase}</div>
                    </a>
                  ) : (
                    '–'
                  )}
                </td>
                <td data-label="Alerts">
                  {r.alerts.length === 0
                    ? '–'
                    : r.alerts.map((a) => (
                        <span key={a.name} class={`alert-chip sev-${a.severity}`} title={a.summary}>
                          {a.name}
                        </span>
                      ))}
                </td>
              </tr>
            ))}
          </tbody>
        </TableWrap>
      )}
    </main>
  );
}
