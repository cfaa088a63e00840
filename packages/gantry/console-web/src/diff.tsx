// Two revisions of a service, field by field: any two of its recorded revisions, read
// from the release records on demand (GET /api/diff). Secret values never reach the page:
// each secret key is only "changed" or "unchanged".
import { useState } from 'preact/hooks';
import type { RevisionDiff, RevisionRow } from '../../src/console/view-types.js';
import { shortImage } from './format.js';
import { Empty, TableWrap } from './ui.js';

type State =
  | { kind: 'idle' }
  | { kind: 'loading' }
  | { kind: 'error'; message: string }
  | { kind: 'done'; diff: RevisionDiff };

export function RevisionCompare({
  namespace,
  name,
  history,
}: {
  namespace: string;
  name: string;
  history: RevisionRow[];
}) {
  const revs = history.map((h) => h.revision);
  const [from, setFrom] = useState<number | undefined>(undefined);
  const [to, setTo] = useState<number | undefined>(undefined);
  const [state, setState] = useState<State>({ kind: 'idle' });
  if (revs.length < 2) return null;
  const a = from ?? revs[1]!;
  const b = to ?? revs[0]!;
  const compare = async () => {
    setState({ kind: 'loading' });
    try {
      const res = await fetch(`/api/diff?namespace=${namespace}&name=${name}&from=${a}&to=${b}`, {
        credentials: 'same-origin',
      });
      const body = (await res.json()) as RevisionDiff | { error: string; status?: number };
      if (!res.ok || 'error' in body) {
        const e = body as { error: string; status?: number };
        setState({
          kind: 'error',
          message: `${e.status === 403 ? 'Refused by the Kubernetes API (HTTP 403): ' : ''}${e.error}`,
        });
      } else setState({ kind: 'done', diff: body });
    } catch (err) {
      setState({ kind: 'error', message: (err as Error).message });
    }
  };
  const select = (value: number, set: (n: number) => void, label: string, testid: string) => (
    <label>
      {label}
      <select
        value={String(value)}
        data-testid={testid}
        onChange={(e) => {
          set(Number((e.target as HTMLSelectElement).value));
          setState({ kind: 'idle' });
        }}
      >
        {history.map((h) => (
          <option key={h.revision} value={String(h.revision)}>
            r{h.revision} · {h.status} · {shortImage(h.image)}
          </option>
        ))}
      </select>
    </label>
  );
  return (
    <div class="compare">
      <div class="filters">
        {select(a, setFrom, 'From', 'diff-from')}
        {select(b, setTo, 'To', 'diff-to')}
        <button type="button" data-testid="diff-go" onClick={() => void compare()}>
          Compare
        </button>
      </div>
      {state.kind === 'loading' ? <p class="loading">Reading both release records…</p> : null}
      {state.kind === 'error' ? (
        <div class="problems" role="alert">
          <p>{state.message}</p>
        </div>
      ) : null}
      {state.kind === 'done' ? <DiffTable diff={state.diff} /> : null}
    </div>
  );
}

function DiffTable({ diff }: { diff: RevisionDiff }) {
  const changed = diff.objects.filter((o) => o.change !== 'unchanged');
  const same = diff.objects.filter((o) => o.change === 'unchanged');
  return (
    <div class="diff" data-testid="diff">
      <p class="note">
        r{diff.from.revision} ({shortImage(diff.from.image)}
        {diff.from.version ? ` v${diff.from.version}` : ''}) → r{diff.to.revision} (
        {shortImage(diff.to.image)}
        {diff.to.version ? ` v${diff.to.version}` : ''}): {changed.length} of {diff.objects.length}{' '}
        objects differ
        {same.length ? `; unchanged: ${same.map((o) => o.object).join(', ')}` : ''}.
      </p>
      {changed.length === 0 ? (
        <Empty>The two revisions' objects are the same.</Empty>
      ) : (
        <TableWrap label="Differences">
          <thead>
            <tr>
              <th scope="col">Object</th>
              <th scope="col">Field</th>
              <th scope="col">r{diff.from.revision}</th>
              <th scope="col">r{diff.to.revision}</th>
            </tr>
          </thead>
          <tbody>
            {changed.flatMap((o) =>
              o.fields.length === 0
                ? [
                    <tr key={o.object} data-object={o.object}>
                      <td class="mono">{o.object}</td>
                      <td colSpan={3}>{o.change === 'added' ? 'added' : 'removed'}</td>
                    </tr>,
                  ]
                : o.fields.map((f) => (
                    <tr key={`${o.object}|${f.path}`} data-object={o.object} data-path={f.path}>
                      <td class="mono">{o.object}</td>
                      <td class="mono">{f.path}</td>
                      <td class="diff-before">
                        {f.before === undefined ? <em>absent</em> : <code>{f.before}</code>}
                      </td>
                      <td class="diff-after">
                        {f.after === undefined ? <em>absent</em> : <code>{f.after}</code>}
                      </td>
                    </tr>
                  )),
            )}
          </tbody>
        </TableWrap>
      )}
      {diff.secrets.length ? (
        <p class="note" data-testid="diff-secrets">
          Secret keys (values never shown):{' '}
          {diff.secrets.map((s, i) => (
            <span key={s.key} class={s.state === 'unchanged' ? '' : 'warn'}>
              {i ? ', ' : ''}
              <code>{s.key}</code> {s.state}
            </span>
          ))}
        </p>
      ) : null}
    </div>
  );
}
