import { useState } from 'preact/hooks';
import { api } from '../api';
import { ConfirmButton, ErrorBox, Section, useAction, useApi } from '../ui';
import type { TabProps } from './app';

function ConfigRow({
  app,
  k,
  value,
  canChange,
  onDone,
}: {
  app: string;
  k: string;
  value: string | null;
  canChange: boolean;
  onDone: () => void;
}) {
  const [shown, setShown] = useState(false);
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState(value ?? '');
  const [run, busy, error] = useAction();
  return (
    <tr data-key={k}>
      <td>
        <code>{k}</code>
      </td>
      <td class="value">
        {editing ? (
          <form
            class="inline"
            onSubmit={(e) => {
              e.preventDefault();
              void run(() => api('PATCH', `/apps/${app}/config`, { [k]: draft })).then((ok) => {
                if (ok) {
                  setEditing(false);
                  onDone();
                }
              });
            }}
          >
            <input
              aria-label={`value of ${k}`}
              name="value"
              value={draft}
              onInput={(e) => setDraft((e.target as HTMLInputElement).value)}
              autoFocus
            />
            <button type="submit" class="primary" disabled={busy}>
              Save
            </button>
            <button type="button" onClick={() => setEditing(false)}>
              Cancel
            </button>
          </form>
        ) : value === null ? (
          <span class="muted">hidden</span>
        ) : shown ? (
          <code data-revealed>{value}</code>
        ) : (
          <span class="muted" aria-label="hidden value">
            ••••••••
          </span>
        )}
        <ErrorBox error={error} />
      </td>
      <td class="actions">
        {value !== null && !editing && (
          <button class="small" data-action={`reveal-${k}`} aria-pressed={shown} onClick={() => setShown(!shown)}>
            {shown ? 'Hide' : 'Reveal'}
          </button>
        )}
        {canChange && !editing && (
          <button
            class="small"
            data-action={`edit-${k}`}
            onClick={() => {
              setDraft(value ?? '');
              setEditing(true);
            }}
          >
            Edit
          </button>
        )}
        {canChange && !editing && (
          <ConfirmButton
            name={`unset-${k}`}
            label="Unset"
            danger
            confirm={`Unset ${k}?`}
            onConfirm={() => void run(() => api('PATCH', `/apps/${app}/config`, { [k]: null })).then(onDone)}
          />
        )}
      </td>
    </tr>
  );
}

/** Config vars: values hidden until revealed, one key at a time; set, edit and unset make a new release. */
export function ConfigTab({ app, canChange }: TabProps) {
  const { data, error, reload } = useApi<Record<string, string | null>>(`/apps/${app}/config`);
  const [key, setKey] = useState('');
  const [value, setValue] = useState('');
  const [run, busy, addError] = useAction();
  const keys = Object.keys(data ?? {}).sort();
  return (
    <Section title="Config vars">
      <ErrorBox error={error} />
      {data && keys.length === 0 && <p class="muted">No config vars.</p>}
      <table class="list config">
        <tbody>
          {keys.map((k) => (
            <ConfigRow
              key={`${k}=${data![k]}`}
              app={app}
              k={k}
              value={data![k]}
              canChange={canChange}
              onDone={reload}
            />
          ))}
        </tbody>
      </table>
      {canChange && (
        <form
          class="inline add"
          data-form="config-add"
          onSubmit={(e) => {
            e.preventDefault();
            void run(() => api('PATCH', `/apps/${app}/config`, { [key.trim()]: value })).then((ok) => {
              if (ok) {
                setKey('');
                setValue('');
                reload();
              }
            });
          }}
        >
          <input
            name="key"
            aria-label="Key"
            placeholder="KEY"
            value={key}
            pattern="[A-Za-z_][A-Za-z0-9_]*"
            required
            onInput={(e) => setKey((e.target as HTMLInputElement).value)}
          />
          <input
            name="value"
            aria-label="Value"
            placeholder="value"
            value={value}
            onInput={(e) => setValue((e.target as HTMLInputElement).value)}
          />
          <button type="submit" class="primary" disabled={busy}>
            Set
          </button>
        </form>
      )}
      <ErrorBox error={addError} />
    </Section>
  );
}
