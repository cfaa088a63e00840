// The console's pages: a hash router over five views. Each page opens one event stream.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import 'uplot/dist/uPlot.min.css';
import './style.css';
import type { Hello } from '../../src/console/view-types.js';
import { AlertsPage } from './pages/alerts.js';
import { ChaosPage } from './pages/chaos.js';
import { FleetPage } from './pages/fleet.js';
import { ReleasePage } from './pages/release.js';
import { ServicePage } from './pages/service.js';
import { onHello } from './stream.js';

type Route =
  | { page: 'fleet' }
  | { page: 'alerts' }
  | { page: 'chaos'; journal?: string }
  | { page: 'service' | 'release'; namespace: string; name: string };

function route(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  const [page, namespace, name] = parts;
  if ((page === 'service' || page === 'release') && namespace && name)
    return { page, namespace, name };
  if (page === 'alerts') return { page: 'alerts' };
  if (page === 'chaos')
    return namespace ? { page: 'chaos', journal: namespace } : { page: 'chaos' };
  return { page: 'fleet' };
}

function App() {
  const [r, setR] = useState(() => route(location.hash));
  const [hello, setHello] = useState<Hello | undefined>();
  useEffect(() => onHello(setHello), []);
  useEffect(() => {
    const on = () => {
      setR(route(location.hash));
      // The new page's heading gets the focus, as a page load would.
      requestAnimationFrame(() => document.querySelector<HTMLElement>('main h1')?.focus());
    };
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  const current = (p: Route['page']) => (r.page === p ? 'page' : undefined);
  return (
    <>
      <a
        class="skip"
        href="#main"
        onClick={(e) => (e.preventDefault(), document.getElementById('main')?.focus())}
      >
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href="#/">
          Gantry
        </a>
        <nav aria-label="Pages">
          <a href="#/" aria-current={current('fleet')}>
            Fleet
          </a>
          <a href="#/alerts" aria-current={current('alerts')}>
            Alerts
          </a>
          <a href="#/chaos" aria-current={current('chaos')}>
            Chaos
          </a>
        </nav>
        {hello?.actions ? (
          <span
            class="readonly actions-on"
            title="Started with --allow-actions: each action is confirmed, runs as this identity and is logged"
          >
            actions as {hello.actions.user}
          </span>
        ) : (
          <span class="readonly" title="This console shows; it changes nothing">
            read-only
          </span>
        )}
      </header>
      {r.page === 'fleet' ? (
        <FleetPage />
      ) : r.page === 'alerts' ? (
        <AlertsPage />
      ) : r.page === 'chaos' ? (
        <ChaosPage key={`c/${r.journal ?? ''}`} {...(r.journal ? { journal: r.journal } : {})} />
      ) : r.page === 'service' ? (
        <ServicePage key={`s/${r.namespace}/${r.name}`} namespace={r.namespace} name={r.name} />
      ) : (
        <ReleasePage key={`r/${r.namespace}/${r.name}`} namespace={r.namespace} name={r.name} />
      )}
    </>
  );
}

render(<App />, document.getElementById('app')!);
