import { api } from '../api';
import { Badge, ConfirmButton, ErrorBox, Section, Time, useAction, useApi } from '../ui';
import type { TabProps } from './app';

export interface Release {
  version: number;
  description: string;
  status: string;
  current: boolean;
  user: string | null;
  buildId: string | null;
  createdAt: string;
}

export function ReleasesTable({
  app,
  releases,
  canChange,
  onChange,
}: {
  app: string;
  releases: Release[];
  canChange: boolean;
  onChange: () => void;
}) {
  const [run, busy, error] = useAction();
  if (releases.length === 0) return <p class="muted">No releases yet.</p>;
  return (
    <>
      <ErrorBox error={error} />
      <table class="list releases">
        <tbody>
          {releases.map((r) => (
            <tr data-release={r.version} data-current={r.current ? '1' : undefined}>
              <td>
                <strong>v{r.version}</strong>
              </td>
              <td>{r.description}</td>
              <td class="hide-narrow">{r.user ?? ''}</td>
              <td>
                <Badge status={r.current ? 'current' : r.status} />
              </td>
              <td class="hide-narrow">
                <Time iso={r.createdAt} />
              </td>
              <td>
                {canChange && !r.current && r.status === 'succeeded' && (
                  <ConfirmButton
                    name={`rollback-v${r.version}`}
                    label="Roll back"
                    confirm={`Roll back to v${r.version}?`}
                    disabled={busy}
                    onConfirm={() =>
                      void run(() => api('POST', `/apps/${app}/releases/rollback`, { version: r.version })).then(
                        onChange,
                      )
                    }
                  />
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

export function ReleasesTab({ app, canChange }: TabProps) {
  const { data, error, reload } = useApi<Release[]>(`/apps/${app}/releases`, 5000);
  return (
    <Section title="Releases">
      <ErrorBox error={error} />
      {data && <ReleasesTable app={app} releases={data} canChange={canChange} onChange={reload} />}
    </Section>
  );
}
