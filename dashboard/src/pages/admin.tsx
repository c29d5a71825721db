import { useState } from 'preact/hooks';
import { api, type Session } from '../api';
import { Badge, ConfirmButton, ErrorBox, Section, Time, bytes, useAction, useApi } from '../ui';

interface Status {
  version: string;
  server: { status: string; version: string; pid: number; node: string; uptimeS: number };
  router: { status: string; url?: string; error?: string };
  docker: { status: string; version?: string; error?: string };
  domain: string;
  home?: string;
  disk: Record<string, number>;
  apps: Array<{
    name: string;
    dynos?: number;
    dynosUp?: number;
    imageBytes?: number;
    cacheBytes?: number;
    repoBytes?: number;
    error?: string;
  }>;
  certificates: { expiring: Array<{ app: string | null; hosts: string[]; expiresAt: string; reason: string }> };
}
interface Token {
  id: number;
  description: string;
  prefix: string;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
  current?: boolean;
}
interface User {
  email: string;
  admin: boolean;
  createdAt: string;
}
interface Stack {
  name: string;
  default: boolean;
  version: string | null;
  runDigest: string | null;
  versions: string[];
  apps: string[];
}

const TABS: Array<[string, string]> = [
  ['health', 'Health'],
  ['disk', 'Disk'],
  ['users', 'Users & tokens'],
  ['stacks', 'Stacks'],
];

function Health() {
  const { data, error } = useApi<Status>('/status', 15_000);
  return (
    <Section title="Platform health">
      <ErrorBox error={error} />
      {data && (
        <table class="list" data-health>
          <tbody>
            <tr>
              <td>Server</td>
              <td>
                <Badge status={data.server.status} />
              </td>
              <td>
                {data.server.version} · Node {data.server.node} · up {Math.round(data.server.uptimeS / 60)} min
              </td>
            </tr>
            <tr>
              <td>Router</td>
              <td>
                <Badge status={data.router.status} />
              </td>
              <td>{data.router.error ?? data.router.url ?? ''}</td>
            </tr>
            <tr>
              <td>Docker</td>
              <td>
                <Badge status={data.docker.status} />
              </td>
              <td>{data.docker.error ?? data.docker.version ?? ''}</td>
            </tr>
            <tr>
              <td>Domain</td>
              <td />
              <td>
                {data.domain}
                {data.home && ` · home ${data.home}`}
              </td>
            </tr>
            <tr>
              <td>Certificates</td>
              <td />
              <td>
                {data.certificates.expiring.length
                  ? data.certificates.expiring.map((c) => `${c.hosts.join(', ')} (${c.reason})`).join('; ')
                  : 'none expiring'}
              </td>
            </tr>
          </tbody>
        </table>
      )}
    </Section>
  );
}

