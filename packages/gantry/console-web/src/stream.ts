// One Server-Sent Events stream per page: the server sends the page's view whenever it
// changes and each chart's data after each refresh. EventSource reconnects by itself.
import { useEffect, useState } from 'preact/hooks';
import type { Hello, PanelData, View } from '../../src/console/view-types.js';

export interface Stream<V extends View> {
  view?: V;
  panels: Record<string, PanelData>;
  hello?: Hello;
  connected: boolean;
}

/** The last hello of any stream: the console's context and, with actions, user and token. */
let lastHello: Hello | undefined;
const helloListeners = new Set<(h: Hello) => void>();

export function hello(): Hello | undefined {
  return lastHello;
}

/** Calls `l` with each hello (the header shows read-only or who actions run as). */
export function onHello(l: (h: Hello) => void): () => void {
  helloListeners.add(l);
  if (lastHello) l(lastHello);
  return () => helloListeners.delete(l);
}

export function useStream<V extends View>(query: string): Stream<V> {
  const [state, setState] = useState<Stream<V>>({ panels: {}, connected: false });
  useEffect(() => {
    setState({ panels: {}, connected: false });
    const es = new EventSource(`/api/events?${query}`);
    es.addEventListener('hello', (e) => {
      const hello = JSON.parse((e as MessageEvent<string>).data) as Hello;
      lastHello = hello;
      for (const l of helloListeners) l(hello);
      setState((s) => ({ ...s, hello, connected: true }));
    });
    es.addEventListener('view', (e) => {
      const view = JSON.parse((e as MessageEvent<string>).data) as V;
      setState((s) => ({ ...s, view, connected: true }));
    });
    es.addEventListener('panel', (e) => {
      const p = JSON.parse((e as MessageEvent<string>).data) as PanelData;
      setState((s) => ({ ...s, panels: { ...s.panels, [p.key]: p } }));
    });
    es.onerror = () => setState((s) => ({ ...s, connected: false }));
    return () => es.close();
  }, [query]);
  return state;
}
