import { useMemo } from 'preact/hooks';
import { setQuery } from '../router';
import { Chart, type SeriesSpec } from '../chart';
import { ErrorBox, Section, bytes, useApi } from '../ui';
import type { TabProps } from './app';
import type { MetricsAnswer } from '../../../common/metrics-answer';

const RANGES = ['1h', '24h', '7d'];
const PALETTE = ['#2f9e44', '#1c7ed6', '#f08c00', '#e03131', '#9c36b5', '#0ca678', '#e8590c'];
const ms = (v: number) => `${v} ms`;
const pct = (v: number) => `${Math.round(v * 10) / 10}%`;

/** Requests by status class, latency percentiles, memory and CPU per process type, over 1 h / 24 h / 7 d. */
export function MetricsTab({ app, query }: TabProps) {
  const range = RANGES.includes(query.get('range') ?? '') ? query.get('range')! : '1h';
  const { data, error } = useApi<MetricsAnswer>(
    `/apps/${app}/metrics?since=${range}`,
    range === '1h' ? 15_000 : 60_000,
  );
  const charts = useMemo(() => {
    if (!data) return null;
    const status: SeriesSpec[] = [
      { label: '2xx', color: PALETTE[0], values: data.s2xx, fill: true },
      { label: '3xx', color: PALETTE[1], values: data.s3xx },
      { label: '4xx', color: PALETTE[2], values: data.s4xx },
      { label: '5xx', color: PALETTE[3], values: data.s5xx },
    ];
    const latency: SeriesSpec[] = [
      { label: 'p50', color: PALETTE[0], values: data.p50 },
      { label: 'p95', color: PALETTE[2], values: data.p95 },
      { label: 'p99', color: PALETTE[3], values: data.p99 },
    ];
    const types = Object.keys(data.dynos).sort();
    const memory: SeriesSpec[] = types.map((t, i) => ({
      label: t,
      color: PALETTE[(i + 4) % PALETTE.length],
      values: data.dynos[t].memory.map((v) => (v === null ? null : Math.round(v / 1048576))),
    }));
    const cpu: SeriesSpec[] = types.map((t, i) => ({
      label: t,
      color: PALETTE[(i + 4) % PALETTE.length],
      values: data.dynos[t].cpu,
    }));
    return { status, latency, memory, cpu };
  }, [data]);
  const s = data?.summary;
  return (
    <Section
      title="Metrics"
      actions={
        <div class="seg" role="group" aria-label="Range">
          {RANGES.map((r) => (
            <button
              aria-pressed={r === range}
              data-range={r}
              onClick={() => setQuery({ range: r === '1h' ? null : r })}
            >
              {r}
            </button>
          ))}
        </div>
      }
    >
      <ErrorBox error={error} />
      {s && (
        <p class="summary" data-summary-requests={s.requests}>
          <strong>{s.requests}</strong> requests (2xx {s.s2xx}, 3xx {s.s3xx}, 4xx {s.s4xx}, 5xx {s.s5xx}
          {Object.keys(data!.hcodes).length > 0 &&
            `; router errors ${Object.entries(data!.hcodes)
              .map(([k, n]) => `${k}×${n}`)
              .join(' ')}`}
          ) · p50 {s.p50 ?? '—'} ms · p95 {s.p95 ?? '—'} ms · p99 {s.p99 ?? '—'} ms · {bytes(s.bytes)} sent ·{' '}
          {data!.step / 60} min per point
        </p>
      )}
      {charts && data && (
        <div class="charts">
          <Chart name="requests" title="Requests by status class (per point)" time={data.time} series={charts.status} />
          <Chart name="latency" title="Latency percentiles" time={data.time} series={charts.latency} unit={ms} />
          <Chart name="memory" title="Memory per dyno, by process type (MB)" time={data.time} series={charts.memory} />
          <Chart
            name="cpu"
            title="CPU per dyno, by process type (% of a core)"
            time={data.time}
            series={charts.cpu}
            unit={pct}
          />
        </div>
      )}
    </Section>
  );
}
