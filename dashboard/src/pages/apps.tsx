import { setQuery } from '../router';
import { Badge, ErrorBox, Sparkline, Time, useApi } from '../ui';

export interface AppSummary {
  name: string;
  role?: string;
  url: string;
  status: string;
  release: { version: number; status: string; createdAt: string; description: string } | null;
  lastBuild: { id: string; status: string; createdAt: string; finishedAt: string | null } | null;
  formation: Array<{ type: string; quantity: number }>;
  dynos: { total: number; byState: Record<string, number> };
  requests: { step: number; counts: number[]; total: number } | null;
}

/** Every app the user can see: status, release, dynos, last deploy, requests in the last hour. */
export function AppsPage({ query }: { query: URLSearchParams }) {
  const { data, error } = useApi<AppSummary[]>('/apps?summary=1', 10_000);
  const filter = (query.get('q') ?? '').toLowerCase();
  const apps = (data ?? []).filter((a) => !filter || a.name.includes(filter));
  return (
    <div class="page">
      <div class="page-head">
        <h1>Apps</h1>
        <input
          data-filter
          type="search"
          aria-label="Filter apps"
          placeholder="Filter (press /)"
          value={query.get('q') ?? ''}
          onInput={(e) => setQuery({ q: (e.target as HTMLInputElement).value })}
        />
      </div>
      <ErrorBox error={error} />
      {!data && !error && <p class="muted">Loading…</p>}
      {data && data.length === 0 && (
        <p class="muted">
          No apps yet. Create one with <code>slipway apps:create NAME</code>, then <code>git push slipway main</code>.
        </p>
      )}
      {apps.length > 0 && (
        <table class="list apps" data-ready="1">
          <thead>
            <tr>
              <th>App</th>
              <th>Status</th>
              <th>Release</th>
              <th class="hide-narrow">Dynos</th>
              <th class="hide-narrow">Last deploy</th>
              <th>Requests (1 h)</th>
            </tr>
          </thead>
          <tbody>
            {apps.map((a) => (
              <tr key={a.name} data-app={a.name}>
                <td>
                  <a href={`/apps/${a.name}`}>{a.name}</a>
                  {a.role && <span class="muted small"> {a.role}</span>}
                </td>
                <td>
                  <Badge status={a.status} />
                </td>
                <td>{a.release ? `v${a.release.version}` : '—'}</td>
                <td class="hide-narrow">
                  {a.formation
                    .filter((f) => f.quantity > 0)
                    .map((f) => `${f.type}×${f.quantity}`)
                    .join(' ') || '—'}
                  {a.dynos.total > 0 && <span class="muted small"> ({a.dynos.byState.up ?? 0} up)</span>}
                </td>
                <td class="hide-narrow">
                  <Time iso={a.release?.createdAt} />
                </td>
                <td>
                  {a.requests ? (
                    <span class="spark-cell">
                      <Sparkline values={a.requests.counts} label={`${a.requests.total} requests in the last hour`} />
                      <span class="small">{a.requests.total}</span>
                    </span>
                  ) : (
                    '—'
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
