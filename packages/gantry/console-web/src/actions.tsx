// Actions (only when the console runs with --allow-actions: the server then sends the
// offers and the token; without it nothing here is rendered). Each button opens a modal
// confirmation naming exactly what will happen, in the server's words; the server checks
// those words again before it acts. Outcomes arrive in the page's view (the action log).
import { useEffect, useRef, useState } from 'preact/hooks';
import type { ActionLogEntry, ActionOffer, ActionRequest } from '../../src/console/view-types.js';
import { ago, clock } from './format.js';
import { hello } from './stream.js';

interface Pending {
  offer: ActionOffer;
  /** Said in the dialog: the server's refusal, or that the situation changed. */
  note?: string;
  busy?: boolean;
}

async function post(offer: ActionOffer): Promise<{ status: number; body: unknown }> {
  const req: ActionRequest = {
    action: offer.action,
    namespace: offer.namespace,
    name: offer.name,
    ...(offer.revision !== undefined ? { revision: offer.revision } : {}),
    confirm: offer.confirm,
  };
  const res = await fetch('/api/actions', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'content-type': 'application/json', 'x-gantry-csrf': hello()?.actions?.csrf ?? '' },
    body: JSON.stringify(req),
  });
  let body: unknown = null;
  try {
    body = await res.json();
  } catch {
    body = { error: `HTTP ${res.status}` };
  }
  return { status: res.status, body };
}

/** The modal confirmation of one action. */
function Confirm({
  pending,
  onClose,
  onChange,
}: {
  pending: Pending;
  onClose: () => void;
  onChange: (p: Pending) => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
  }, []);
  const { offer } = pending;
  const go = async () => {
    onChange({ ...pending, busy: true });
    try {
      const r = await post(offer);
      if (r.status === 202) return onClose();
      const b = r.body as { error?: string; offer?: ActionOffer };
      if (r.status === 409 && b.offer)
        return onChange({ offer: b.offer, note: `${b.error ?? 'changed'}.` });
      onChange({ ...pending, busy: false, note: b.error ?? `HTTP ${r.status}` });
    } catch (err) {
      onChange({ ...pending, busy: false, note: (err as Error).message });
    }
  };
  return (
    <dialog
      ref={ref}
      class="confirm"
      aria-labelledby="confirm-title"
      aria-describedby="confirm-text"
      onClose={onClose}
      data-testid="confirm-dialog"
    >
      <h2 id="confirm-title">
        {offer.label}: {offer.namespace}/{offer.name}?
      </h2>
      <p id="confirm-text" data-testid="confirm-text">
        {offer.confirm}
      </p>
      <p class="note">
        Runs as <strong>{hello()?.actions?.user ?? '?'}</strong> (your kubeconfig identity;
        Kubernetes RBAC decides) and is logged.
      </p>
      {pending.note ? (
        <p class="warn" role="alert">
          {pending.note}
        </p>
      ) : null}
      <div class="confirm-buttons">
        <button type="button" autoFocus onClick={() => ref.current?.close()}>
          Cancel
        </button>
        <button
          type="button"
          class={`primary ${offer.action === 'abort' || offer.action === 'rollback' ? 'danger' : ''}`}
          data-testid="confirm-go"
          disabled={pending.busy}
          onClick={() => void go()}
        >
          {pending.busy ? 'Sending…' : `${offer.label} now`}
        </button>
      </div>
    </dialog>
  );
}

/** One button per offer (rollbacks go in the history rows instead), and its dialog. */
export function ActionBar({ offers, log }: { offers?: ActionOffer[]; log?: ActionLogEntry[] }) {
  const [pending, setPending] = useState<Pending | undefined>();
  if (!offers) return null;
  const buttons = offers.filter((o) => o.action !== 'rollback');
  return (
    <div class="actions" role="group" aria-label="Actions">
      {buttons.map((o) => (
        <ActionButton key={o.action} offer={o} onAsk={(offer) => setPending({ offer })} />
      ))}
      {buttons.length === 0 ? <span class="note">No action possible now.</span> : null}
      {pending ? (
        <Confirm pending={pending} onChange={setPending} onClose={() => setPending(undefined)} />
      ) : null}
      <ActionLog log={log ?? []} />
    </div>
  );
}

export function ActionButton({
  offer,
  onAsk,
}: {
  offer: ActionOffer;
  onAsk: (o: ActionOffer) => void;
}) {
  return (
    <button
      type="button"
      class={`action action-${offer.action}`}
      data-action={offer.action}
      {...(offer.revision !== undefined ? { 'data-revision': offer.revision } : {})}
      onClick={() => onAsk(offer)}
    >
      {offer.label}
    </button>
  );
}

/** A rollback button for a history row, with its own dialog. */
export function RollbackButton({ offer }: { offer: ActionOffer }) {
  const [pending, setPending] = useState<Pending | undefined>();
  return (
    <>
      <ActionButton offer={offer} onAsk={(o) => setPending({ offer: o })} />
      {pending ? (
        <Confirm pending={pending} onChange={setPending} onClose={() => setPending(undefined)} />
      ) : null}
    </>
  );
}

/** This console's actions on the service, newest first; a refusal in the API's words. */
export function ActionLog({ log }: { log: ActionLogEntry[] }) {
  if (log.length === 0) return null;
  return (
    <ul class="action-log" aria-label="Actions taken from this console" aria-live="polite">
      {log.slice(0, 5).map((e) => (
        <li key={e.id} data-outcome={e.outcome} data-action={e.action}>
          <span class={e.outcome === 'ok' ? 'good' : e.outcome === 'failed' ? 'bad' : 'warn'}>
            {e.outcome === 'running' ? 'running' : e.outcome === 'ok' ? 'done' : 'failed'}
          </span>{' '}
          <strong>
            {e.action}
            {e.revision !== undefined ? ` to r${e.revision}` : ''}
          </strong>{' '}
          by {e.user} <span title={clock(e.startedAt)}>{ago(e.startedAt)}</span>
          {e.message ? (
            <div
              class={e.outcome === 'failed' ? 'action-error' : 'note'}
              role={e.outcome === 'failed' ? 'alert' : undefined}
            >
              {e.outcome === 'failed' && e.status === 403
                ? `Refused by the Kubernetes API (HTTP 403): `
                : e.outcome === 'failed' && e.status
                  ? `The Kubernetes API answered HTTP ${e.status}: `
                  : ''}
              <code>{e.message}</code>
            </div>
          ) : null}
        </li>
      ))}
    </ul>
  );
}
