import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, api } from './api';

/** Loads `path` and reloads it every `everyMs` while the page is visible (and on demand). */
export function useApi<T>(
  path: string | null,
  everyMs = 0,
): { data: T | undefined; error: ApiError | undefined; reload: () => void } {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<ApiError>();
  const seq = useRef(0);
  const load = useCallback(() => {
    if (!path) return;
    const n = ++seq.current;
    api<T>('GET', path).then(
      (d) => {
        if (n !== seq.current) return;
        setData(d);
        setError(undefined);
      },
      (e: ApiError) => n === seq.current && setError(e),
    );
  }, [path]);
  useEffect(() => {
    setData(undefined);
    setError(undefined);
    load();
    if (!everyMs) return;
    const t = setInterval(() => document.visibilityState === 'visible' && load(), everyMs);
    return () => clearInterval(t);
  }, [load, everyMs]);
  return { data, error, reload: load };
}

export function ErrorBox({ error }: { error?: { message: string; hint?: string } }) {
  if (!error) return null;
  return (
    <div class="error" role="alert">
      {error.message}
      {error.hint && <div class="hint">{error.hint}</div>}
    </div>
  );
}

/** Runs a change; shows its error in place. Returns [run, busy, error]. */
export function useAction(): [(fn: () => Promise<unknown>) => Promise<boolean>, boolean, ApiError | undefined] {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError>();
  const run = useCallback(async (fn: () => Promise<unknown>) => {
    setBusy(true);
    setError(undefined);
    try {
      await fn();
      return true;
    } catch (e) {
      setError(e as ApiError);
      return false;
    } finally {
      setBusy(false);
    }
  }, []);
  return [run, busy, error];
}

/** A button that asks before acting: first click arms it, the second confirms (Escape cancels). */
export function ConfirmButton(props: {
  label: string;
  confirm: string;
  onConfirm: () => void;
  disabled?: boolean;
  danger?: boolean;
  name?: string;
}) {
  const [armed, setArmed] = useState(false);
  if (!armed) {
    return (
      <button
        class={props.danger ? 'danger' : ''}
        disabled={props.disabled}
        data-action={props.name}
        onClick={() => setArmed(true)}
      >
        {props.label}
      </button>
    );
  }
  return (
    <span class="confirm" onKeyDown={(e) => e.key === 'Escape' && setArmed(false)}>
      <span>{props.confirm}</span>
      <button
        class="danger"
        autoFocus
        data-action={props.name ? `${props.name}-confirm` : undefined}
        onClick={() => {
          setArmed(false);
          props.onConfirm();
        }}
      >
        Yes
      </button>
      <button onClick={() => setArmed(false)}>Cancel</button>
    </span>
  );
}

const BLOCKS = 40;
/** A small SVG bar sparkline (apps list). */
export function Sparkline({ values, label }: { values: number[]; label: string }) {
  const cols: number[] = [];
  const group = Math.max(1, Math.ceil(values.length / BLOCKS));
  for (let i = 0; i < values.length; i += group) cols.push(Math.max(...values.slice(i, i + group)));
  const max = Math.max(1, ...cols);
  const w = 120;
  const h = 24;
  const bw = w / Math.max(1, cols.length);
  return (
    <svg class="spark" width={w} height={h} viewBox={`0 0 ${w} ${h}`} role="img" aria-label={label}>
      <rect class="base" x={0} y={h - 1} width={w} height={1} />
      {cols.map((v, i) => (
        <rect
          x={i * bw}
          y={h - Math.max(v ? 1 : 0, (v / max) * h)}
          width={Math.max(1, bw - 1)}
          height={Math.max(v ? 1 : 0, (v / max) * h)}
        />
      ))}
    </svg>
  );
}

export function ago(iso?: string | null): string {
  if (!iso) return '—';
  const s = Math.round((Date.now() - Date.parse(iso)) / 1000);
  if (s < 60) return `${Math.max(0, s)}s ago`;
  if (s < 3600) return `${Math.round(s / 60)}m ago`;
  if (s < 86400) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86400)}d ago`;
}

export function Time({ iso }: { iso?: string | null }) {
  return (
    <time dateTime={iso ?? undefined} title={iso ?? undefined}>
      {ago(iso)}
    </time>
  );
}

export function Badge({ status }: { status: string }) {
  return <span class={`badge s-${status}`}>{status}</span>;
}

export function Section({
  title,
  children,
  actions,
}: {
  title: string;
  children: ComponentChildren;
  actions?: ComponentChildren;
}) {
  return (
    <section class="card">
      <header>
        <h2>{title}</h2>
        {actions}
      </header>
      {children}
    </section>
  );
}

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  const u = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i ? 1 : 0)} ${u[i]}`;
}
