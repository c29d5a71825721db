import { useEffect, useState } from 'preact/hooks';
import { api, type ApiError, type Session } from '../api';
import { ErrorBox } from '../ui';

/**
 * Sign-in: a one-time link from `slipway dashboard` (/login#code=...; the code never reaches a
 * server log or a Referer) is exchanged at once; otherwise the form takes an API token.
 */
export function LoginPage({
  onSignedIn,
  signedIn,
}: {
  onSignedIn: (s: Session) => void;
  signedIn: Session | null | undefined;
}) {
  const [error, setError] = useState<ApiError>();
  const [busy, setBusy] = useState(false);
  const [token, setToken] = useState('');
  const signIn = async (body: { code?: string; token?: string }) => {
    setBusy(true);
    setError(undefined);
    try {
      onSignedIn(await api<Session>('POST', '/session', body));
    } catch (e) {
      setError(e as ApiError);
    } finally {
      setBusy(false);
    }
  };
  useEffect(() => {
    const code = new URLSearchParams(location.hash.slice(1)).get('code');
    if (code) {
      history.replaceState(null, '', location.pathname + location.search); // the code is used up: out of the URL and history
      void signIn({ code });
    } else if (signedIn) onSignedIn(signedIn);
  }, []);
  return (
    <main class="login">
      <form
        class="card"
        onSubmit={(e) => {
          e.preventDefault();
          void signIn({ token: token.trim() });
        }}
      >
        <h1>Slipway</h1>
        <p>
          Run <code>slipway dashboard</code> for a one-time sign-in link, or sign in with an API token.
        </p>
        <label>
          API token
          <input
            name="token"
            type="password"
            autoComplete="off"
            placeholder="slw_…"
            value={token}
            onInput={(e) => setToken((e.target as HTMLInputElement).value)}
            required
          />
        </label>
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        <ErrorBox error={error} />
      </form>
    </main>
  );
}
