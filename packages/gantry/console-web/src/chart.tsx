// A uPlot time-series chart: one line per series, dashed lines for thresholds (alert
// levels, limits) and markers on the time axis (deploys, rollbacks, release steps).
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import type { Marker, PanelMeta, PanelUnit } from '../../src/console/view-types.js';
import { formatValue } from './format.js';

export interface ChartSeries {
  name: string;
  points: [number, number][];
}

interface Props {
  title: string;
  /** 'none': plain numbers (a chaos probe's values). */
  unit: PanelUnit | 'none';
  series: ChartSeries[];
  thresholds?: PanelMeta['thresholds'];
  markers?: Marker[];
  /** Steps (canary weight) rather than straight lines between points. */
  stepped?: boolean;
  /** Draws up to this time (unix seconds), e.g. now for a weight that holds. */
  until?: number;
  /** The time axis (unix seconds), e.g. the query's window; default: the data's. */
  xRange?: [number, number];
  height?: number;
  /** Draw each point as a dot (sparse samples, e.g. a chaos probe's evaluations). */
  points?: boolean;
  /** Label for screen readers (the data is in the table view of the page too). */
  label: string;
}

const PALETTE = [
  '#2563eb',
  '#d97706',
  '#059669',
  '#db2777',
  '#7c3aed',
  '#0891b2',
  '#65a30d',
  '#dc2626',
];
const TRACK_COLOURS: Record<string, string> = {
  stable: '#2563eb',
  canary: '#d97706',
  p50: '#2563eb',
  p99: '#db2777',
};
const MARKER_COLOURS: Record<Marker['kind'], string> = {
  deploy: '#059669',
  rollback: '#dc2626',
  release: '#7c3aed',
  step: '#d97706',
  end: '#6b7280',
  fault: '#dc2626',
};

function align(series: ChartSeries[], until?: number): uPlot.AlignedData {
  const xs = [...new Set(series.flatMap((s) => s.points.map((p) => p[0])))].sort((a, b) => a - b);
  if (until !== undefined && xs.length > 0 && until > xs[xs.length - 1]!) xs.push(until);
  const index = new Map(xs.map((x, i) => [x, i]));
  const ys = series.map((s) => {
    const col: (number | null)[] = new Array<number | null>(xs.length).fill(null);
    for (const [t, v] of s.points) col[index.get(t)!] = v;
    return col;
  });
  if (until !== undefined) {
    // A held value (a weight) lasts until now.
    for (const col of ys) {
      const last = col.findLastIndex((v) => v !== null);
      if (last >= 0 && last < col.length - 1) col[col.length - 1] = col[last]!;
    }
  }
  return [xs, ...ys];
}

function cssVar(name: string, fallback: string): string {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

export function Chart(p: Props) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = JSON.stringify([p.series.map((s) => s.name), p.unit, p.stepped, p.points]);
  const shapeRef = useRef('');
  const extras = useRef({ thresholds: p.thresholds ?? [], markers: p.markers ?? [] });
  extras.current = { thresholds: p.thresholds ?? [], markers: p.markers ?? [] };

  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const data = align(p.series, p.until);
    if (plot.current && shapeRef.current === shape) {
      plot.current.setData(data);
      return;
    }
    plot.current?.destroy();
    shapeRef.current = shape;
    const axisColour = cssVar('--muted', '#6b7280');
    const gridColour = cssVar('--grid', 'rgba(128,128,128,0.2)');
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height: p.height ?? 180,
      legend: { show: true, live: true },
      cursor: { drag: { x: false, y: false } },
      scales: {
        x: {
          time: true,
          ...(p.xRange ? { range: (): uPlot.Range.MinMax => [p.xRange![0], p.xRange![1]] } : {}),
        },
        y: {
          range: (_u, min, max) => {
            const top = Math.max(
              max ?? 0,
              ...extras.current.thresholds.map((t) => t.value),
              p.unit === 'percentunit' ? 0.01 : 0,
            );
            return [Math.min(0, min ?? 0), top > 0 ? top * 1.1 : 1];
          },
        },
      },
      axes: [
        {
          stroke: axisColour,
          grid: { stroke: gridColour, width: 1 },
          ticks: { stroke: gridColour },
        },
        {
          stroke: axisColour,
          grid: { stroke: gridColour, width: 1 },
          ticks: { stroke: gridColour },
          size: 78,
          values: (_u, vals) => vals.map((v) => formatValue(v, p.unit)),
        },
      ],
      series: [
        {},
        ...p.series.map((s, i) => ({
          label: s.name,
          stroke: TRACK_COLOURS[s.name] ?? PALETTE[i % PALETTE.length],
          width: 2,
          spanGaps: false,
          points: p.points ? { show: true, size: 6 } : { show: false },
          value: (_u: uPlot, v: number | null) => formatValue(v, p.unit),
          ...(p.stepped ? { paths: uPlot.paths.stepped!({ align: 1 }) } : {}),
        })),
      ],
      hooks: {
        draw: [
          (u) => {
            const ctx = u.ctx;
            const { left, top, width, height } = u.bbox;
            ctx.save();
            ctx.lineWidth = Math.max(1, devicePixelRatio);
            ctx.font = `${11 * devicePixelRatio}px system-ui, sans-serif`;
            for (const t of extras.current.thresholds) {
              const y = u.valToPos(t.value, 'y', true);
              if (y < top || y > top + height) continue;
              ctx.strokeStyle = t.severity === 'critical' ? '#dc2626' : '#d97706';
              ctx.setLineDash([6 * devicePixelRatio, 4 * devicePixelRatio]);
              ctx.beginPath();
              ctx.moveTo(left, y);
              ctx.lineTo(left + width, y);
              ctx.stroke();
              ctx.fillStyle = ctx.strokeStyle;
              ctx.textAlign = 'right';
              ctx.fillText(t.label, left + width - 4 * devicePixelRatio, y - 3 * devicePixelRatio);
              ctx.textAlign = 'left';
            }
            const [x0, x1] = [u.scales.x?.min ?? 0, u.scales.x?.max ?? 0];
            let lastLabelX = -Infinity;
            for (const m of extras.current.markers) {
              if (m.t < x0 || m.t > x1) continue;
              const x = u.valToPos(m.t, 'x', true);
              ctx.strokeStyle = MARKER_COLOURS[m.kind];
              ctx.setLineDash([2 * devicePixelRatio, 3 * devicePixelRatio]);
              ctx.beginPath();
              ctx.moveTo(x, top);
              ctx.lineTo(x, top + height);
              ctx.stroke();
              if (x - lastLabelX > 70 * devicePixelRatio) {
                ctx.fillStyle = ctx.strokeStyle;
                // Near the right edge the label goes on the left of its line.
                const w = ctx.measureText(m.label).width;
                const rightOfLine = x + 3 * devicePixelRatio + w <= left + width;
                ctx.textAlign = rightOfLine ? 'left' : 'right';
                ctx.fillText(
                  m.label,
                  x + (rightOfLine ? 3 : -3) * devicePixelRatio,
                  top + 12 * devicePixelRatio,
                );
                ctx.textAlign = 'left';
                lastLabelX = x;
              }
            }
            ctx.restore();
          },
        ],
      },
    };
    plot.current = new uPlot(opts, data, el);
  });

  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const ro = new ResizeObserver(() => {
      if (plot.current)
        plot.current.setSize({ width: Math.max(200, el.clientWidth), height: p.height ?? 180 });
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, []);

  return (
    <figure class="chart" aria-label={p.label}>
      <figcaption>{p.title}</figcaption>
      <div ref={host} class="chart-canvas" />
    </figure>
  );
}