function Disk() {
  const { data, error } = useApi<Status>('/status');
  return (
    <Section title="Disk use">
      <ErrorBox error={error} />
      {data && (
        <>
          <table class="list" data-disk>
            <tbody>
              {Object.entries(data.disk).map(([k, v]) => (
                <tr>
                  <td>{k}</td>
                  <td>{bytes(v)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <h3>By app</h3>
          <table class="list">
            <thead>
              <tr>
                <th>App</th>
                <th>Images</th>
                <th>Cache</th>
                <th>Repository</th>
                <th>Dynos</th>
              </tr>
            </thead>
            <tbody>
              {data.apps.map((a) => (
                <tr>
                  <td>
                    <a href={`/apps/${a.name}`}>{a.name}</a>
                  </td>
                  <td>{bytes(a.imageBytes)}</td>
                  <td>{bytes(a.cacheBytes)}</td>
                  <td>{bytes(a.repoBytes)}</td>
                  <td>
                    {a.dynosUp ?? 0}/{a.dynos ?? 0}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </Section>
  );
}

function Users({ session }: { session: Session }) {
  const users = useApi<User[]>(session.admin ? '/users' : null);
  const tokens = useApi<Token[]>('/tokens');
  const [email, setEmail] = useState('');
  const [admin, setAdmin] = useState(false);
  const [desc, setDesc] = useState('');
  const [secret, setSecret] = useState<string | null>(null);
  const [run, busy, error] = useAction();
  return (
    <div class="grid">
      {session.admin && (
        <Section title="Users">
          <ErrorBox error={users.error ?? error} />
          <table class="list" data-users>
            <tbody>
              {(users.data ?? []).map((u) => (
                <tr>
                  <td>{u.email}</td>
                  <td>{u.admin ? <Badge status="admin" /> : ''}</td>
                  <td class="small">
                    <Time iso={u.createdAt} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <form
            class="inline add"
            onSubmit={(e) => {
              e.preventDefault();
              void run(async () => {
                const r = await api<{ token: string }>('POST', '/users', { email: email.trim(), admin });
                setSecret(r.token);
                setEmail('');
                users.reload();
              });
            }}
          >
            <input
              type="email"
              aria-label="Email"
              placeholder="ana@example.com"
              value={email}
              required
              onInput={(e) => setEmail((e.target as HTMLInputElement).value)}
            />
            <label class="small">
              <input
                type="checkbox"
                checked={admin}
                onChange={(e) => setAdmin((e.target as HTMLInputElement).checked)}
              />{' '}
              admin
            </label>
            <button class="primary" type="submit" disabled={busy}>
              Add user
            </button>
          </form>
        </Section>
      )}
      <Section title="Your API tokens">
        <ErrorBox error={tokens.error} />
        {secret && (
          <p class="notice" role="status">
            New token (shown once): <code data-new-token>{secret}</code>
          </p>
        )}
        <table class="list" data-tokens>
          <tbody>
            {(tokens.data ?? []).map((t) => (
              <tr>
                <td>
                  <code>{t.prefix}…</code>
                </td>
                <td>{t.description}</td>
                <td class="small">
                  used <Time iso={t.lastUsedAt} />
                </td>
                <td>
                  {t.revokedAt ? (
                    <Badge status="revoked" />
                  ) : t.current ? (
                    <Badge status="this session" />
                  ) : (
                    <ConfirmButton
                      label="Revoke"
                      danger
                      confirm="Revoke this token?"
                      onConfirm={() => void run(() => api('DELETE', `/tokens/${t.id}`)).then(tokens.reload)}
                    />
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        <form
          class="inline add"
          onSubmit={(e) => {
            e.preventDefault();
            void run(async () => {
              const r = await api<{ token: string }>('POST', '/tokens', { description: desc });
              setSecret(r.token);
              setDesc('');
              tokens.reload();
            });
          }}
        >
          <input
            aria-label="Description"
            placeholder="description (CI, laptop…)"
            value={desc}
            onInput={(e) => setDesc((e.target as HTMLInputElement).value)}
          />
          <button class="primary" type="submit" disabled={busy}>
            New token
          </button>
        </form>
      </Section>
    </div>
  );
}

function Stacks({ session }: { session: Session }) {
  const { data, error, reload } = useApi<Stack[]>('/stacks');
  const [run, busy, runError] = useAction();
  return (
    <Section
      title="Stacks"
      actions={
        session.admin && (
          <ConfirmButton
            label={busy ? 'Updating…' : 'Update stacks'}
            disabled={busy}
            confirm="Rebuild the stack images with fresh security updates?"
            onConfirm={() => void run(() => api('POST', '/stacks/update')).then(reload)}
          />
        )
      }
    >
      <ErrorBox error={error ?? runError} />
      <table class="list" data-stacks>
        <thead>
          <tr>
            <th>Stack</th>
            <th>Version</th>
            <th>Apps</th>
          </tr>
        </thead>
        <tbody>
          {(data ?? []).map((s) => (
            <tr>
              <td>
                {s.name}
                {s.default && <span class="muted small"> default</span>}
              </td>
              <td>
                <code>{s.version ?? '—'}</code>
              </td>
              <td>{s.apps.join(', ') || '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Section>
  );
}

/** Admin pages: platform health, disk use, users and tokens, stacks. Tokens are every user's own. */
export function AdminPage({ tab, session }: { tab: string; session: Session }) {
  return (
    <div class="page">
      <div class="page-head">
        <h1>Admin</h1>
      </div>
      <nav class="tabs" aria-label="Admin">
        {TABS.map(([id, label]) => (
          <a href={`/admin/${id}`} aria-current={tab === id ? 'page' : undefined}>
            {label}
          </a>
        ))}
      </nav>
      {tab === 'health' && <Health />}
      {tab === 'disk' && <Disk />}
      {tab === 'users' && <Users session={session} />}
      {tab === 'stacks' && <Stacks session={session} />}
    </div>
  );
}
