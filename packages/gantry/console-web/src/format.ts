// Numbers and times as people read them.
import type { PanelUnit } from '../../src/console/view-types.js';

export function formatValue(v: number | null | undefined, unit: PanelUnit | 'none'): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  switch (unit) {
    case 'none':
      return trim(v);
    case 'percentunit':
      return `${trim(v * 100)}%`;
    case 's':
      return v < 1 ? `${trim(v * 1000)} ms` : `${trim(v)} s`;
    case 'reqps':
      return `${trim(v)}/s`;
    case 'cores':
      return v < 1 ? `${trim(v * 1000)}m` : `${trim(v)}`;
    case 'bytes': {
      const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
      let i = 0;
      while (Math.abs(v) >= 1024 && i < units.length - 1) {
        v /= 1024;
        i++;
      }
      return `${trim(v)} ${units[i]}`;
    }
  }
}

function trim(v: number): string {
  const a = Math.abs(v);
  return String(Number(v.toFixed(a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3)));
}

export function ago(iso: string | number | undefined, now = Date.now()): string {
  if (iso === undefined) return '';
  const t = typeof iso === 'number' ? iso : Date.parse(iso);
  if (!Number.isFinite(t)) return '';
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

export function clock(iso: string | number | undefined): string {
  if (iso === undefined) return '';
  const d = new Date(typeof iso === 'number' ? iso : Date.parse(iso));
  return Number.isFinite(d.getTime()) ? d.toLocaleString() : '';
}

/** The image without its registry: "repo@sha256:abcdef12" or "repo:tag". */
export function shortImage(image: string): string {
  const noRegistry = image.replace(/^[^/]+\.[^/]+\//, '').replace(/^[^/]+:\d+\//, '');
  return noRegistry.replace(/@sha256:([0-9a-f]{12})[0-9a-f]+$/, '@$1');
}
