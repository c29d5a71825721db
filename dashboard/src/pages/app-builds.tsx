import { useEffect, useRef, useState } from 'preact/hooks';
import { api, follow, type ApiError } from '../api';
import { setQuery } from '../router';
import { Badge, ConfirmButton, ErrorBox, Section, Time, useAction, useApi } from '../ui';
import type { TabProps } from './app';

export interface Build {
  id: string;
  status: string;
  sourceVersion: string | null;
  user: string | null;
  release: number | null;
  error: string | null;
  createdAt: string;
  finishedAt: string | null;
}

// Buildpack output is untrusted text: rendered as text (never HTML), with terminal escapes removed.
const ESCAPES = /\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|[\x00-\x08\x0b-\x1f\x7f]/g;

/** A build's output; follows it live while it runs (GET /builds/:id/output streams until the build ends). */
export function BuildOutput({ app, id }: { app: string; id: string }) {
  const [text, setText] = useState<string[]>([]);
  const [error, setError] = useState<ApiError>();
  const box = useRef<HTMLPreElement>(null);
  useEffect(() => {
    setText([]);
    const ac = new AbortController();
    follow(
      `/apps/${app}/builds/${id}/output`,
      (l) => setText((t) => [...t, l.replace(ESCAPES, '')].slice(-3000)),
      ac.signal,
    ).catch((e: ApiError) => e.name !== 'AbortError' && setError(e));
    return () => ac.abort();
  }, [app, id]);
  useEffect(() => {
    const el = box.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [text]);
  return (
    <>
      <ErrorBox error={error} />
      <pre class="log build" ref={box} data-build-output={id} tabIndex={0}>
        {text.join('\n')}
      </pre>
    </>
  );
}

export function BuildsTab({ app, canChange, query }: TabProps) {
  const { data, error, reload } = useApi<Build[]>(`/apps/${app}/builds?limit=50`, 3000);
  const [run, , cancelError] = useAction();
  const selected = query.get('build') ?? data?.[0]?.id ?? null;
  return (
    <div class="grid wide">
      <Section title="Builds">
        <ErrorBox error={error ?? cancelError} />
        {data && data.length === 0 && <p class="muted">No builds yet.</p>}
        <table class="list builds">
          <tbody>
            {(data ?? []).map((b) => (
              <tr data-build={b.id} aria-selected={b.id === selected}>
                <td>
                  <a
                    href={`/apps/${app}/builds?build=${b.id}`}
                    onClick={(e) => {
                      e.preventDefault();
                      setQuery({ build: b.id });
                    }}
                  >
                    {b.id.slice(0, 12)}
                  </a>
                </td>
                <td>
                  <Badge status={b.status} />
                </td>
                <td class="hide-narrow">
                  <code>{b.sourceVersion?.slice(0, 7)}</code>
                </td>
                <td>{b.release ? `v${b.release}` : ''}</td>
                <td class="hide-narrow">
                  <Time iso={b.createdAt} />
                </td>
                <td>
                  {canChange && (b.status === 'running' || b.status === 'pending') && (
                    <ConfirmButton
                      name={`cancel-${b.id}`}
                      label="Cancel"
                      danger
                      confirm="Cancel this build?"
                      onConfirm={() => void run(() => api('POST', `/apps/${app}/builds/${b.id}/cancel`)).then(reload)}
                    />
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
      {selected && (
        <Section title={`Output of ${selected.slice(0, 12)}`}>
          <BuildOutput app={app} id={selected} />
        </Section>
      )}
    </div>
  );
}
