import { useState } from 'preact/hooks';
import { api } from '../api';
import { ConfirmButton, ErrorBox, Section, Time, useAction, useApi } from '../ui';
import type { TabProps } from './app';

interface Domain {
  hostname: string;
  kind: string;
}
interface Cert {
  id: number;
  hostnames: string[];
  expiresAt: string;
  source?: string;
}

/** Domains (add, remove) and certificates (upload PEM, remove); automatic certificates show their source. */
export function DomainsTab({ app, canChange }: TabProps) {
  const domains = useApi<Domain[]>(`/apps/${app}/domains`);
  const certs = useApi<Cert[]>(`/apps/${app}/certs`);
  const [host, setHost] = useState('');
  const [pem, setPem] = useState({ certificate: '', privateKey: '' });
  const [run, busy, error] = useAction();
  return (
    <div class="grid">
      <Section title="Domains">
        <ErrorBox error={domains.error ?? error} />
        <table class="list">
          <tbody>
            {(domains.data ?? []).map((d) => (
              <tr data-domain={d.hostname}>
                <td>{d.hostname}</td>
                <td class="muted small">{d.kind}</td>
                <td>
                  {canChange && d.kind !== 'platform' && (
                    <ConfirmButton
                      name={`remove-${d.hostname}`}
                      label="Remove"
                      danger
                      confirm={`Remove ${d.hostname}?`}
                      onConfirm={() =>
                        void run(() => api('DELETE', `/apps/${app}/domains/${encodeURIComponent(d.hostname)}`)).then(
                          domains.reload,
                        )
                      }
                    />
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {canChange && (
          <form
            class="inline add"
            onSubmit={(e) => {
              e.preventDefault();
              void run(() => api('POST', `/apps/${app}/domains`, { hostname: host.trim() })).then((ok) => {
                if (ok) setHost('');
                domains.reload();
              });
            }}
          >
            <input
              aria-label="Hostname"
              placeholder="www.example.com"
              value={host}
              required
              onInput={(e) => setHost((e.target as HTMLInputElement).value)}
            />
            <button type="submit" class="primary" disabled={busy}>
              Add domain
            </button>
          </form>
        )}
      </Section>
      <Section title="Certificates">
        <ErrorBox error={certs.error} />
        {certs.data && certs.data.length === 0 && <p class="muted">No certificates.</p>}
        <table class="list">
          <tbody>
            {(certs.data ?? []).map((c) => (
              <tr data-cert={c.id}>
                <td>{c.hostnames.join(', ')}</td>
                <td class="small">
                  expires <Time iso={c.expiresAt} /> ({c.expiresAt.slice(0, 10)})
                </td>
                <td class="muted small">{c.source ?? 'upload'}</td>
                <td>
                  {canChange && (
                    <ConfirmButton
                      name={`remove-cert-${c.id}`}
                      label="Remove"
                      danger
                      confirm="Remove this certificate?"
                      onConfirm={() => void run(() => api('DELETE', `/apps/${app}/certs/${c.id}`)).then(certs.reload)}
                    />
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {canChange && (
          <details>
            <summary>Upload a certificate</summary>
            <form
              class="stack"
              onSubmit={(e) => {
                e.preventDefault();
                void run(() => api('POST', `/apps/${app}/certs`, pem)).then((ok) => {
                  if (ok) setPem({ certificate: '', privateKey: '' });
                  certs.reload();
                });
              }}
            >
              <label>
                Certificate (PEM, with chain)
                <textarea
                  rows={4}
                  value={pem.certificate}
                  onInput={(e) => setPem({ ...pem, certificate: (e.target as HTMLTextAreaElement).value })}
                />
              </label>
              <label>
                Private key (PEM)
                <textarea
                  rows={4}
                  value={pem.privateKey}
                  onInput={(e) => setPem({ ...pem, privateKey: (e.target as HTMLTextAreaElement).value })}
                />
              </label>
              <button type="submit" class="primary" disabled={busy}>
                Upload
              </button>
            </form>
          </details>
        )}
      </Section>
    </div>
  );
}
