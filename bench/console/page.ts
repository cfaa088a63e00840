// The console's fleet page in Debian's Chromium (playwright-core, launched as the console
// tests launch it), and when it is complete.
//
// "Complete" (the figure the target is about): the fleet table has the rows of all N
// services of the bench (the console also lists any other service Gantry manages in the
// cluster) and every one of them shows what the cluster holds for it: its Gantry revision (`r1`),
// `1/1` replicas ready and the healthy badge. Only then has everything the five watched
// collections hold reached the page (Deployments for the rows and readiness, release
// records for the revision, Pods for the health). A script injected before the page's own
// (addInitScript) checks this after every DOM change and notes, in the page's clock
// (performance.now(), from the navigation's start):
//   domComplete  the DOM change that made the table complete
//   complete     the next animation frame: the frame that paints it
// and, by wrapping EventSource: the first `view` event, the first one with synced=true, the
// number of view events and the size of the last. The page's own DOMContentLoaded comes
// from its navigation timing entry.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium } from 'playwright-core';
import type { Browser, BrowserContext, Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

export interface Marks {
  views: number;
  viewBytes: number;
  firstView?: number;
  syncedView?: number;
  domComplete?: number;
  complete?: number;
}

export interface PageTiming extends Marks {
  /** Epoch milliseconds of the navigation's start (performance.timeOrigin). */
  origin: number;
  /** DOMContentLoaded end, from the navigation's start. */
  dcl: number;
  complete: number;
}

/**
 * Injected into every page of a context before the page's own scripts. Plain JavaScript in a
 * string: a function handed to Playwright is sent as its source text, and the TypeScript
 * loader may have added helpers to it (esbuild's __name) that the page does not have.
 */
function instrument(n: number, prefix: string): string {
  return `(() => {
  const n = ${n};
  const prefix = ${JSON.stringify(prefix)};
  const b = { views: 0, viewBytes: 0 };
  window.__bench = b;
  const Native = window.EventSource;
  window.EventSource = class extends Native {
    constructor(url, init) {
      super(url, init);
      this.addEventListener('view', (e) => {
        b.views++;
        b.viewBytes = e.data.length;
        if (b.firstView === undefined) b.firstView = performance.now();
        if (b.syncedView === undefined && e.data.includes('"synced":true'))
          b.syncedView = performance.now();
      });
    }
  };
  const isComplete = () => {
    const rows = [...document.querySelectorAll('.table-wrap.fleet tbody tr[data-service]')]
      .filter((r) => r.dataset.service.startsWith(prefix));
    if (rows.length !== n) return false;
    for (const r of rows) {
      if (r.querySelector('td.ready')?.textContent !== '1/1') return false;
      if (!/^r[0-9]/.test(r.querySelector('td.revision')?.textContent ?? '')) return false;
      if (!r.querySelector('.health.health-ok')) return false;
    }
    return true;
  };
  const observer = new MutationObserver(() => {
    if (b.domComplete !== undefined || !isComplete()) return;
    b.domComplete = performance.now();
    observer.disconnect();
    requestAnimationFrame(() => { b.complete = performance.now(); });
  });
  observer.observe(document, { childList: true, subtree: true, characterData: true });
})();`;
}

export async function launch(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}

/**
 * A fresh browser profile (no HTTP cache) whose pages are instrumented for the N rows of
 * the services whose "namespace/name" starts with `prefix` (the console shows every service
 * Gantry manages in the cluster: other people's too).
 */
export async function fleetContext(
  browser: Browser,
  n: number,
  prefix: string,
): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
  await context.addInitScript({ content: instrument(n, prefix) });
  return context;
}

/** Opens the console's fleet page in a new tab of `context`; resolves once it is complete. */
export async function openFleet(
  context: BrowserContext,
  url: string,
  timeoutMs: number,
): Promise<{ page: Page; timing: PageTiming }> {
  const page = await context.newPage();
  return { page, timing: await loadFleet(page, url, timeoutMs) };
}

/** Navigates an open tab to the console's fleet page; resolves once it is complete. */
export async function loadFleet(page: Page, url: string, timeoutMs: number): Promise<PageTiming> {
  await page.goto(url, { waitUntil: 'commit', timeout: timeoutMs });
  // A function, not a string: the console's CSP forbids eval, which a string predicate needs.
  await page.waitForFunction(
    () => (globalThis as { __bench?: Marks }).__bench?.complete !== undefined,
    undefined,
    { timeout: timeoutMs, polling: 50 },
  );
  return timingOf(page);
}

export async function timingOf(page: Page): Promise<PageTiming> {
  const t = await page.evaluate<Marks & { origin: number; dcl: number }>(
    `({ ...window.__bench, origin: performance.timeOrigin,
        dcl: performance.getEntriesByType('navigation')[0]?.domContentLoadedEventEnd ?? NaN })`,
  );
  return { ...t, complete: t.complete ?? Number.NaN };
}

/** Rows of `prefix` on the page now, all rows, and view events received so far. */
export async function liveness(
  page: Page,
  prefix: string,
): Promise<{ rows: number; all: number; views: number }> {
  return page.evaluate<{ rows: number; all: number; views: number }>(
    `({ all: document.querySelectorAll('.table-wrap.fleet tbody tr[data-service]').length,
        rows: [...document.querySelectorAll('.table-wrap.fleet tbody tr[data-service]')]
          .filter((r) => r.dataset.service.startsWith(${JSON.stringify(prefix)})).length,
        views: window.__bench.views })`,
  );
}

/**
 * The floor of a page load: an empty HTML page from a loopback server, in a fresh profile,
 * navigation start to the end of its load event; median of `runs`.
 */
export async function emptyPageMs(browser: Browser, runs: number): Promise<number> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end('<!doctype html><html lang="en"><title>empty</title><p>empty</p></html>');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const xs: number[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(url, { waitUntil: 'load', timeout: 30_000 });
      xs.push(
        await page.evaluate<number>("performance.getEntriesByType('navigation')[0].loadEventEnd"),
      );
      await context.close();
    }
  } finally {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
  xs.sort((a, b) => a - b);
  return xs[Math.floor(xs.length / 2)]!;
}
