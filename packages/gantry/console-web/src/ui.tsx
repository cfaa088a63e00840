// Small pieces every page uses.
import { Fragment } from 'preact';
import type { ComponentChildren } from 'preact';
import type { Health, Problem } from '../../src/console/view-types.js';

export function HealthBadge({ health, reason }: { health: Health; reason?: string }) {
  const words: Record<Health, string> = {
    ok: 'healthy',
    progressing: 'progressing',
    degraded: 'degraded',
    failed: 'failing',
    unknown: 'unknown',
  };
  return (
    <span class={`health health-${health}`} title={reason}>
      <span class="dot" aria-hidden="true" />
      {words[health]}
    </span>
  );
}

/** What the API server, Prometheus or Alertmanager refused or failed, in their words. */
export function Problems({ problems }: { problems: Problem[] }) {
  if (problems.length === 0) return null;
  const unique = problems.filter(
    (p, i) => problems.findIndex((q) => q.message === p.message) === i,
  );
  return (
    <div class="problems" role="alert">
      {unique.map((p) => (
        <p key={p.what + p.message}>
          <strong>
            {p.status === 403 ? 'Refused by the Kubernetes API' : `Cannot read ${p.what}`}
            {p.status ? ` (HTTP ${p.status})` : ''}:
          </strong>{' '}
          <code>{p.message}</code>
        </p>
      ))}
    </div>
  );
}

export function TableWrap(p: { label: string; class?: string; children: ComponentChildren }) {
  const { label, children } = p;
  return (
    <div class={`table-wrap ${p.class ?? ''}`} role="region" aria-label={label} tabIndex={0}>
      <table>{children}</table>
    </div>
  );
}

export function Section({
  title,
  children,
  id,
}: {
  title: string;
  children: ComponentChildren;
  id?: string;
}) {
  return (
    <section class="section" aria-labelledby={id}>
      <h2 id={id}>{title}</h2>
      {children}
    </section>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="empty">{children}</p>;
}

export const serviceHref = (ns: string, name: string) => `#/service/${ns}/${name}`;
export const releaseHref = (ns: string, name: string) => `#/release/${ns}/${name}`;

/** A version broken only after its separators (1.2.0-rc.1+build.7), never inside a word. */
export function Version({ v }: { v: string }) {
  const parts = v.split(/(?<=[.+-])/);
  return (
    <>
      {parts.map((p, i) => (
        <Fragment key={i}>
          <span>{p}</span>
          {i < parts.length - 1 ? <wbr /> : null}
        </Fragment>
      ))}
    </>
  );
}
