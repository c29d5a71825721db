import { useEffect } from 'preact/hooks';
import type { Session } from '../api';
import { navigate } from '../router';
import { Badge, ErrorBox, useApi } from '../ui';
import { Overview } from './app-overview';
import { ReleasesTab } from './app-releases';
import { ConfigTab } from './app-config';
import { DomainsTab } from './app-domains';
import { LogsTab } from './app-logs';
import { BuildsTab } from './app-builds';
import { MetricsTab } from './app-metrics';
import { ActivityTab } from './app-activity';

export interface AppInfo {
  name: string;
  url: string;
  gitUrl: string;
  role?: string;
  maintenance: boolean;
  release: { version: number; description: string; createdAt: string } | null;
  formation: Array<{ type: string; quantity: number; size: string }>;
  collaborators: Array<{ email: string; role: string }>;
}

export interface TabProps {
  app: string;
  info: AppInfo;
  /** The user may change the app (owner, collaborator, admin); viewers see no edit controls. */
  canChange: boolean;
  query: URLSearchParams;
}

const TABS: Array<[string, string]> = [
  ['overview', 'Overview'],
  ['releases', 'Releases'],
  ['config', 'Config'],
  ['domains', 'Domains'],
  ['logs', 'Logs'],
  ['builds', 'Builds'],
  ['metrics', 'Metrics'],
  ['activity', 'Activity'],
];

export function AppPage({
  name,
  tab,
  query,
  session,
}: {
  name: string;
  tab: string;
  query: URLSearchParams;
  session: Session;
}) {
  const { data: info, error } = useApi<AppInfo>(`/apps/${name}`, 5000);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement;
      if (
        (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT')) ||
        e.metaKey ||
        e.ctrlKey ||
        e.altKey
      )
        return;
      const i = Number(e.key) - 1;
      if (i >= 0 && i < TABS.length) navigate(`/apps/${name}/${TABS[i][0]}`);
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  }, [name]);
  if (error && !info)
    return (
      <div class="page">
        <h1>{name}</h1>
        <ErrorBox error={error} />
      </div>
    );
  if (!info)
    return (
      <div class="page">
        <h1>{name}</h1>
        <p class="muted">Loading…</p>
      </div>
    );
  const role = info.role ?? (session.admin ? 'admin' : undefined);
  const canChange = session.admin || role === 'owner' || role === 'collaborator';
  const props: TabProps = { app: name, info, canChange, query };
  return (
    <div class="page" data-app-page={name} data-role={role ?? ''}>
      <div class="page-head">
        <h1>
          {name} {info.maintenance && <Badge status="maintenance" />}
        </h1>
        <a href={info.url} target="_blank" rel="noopener noreferrer" class="small">
          {info.url}
        </a>
        <span class="muted small">
          {info.release ? `v${info.release.version}` : 'not deployed'} · {role ?? 'viewer'}
        </span>
      </div>
      <nav class="tabs" aria-label="App">
        {TABS.map(([id, label], i) => (
          <a href={`/apps/${name}/${id}`} aria-current={tab === id ? 'page' : undefined} title={`${label} (${i + 1})`}>
            {label}
          </a>
        ))}
      </nav>
      {tab === 'overview' && <Overview {...props} />}
      {tab === 'releases' && <ReleasesTab {...props} />}
      {tab === 'config' && <ConfigTab {...props} />}
      {tab === 'domains' && <DomainsTab {...props} />}
      {tab === 'logs' && <LogsTab {...props} />}
      {tab === 'builds' && <BuildsTab {...props} />}
      {tab === 'metrics' && <MetricsTab {...props} />}
      {tab === 'activity' && <ActivityTab {...props} />}
    </div>
  );
}
