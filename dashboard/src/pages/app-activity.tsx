import { ErrorBox, Section, Time, useApi } from '../ui';
import type { TabProps } from './app';

interface Event {
  id: number;
  actor: string;
  action: string;
  message: string;
  createdAt: string;
}

/** The app's audit trail (`slipway events`), newest first. */
export function ActivityTab({ app }: TabProps) {
  const { data, error } = useApi<Event[]>(`/apps/${app}/events?limit=200`, 10_000);
  const list = [...(data ?? [])].sort((a, b) => b.id - a.id);
  return (
    <Section title="Activity">
      <ErrorBox error={error} />
      {data && list.length === 0 && <p class="muted">Nothing yet.</p>}
      <table class="list events">
        <tbody>
          {list.map((e) => (
            <tr data-event={e.id}>
              <td class="small">
                <Time iso={e.createdAt} />
              </td>
              <td>{e.message}</td>
              <td class="muted small hide-narrow">{e.actor}</td>
              <td class="muted small hide-narrow">{e.action}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Section>
  );
}
