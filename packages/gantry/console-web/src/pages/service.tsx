// Service: its charts with deploys, rollbacks and release steps on the time axis, pods,
// events, last log lines, revision history (any two compared) and past releases; with
// --allow-actions, restart and rollback (each confirmed first).
import type { PanelData, PanelMeta, ServiceView } from '../../../src/console/view-types.js';
import { ActionBar, RollbackButton } from '../actions.js';
import { Chart } from '../chart.js';
import { RevisionCompare } from '../diff.js';
import { ago, clock, shortImage } from '../format.js';
import { useStream } from '../stream.js';
import { Empty, HealthBadge, Problems, Section, TableWrap, Version, releaseHref } from '../ui.js';

/** The span of every chart (the server's CHART_RANGE_SECONDS). */
const WINDOW_SECONDS = 30 * 60;

export function PanelChart({
  meta,
  data,
  markers,
}: {
  meta: PanelMeta;
  data?: PanelData;
  markers: ServiceView['markers'];
}) {
  return (
    <div class="panel" data-panel={meta.id}>
      <Chart
        title={meta.title}
        label={`${meta.title}: ${meta.description}`}
        unit={meta.unit}
        series={data?.series ?? []}
        thresholds={meta.thresholds}
        markers={markers}
        {...(data ? { xRange: [data.at - WINDOW_SECONDS, data.at] as [number, number] } : {})}
      />
      {data?.error ? <p class="panel-error">{data.error}</p> : null}
      {data && !data.error && data.series.length === 0 ? (
        <p class="panel-note">No data in the last 30 minutes.</p>
      ) : null}
      <details class="promql">
        <summary>PromQL</summary>
        <code>{meta.expr}</code>
      </details>
    </div>
  );
}

