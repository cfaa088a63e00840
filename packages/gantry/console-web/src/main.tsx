// The console's pages: a hash router over four views. Each page opens one event stream.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { AlertsPage } from './pages/alerts.js';
import { FleetPage } from './pages/fleet.js';
import { ReleasePage } from './pages/release.js';
import { ServicePage } from './pages/service.js';

type Route =
  | { page: 'fleet' }
  | { page: 'alerts' }
  | { page: 'service' | 'release'; namespace: string; name: string };

function route(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  const [page, namespace, name] = parts;
  if ((page === 'service' || page === 'release') && namespace && name)
    return { page, namespace, name };
  if (page === 'alerts') return { page: 'alerts' };
  return { page: 'fleet' };
}

function App() {
  const [r, setR] = useState(() => route(location.hash));
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
        </nav>
        <span class="readonly" title="This console shows; it changes nothing">
          read-only
        </span>
      </header>
      {r.page === 'fleet' ? (
        <FleetPage />
      ) : r.page === 'alerts' ? (
        <AlertsPage />
      ) : r.page === 'service' ? (
        <ServicePage key={`s/${r.namespace}/${r.name}`} namespace={r.namespace} name={r.name} />
      ) : (
        <ReleasePage key={`r/${r.namespace}/${r.name}`} namespace={r.namespace} name={r.name} />
      )}
    </>
  );
}

render(<App />, document.getElementById('app')!);
