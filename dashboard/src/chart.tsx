import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface SeriesSpec {
  label: string;
  color: string;
  values: Array<number | null>;
  fill?: boolean;
}

/** A time-series plot (uPlot): x is unix seconds; resizes with its container. */
export function Chart({
  title,
  time,
  series,
  unit,
  name,
}: {
  title: string;
  time: number[];
  series: SeriesSpec[];
  unit?: (v: number) => string;
  name: string;
}) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const width = Math.max(240, el.clientWidth);
    const fmt = unit ?? ((v: number) => String(v));
    const opts: uPlot.Options = {
      width,
      height: 180,
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true } },
      axes: [
        {
          stroke: 'currentColor',
          grid: { stroke: 'rgba(128,128,128,0.15)' },
          ticks: { stroke: 'rgba(128,128,128,0.3)' },
        },
        {
          stroke: 'currentColor',
          grid: { stroke: 'rgba(128,128,128,0.15)' },
          ticks: { stroke: 'rgba(128,128,128,0.3)' },
          size: 60,
          values: (_u, vals) => vals.map((v) => fmt(v)),
        },
      ],
      series: [
        {},
        ...series.map((s) => {
          // Isolated points (a dyno that just started, a quiet app) have no line to draw: show them as dots.
          const known = s.values.filter((v) => v !== null).length;
          const sparse = known > 0 && known < Math.max(3, s.values.length / 5);
          return {
            label: s.label,
            stroke: s.color,
            width: 1.5,
            fill: s.fill ? `${s.color}33` : undefined,
            spanGaps: false,
            points: { show: sparse, size: 6, fill: s.color },
            value: (_u: uPlot, v: number | null) => (v === null ? '—' : fmt(v)),
          };
        }),
      ],
    };
    const data = [time, ...series.map((s) => s.values)] as uPlot.AlignedData;
    plot.current?.destroy();
    plot.current = new uPlot(opts, data, el);
    const ro = new ResizeObserver(() => plot.current?.setSize({ width: Math.max(240, el.clientWidth), height: 180 }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, [time, series]);
  const total = series.map((s) => `${s.label} ${s.values.reduce<number>((a, v) => a + (v ?? 0), 0)}`).join(', ');
  return (
    <figure class="chart" data-chart={name}>
      <figcaption>{title}</figcaption>
      <div ref={box} role="img" aria-label={`${title}: ${total}`} />
    </figure>
  );
}