export function ServicePage({ namespace, name }: { namespace: string; name: string }) {
  const { view, panels } = useStream<ServiceView>(
    `view=service&namespace=${namespace}&name=${name}`,
  );
  if (!view) return <p class="loading">Reading the cluster…</p>;
  const r = view.row;
  return (
    <main id="main" tabIndex={-1}>
      <div class="page-head">
        <h1>
          <span class="ns">{namespace}/</span>
          {name}
        </h1>
        {r ? (
          <p class="summary">
            <HealthBadge health={r.health} reason={r.reason} />{' '}
            <span class="reason">{r.reason}</span>
          </p>
        ) : null}
      </div>
      <Problems problems={view.problems} />
      {!view.found ? (
        <Empty>
          {view.synced
            ? `No Gantry service ${namespace}/${name} is visible to you.`
            : 'Reading the cluster…'}
        </Empty>
      ) : null}
      {r ? (
        <dl class="facts">
          <div>
            <dt>Revision</dt>
            <dd class="revision">{r.revision !== undefined ? `r${r.revision}` : '–'}</dd>
          </div>
          <div>
            <dt>Image</dt>
            <dd class="image" title={r.image}>
              {shortImage(r.image)}
            </dd>
          </div>
          <div>
            <dt>Version</dt>
            <dd class="version" title={r.version}>
              {r.version ? <Version v={r.version} /> : '–'}
            </dd>
          </div>
          <div>
            <dt>Ready</dt>
            <dd class="ready">
              {r.ready}/{r.desired}
            </dd>
          </div>
          <div>
            <dt>Deployed</dt>
            <dd>{r.deployedAt ? ago(r.deployedAt) : '–'}</dd>
          </div>
          <div>
            <dt>Release</dt>
            <dd>
              {r.release ? (
                <a href={releaseHref(namespace, name)}>
                  {r.release.strategy} step {r.release.step}/{r.release.steps} at {r.release.weight}
                  %
                </a>
              ) : view.releases.length ? (
                <a href={releaseHref(namespace, name)}>last: {view.releases[0]!.outcome}</a>
              ) : (
                'none'
              )}
            </dd>
          </div>
        </dl>
      ) : null}
      <ActionBar offers={view.actions} log={view.actionLog} />
      <Section title="Metrics" id="metrics">
        <p class="note">
          Last 30 minutes. Selectors from{' '}
          {view.selectorsFrom === 'release state'
            ? "the release's recorded spec"
            : 'the live Deployment and spec defaults'}
          ; markers: <span class="mk mk-deploy">deploy</span>{' '}
          <span class="mk mk-rollback">rollback</span> <span class="mk mk-release">release</span>{' '}
          <span class="mk mk-step">step</span>
        </p>
        <div class="charts">
          {view.panels.map((p) => (
            <PanelChart key={p.key} meta={p} data={panels[p.key]} markers={view.markers} />
          ))}
        </div>
      </Section>
      <Section title="Pods" id="pods">
        {view.pods.length === 0 ? (
          <Empty>No pods.</Empty>
        ) : (
          <TableWrap label="Pods">
            <thead>
              <tr>
                <th scope="col">Pod</th>
                <th scope="col">Track</th>
                <th scope="col">Status</th>
                <th scope="col">Restarts</th>
                <th scope="col">Started</th>
                <th scope="col">Node</th>
              </tr>
            </thead>
            <tbody>
              {view.pods.map((p) => (
                <tr key={p.name}>
                  <td class="mono">{p.name}</td>
                  <td>{p.track}</td>
                  <td>
                    <span class={p.problem ? 'bad' : p.ready ? 'good' : 'warn'}>
                      {p.ready ? 'Ready' : p.phase}
                    </span>
                    {p.problem ? <div class="reason">{p.problem}</div> : null}
                  </td>
                  <td class={p.restarts > 0 ? 'warn' : ''}>{p.restarts}</td>
                  <td>{ago(p.startedAt)}</td>
                  <td>{p.node ?? '–'}</td>
                </tr>
              ))}
            </tbody>
          </TableWrap>
        )}
      </Section>
      {view.replicaSets.length ? (
        <Section title="ReplicaSets" id="replicasets">
          <TableWrap label="ReplicaSets">
            <thead>
              <tr>
                <th scope="col">ReplicaSet</th>
                <th scope="col">Track</th>
                <th scope="col">Kubernetes revision</th>
                <th scope="col">Image</th>
                <th scope="col">Ready</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {view.replicaSets.map((rs) => (
                <tr key={rs.name}>
                  <td class="mono">{rs.name}</td>
                  <td>{rs.track}</td>
                  <td>{rs.revision}</td>
                  <td class="image" title={rs.image}>
                    {shortImage(rs.image)}
                  </td>
                  <td class={rs.ready < rs.desired ? 'warn' : ''}>
                    {rs.ready}/{rs.desired}
                  </td>
                  <td>{ago(rs.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </TableWrap>
        </Section>
      ) : null}
      <Section title="Recent events" id="events">
        {view.events.length === 0 ? (
          <Empty>No recent events.</Empty>
        ) : (
          <TableWrap label="Events">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Object</th>
                <th scope="col">Reason</th>
                <th scope="col">Message</th>
              </tr>
            </thead>
            <tbody>
              {view.events.map((e, i) => (
                <tr key={i} class={e.type === 'Warning' ? 'warn-row' : ''}>
                  <td>{ago(e.last)}</td>
                  <td class="mono">{e.object}</td>
                  <td>
                    {e.reason}
                    {e.count > 1 ? ` ×${e.count}` : ''}
                  </td>
                  <td>{e.message}</td>
                </tr>
              ))}
            </tbody>
          </TableWrap>
        )}
      </Section>
      <Section title="Last log lines" id="logs">
        {view.logs.length === 0 ? (
          <Empty>No logs read yet.</Empty>
        ) : (
          view.logs.map((l) => (
            <details key={l.pod} class="logs" open={view.logs.length <= 2}>
              <summary class="mono">{l.pod}</summary>
              <pre tabIndex={0}>{l.lines.trim() || '(no output)'}</pre>
            </details>
          ))
        )}
      </Section>
      <Section title="Revision history" id="history">
        {view.history.length === 0 ? (
          <Empty>No release records.</Empty>
        ) : (
          <TableWrap label="Revisions">
            <thead>
              <tr>
                <th scope="col">Revision</th>
                <th scope="col">Status</th>
                <th scope="col">Image</th>
                <th scope="col">By</th>
                <th scope="col">When</th>
                <th scope="col">Note</th>
                {view.actions ? <th scope="col">Action</th> : null}
              </tr>
            </thead>
            <tbody>
              {view.history.map((h) => (
                <tr key={h.revision} data-revision={h.revision}>
                  <td>r{h.revision}</td>
                  <td class={h.status === 'deployed' ? 'good' : h.status === 'failed' ? 'bad' : ''}>
                    {h.status}
                  </td>
                  <td class="image" title={h.image}>
                    {shortImage(h.image)}
                    {h.version ? ` (v${h.version})` : ''}
                  </td>
                  <td>{h.actor}</td>
                  <td title={clock(h.startedAt)}>{ago(h.finishedAt ?? h.startedAt)}</td>
                  <td>
                    {h.rollbackOf !== undefined ? `rollback to r${h.rollbackOf}. ` : ''}
                    {h.message ?? ''}
                  </td>
                  {view.actions ? (
                    <td>
                      {view.actions
                        .filter((o) => o.action === 'rollback' && o.revision === h.revision)
                        .map((o) => (
                          <RollbackButton key={o.revision} offer={o} />
                        ))}
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </TableWrap>
        )}
        <RevisionCompare namespace={namespace} name={name} history={view.history} />
      </Section>
      {view.releases.length ? (
        <Section title="Progressive releases" id="releases">
          <TableWrap label="Releases">
            <thead>
              <tr>
                <th scope="col">Started</th>
                <th scope="col">Strategy</th>
                <th scope="col">Image</th>
                <th scope="col">Outcome</th>
                <th scope="col">Steps</th>
                <th scope="col">Reason</th>
              </tr>
            </thead>
            <tbody>
              {view.releases.map((x, i) => (
                <tr key={i}>
                  <td title={clock(x.startedAt)}>{ago(x.startedAt)}</td>
                  <td>
                    {i === 0 ? <a href={releaseHref(namespace, name)}>{x.strategy}</a> : x.strategy}
                  </td>
                  <td class="image">{shortImage(x.image)}</td>
                  <td>{x.outcome}</td>
                  <td>
                    {x.stepReached}/{x.steps}
                  </td>
                  <td>{x.reason ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </TableWrap>
        </Section>
      ) : null}
    </main>
  );
}
