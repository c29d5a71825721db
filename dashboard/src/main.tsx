import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, setCsrf, whenSignedOut, type Session } from './api';
import { interceptLinks, navigate, useLocation } from './router';
import { LoginPage } from './pages/login';
import { AppsPage } from './pages/apps';
import { AppPage } from './pages/app';
import { AdminPage } from './pages/admin';
import './style.css';

type Theme = 'auto' | 'light' | 'dark';

function applyTheme(t: Theme): void {
  document.documentElement.dataset.theme = t;
  try {
    localStorage.setItem('slipway-theme', t);
  } catch {
    // private mode: the choice lasts for this page
  }
}

function Shell({ session, onSignOut }: { session: Session; onSignOut: () => void }) {
  const loc = useLocation();
  const [theme, setTheme] = useState<Theme>(() => (document.documentElement.dataset.theme as Theme) || 'auto');
  const [help, setHelp] = useState(false);
  useEffect(() => {
    // Keyboard: g a (apps), g s (admin), / (filter), ? (help), Escape (close help).
    let g = false;
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement;
      if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || t.isContentEditable))
        return;
      if (e.metaKey || e.ctrlKey || e.altKey) return;
      if (g) {
        g = false;
        if (e.key === 'a') navigate('/');
        if (e.key === 's' && session.admin) navigate('/admin');
        return;
      }
      if (e.key === 'g') g = true;
      else if (e.key === '?') setHelp((h) => !h);
      else if (e.key === 'Escape') setHelp(false);
      else if (e.key === '/') {
        const f = document.querySelector<HTMLInputElement>('input[data-filter]');
        if (f) {
          e.preventDefault();
          f.focus();
        }
      }
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  }, [session.admin]);

  const parts = loc.path.split('/').filter(Boolean);
  let page;
  if (parts[0] === 'apps' && parts[1])
    page = <AppPage name={parts[1]} tab={parts[2] ?? 'overview'} query={loc.query} session={session} />;
  else if (parts[0] === 'admin') page = <AdminPage tab={parts[1] ?? 'health'} session={session} />;
  else page = <AppsPage query={loc.query} />;

  const cycle = () => {
    const next: Theme = theme === 'auto' ? 'dark' : theme === 'dark' ? 'light' : 'auto';
    setTheme(next);
    applyTheme(next);
  };
  return (
    <div class="shell">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <nav class="top" aria-label="Main">
        <a class="brand" href="/">
          Slipway
        </a>
        <a href="/" aria-current={parts[0] !== 'admin' ? 'page' : undefined}>
          Apps
        </a>
        {session.admin && (
          <a href="/admin" aria-current={parts[0] === 'admin' ? 'page' : undefined}>
            Admin
          </a>
        )}
        <span class="grow" />
        <button class="ghost" onClick={cycle} title="Colour scheme" aria-label={`Colour scheme: ${theme}`}>
          {theme === 'dark' ? '☾' : theme === 'light' ? '☀' : '◐'}
        </button>
        <span class="who" title={session.admin ? 'admin' : 'user'}>
          {session.email}
        </span>
        <button class="ghost" data-action="logout" onClick={onSignOut}>
          Sign out
        </button>
      </nav>
      {help && (
        <div class="help card" role="dialog" aria-label="Keyboard shortcuts">
          <strong>Keyboard</strong>
          <ul>
            <li>
              <kbd>g</kbd> <kbd>a</kbd> apps
            </li>
            {session.admin && (
              <li>
                <kbd>g</kbd> <kbd>s</kbd> admin
              </li>
            )}
            <li>
              <kbd>/</kbd> filter
            </li>
            <li>
              <kbd>1</kbd>…<kbd>8</kbd> app tabs
            </li>
            <li>
              <kbd>?</kbd> this help, <kbd>Esc</kbd> close
            </li>
          </ul>
        </div>
      )}
      <main id="main">{page}</main>
    </div>
  );
}

function Root() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const loc = useLocation();
  useEffect(() => {
    whenSignedOut(() => setSession(null));
    api<Session>('GET', '/session').then(
      (s) => {
        setCsrf(s.csrfToken);
        setSession(s);
      },
      () => setSession(null),
    );
  }, []);
  useEffect(() => {
    if (session === null && loc.path !== '/login')
      navigate(`/login${loc.path !== '/' ? `?next=${encodeURIComponent(loc.path + location.search)}` : ''}`, {
        replace: true,
      });
  }, [session, loc.path]);
  if (session === undefined) return <div class="loading">Loading…</div>;
  if (session === null || loc.path === '/login') {
    return (
      <LoginPage
        signedIn={session}
        onSignedIn={(s) => {
          setCsrf(s.csrfToken);
          setSession(s);
          const next = new URLSearchParams(location.search).get('next');
          navigate(next && next.startsWith('/') && !next.startsWith('//') ? next : '/', { replace: true });
        }}
      />
    );
  }
  return (
    <Shell
      session={session}
      onSignOut={() => {
        void api('DELETE', '/session').finally(() => {
          setSession(null);
          navigate('/login');
        });
      }}
    />
  );
}

applyTheme(
  ((): Theme => {
    try {
      return (localStorage.getItem('slipway-theme') as Theme) || 'auto';
    } catch {
      return 'auto';
    }
  })(),
);
interceptLinks();
render(<Root />, document.getElementById('root')!);
