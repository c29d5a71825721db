import { useEffect, useRef, useState } from 'preact/hooks';
import { follow, type ApiError } from '../api';
import { setQuery } from '../router';
import { ErrorBox, Section } from '../ui';
import type { TabProps } from './app';

interface Entry {
  time: string;
  source: string;
  dyno: string;
  line: string;
}

const MAX = 1000;
const SOURCES = ['', 'app', 'router', 'build', 'api', 'platform'];

/** Live logs (GET /logs?tail=1&format=json, the `slipway logs -t` stream) with source and dyno filters in the URL. */
export function LogsTab({ app, info, query }: TabProps) {
  const source = query.get('source') ?? '';
  const dyno = query.get('dyno') ?? '';
  const [lines, setLines] = useState<Entry[]>([]);
  const [error, setError] = useState<ApiError>();
  const [paused, setPaused] = useState(false);
  const box = useRef<HTMLPreElement>(null);
  const pausedRef = useRef(paused);
  pausedRef.current = paused;
  useEffect(() => {
    setLines([]);
    setError(undefined);
    const ac = new AbortController();
    const qs = new URLSearchParams({ tail: '1', format: 'json', lines: '200' });
    if (source) qs.set('source', source);
    if (dyno) qs.set('dyno', dyno);
    let batch: Entry[] = [];
    let scheduled = false;
    const push = () => {
      scheduled = false;
      const add = batch;
      batch = [];
      setLines((old) => [...old, ...add].slice(-MAX));
    };
    follow(
      `/apps/${app}/logs?${qs}`,
      (l) => {
        if (!l) return;
        try {
          const e = JSON.parse(l) as Entry & { heartbeat?: unknown };
          if (e.heartbeat !== undefined || pausedRef.current) return;
          batch.push(e);
          if (!scheduled) {
            scheduled = true;
            requestAnimationFrame(push);
          }
        } catch {
          // not a log entry
        }
      },
      ac.signal,
    ).catch((e: ApiError) => e.name !== 'AbortError' && setError(e));
    return () => ac.abort();
  }, [app, source, dyno]);
  useEffect(() => {
    const el = box.current;
    if (el && el.scrollHeight - el.scrollTop - el.clientHeight < 80) el.scrollTop = el.scrollHeight;
  }, [lines]);
  const types = info.formation.map((f) => f.type);
  return (
    <Section
      title="Logs"
      actions={
        <div class="filters">
          <label>
            Source{' '}
            <select
              name="source"
              value={source}
              onChange={(e) => setQuery({ source: (e.target as HTMLSelectElement).value })}
            >
              {SOURCES.map((s) => (
                <option value={s}>{s || 'all'}</option>
              ))}
            </select>
          </label>
          <label>
            Dyno{' '}
            <input
              name="dyno"
              list="dynos"
              size={8}
              placeholder="all"
              value={dyno}
              onChange={(e) => setQuery({ dyno: (e.target as HTMLInputElement).value.trim() })}
            />
            <datalist id="dynos">
              {types.map((t) => (
                <option value={t} />
              ))}
            </datalist>
          </label>
          <button class="small" aria-pressed={paused} onClick={() => setPaused(!paused)}>
            {paused ? 'Resume' : 'Pause'}
          </button>
        </div>
      }
    >
      <ErrorBox error={error} />
      <pre class="log" ref={box} data-log tabIndex={0} aria-live="off" aria-label="Log lines">
        {lines.map((e) => (
          <div class={`l-${e.source}`}>
            <span class="muted">{e.time.slice(11, 23)} </span>
            <span class="src">
              {e.source === 'app' || e.source === 'build' || e.source === 'api' ? 'app' : 'slipway'}[{e.dyno}]:{' '}
            </span>
            {e.line}
          </div>
        ))}
      </pre>
    </Section>
  );
}
