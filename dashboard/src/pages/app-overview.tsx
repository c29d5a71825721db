import { useEffect, useState } from 'preact/hooks';
import { api } from '../api';
import { Badge, ConfirmButton, ErrorBox, Section, Time, useAction, useApi } from '../ui';
import type { TabProps } from './app';
import { BuildOutput, type Build } from './app-builds';
import { ReleasesTable, type Release } from './app-releases';

interface Dyno {
  name: string;
  type: string;
  state: string;
  since: string;
  release: number;
  restarts: number;
  size: string;
  command?: string;
}

interface Formation {
  type: string;
  quantity: number;
  size: string;
}

function FormationRow({
  app,
  f,
  canChange,
  onDone,
}: {
  app: string;
  f: Formation;
  canChange: boolean;
  onDone: () => void;
}) {
  const [qty, setQty] = useState(f.quantity);
  const [run, busy, error] = useAction();
  useEffect(() => setQty(f.quantity), [f.quantity]);
  return (
    <tr data-ptype={f.type}>
      <td>
        <strong>{f.type}</strong>
      </td>
      <td>
        {canChange ? (
          <form
            class="inline"
            onSubmit={(e) => {
              e.preventDefault();
              void run(() =>
                api('PATCH', `/apps/${app}/formation`, { updates: [{ type: f.type, quantity: qty }] }),
              ).then(onDone);
            }}
          >
            <button type="button" aria-label={`fewer ${f.type} dynos`} onClick={() => setQty(Math.max(0, qty - 1))}>
              −
            </button>
            <input
              type="number"
              min={0}
              max={100}
              aria-label={`${f.type} dynos`}
              name={`qty-${f.type}`}
              value={qty}
              onInput={(e) => setQty(Number((e.target as HTMLInputElement).value))}
            />
            <button type="button" aria-label={`more ${f.type} dynos`} onClick={() => setQty(qty + 1)}>
              +
            </button>
            <button type="submit" class="primary" data-action={`scale-${f.type}`} disabled={busy || qty === f.quantity}>
              Scale
            </button>
          </form>
        ) : (
          f.quantity
        )}
        <ErrorBox error={error} />
      </td>
      <td>{f.size}</td>
    </tr>
  );
}

/** Formation with scale controls, dyno states, the latest build (live) and recent releases; refreshed every 3 s. */
export function Overview({ app, canChange }: TabProps) {
  const formation = useApi<Formation[]>(`/apps/${app}/formation`, 5000);
  const dynos = useApi<Dyno[]>(`/apps/${app}/dynos`, 3000);
  const builds = useApi<Build[]>(`/apps/${app}/builds?limit=1`, 3000);
  const releases = useApi<Release[]>(`/apps/${app}/releases`, 3000);
  const [run, , restartError] = useAction();
  const latest = builds.data?.[0];
  const live = latest && (latest.status === 'running' || latest.status === 'pending');
  // A build seen running keeps its output on screen after it ends.
  const [followed, setFollowed] = useState<string | null>(null);
  useEffect(() => {
    if (live && latest) setFollowed(latest.id);
  }, [live, latest?.id]);
  // A build that just finished: its release appears without a reload.
  useEffect(() => {
    if (latest && !live) releases.reload();
  }, [latest?.id, latest?.status]);
  return (
    <div class="grid">
      <Section title="Formation">
        <ErrorBox error={formation.error} />
        {formation.data && formation.data.length === 0 && (
          <p class="muted">No process types yet: deploy the app first.</p>
        )}
        <table class="list">
          <tbody>
            {(formation.data ?? []).map((f) => (
              <FormationRow
                app={app}
                f={f}
                canChange={canChange}
                onDone={() => {
                  formation.reload();
                  dynos.reload();
                }}
              />
            ))}
          </tbody>
        </table>
      </Section>
      <Section
        title="Dynos"
        actions={
          canChange &&
          (dynos.data?.length ?? 0) > 0 && (
            <ConfirmButton
              name="restart-all"
              label="Restart all"
              confirm="Restart every dyno?"
              onConfirm={() => void run(() => api('POST', `/apps/${app}/dynos/restart`, {})).then(dynos.reload)}
            />
          )
        }
      >
        <ErrorBox error={dynos.error ?? restartError} />
        {dynos.data && dynos.data.length === 0 && <p class="muted">No dynos running.</p>}
        <table class="list dynos">
          <tbody>
            {(dynos.data ?? []).map((d) => (
              <tr data-dyno={d.name} data-state={d.state}>
                <td>
                  <strong>{d.name}</strong>
                  {d.command && <span class="muted small"> {d.command}</span>}
                </td>
                <td>
                  <Badge status={d.state} />
                </td>
                <td>v{d.release}</td>
                <td class="hide-narrow">
                  <Time iso={d.since} />
                </td>
                <td class="hide-narrow">{d.restarts ? `${d.restarts} restarts` : ''}</td>
                <td>
                  {canChange && (
                    <button
                      class="small"
                      data-action={`restart-${d.name}`}
                      onClick={() =>
                        void run(() => api('POST', `/apps/${app}/dynos/restart`, { target: d.name })).then(dynos.reload)
                      }
                    >
                      Restart
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
      <Section
        title="Latest build"
        actions={
          latest && (
            <a href={`/apps/${app}/builds?build=${latest.id}`} class="small">
              all builds
            </a>
          )
        }
      >
        {!latest && (
          <p class="muted">
            No builds yet. Push with <code>git push slipway main</code>.
          </p>
        )}
        {latest && (
          <div data-build={latest.id} data-build-status={latest.status}>
            <p>
              <Badge status={latest.status} /> {latest.sourceVersion?.slice(0, 7)} <Time iso={latest.createdAt} />
              {latest.release ? ` → v${latest.release}` : ''}
            </p>
            {(live || followed === latest.id) && <BuildOutput app={app} id={latest.id} />}
          </div>
        )}
      </Section>
      <Section
        title="Recent releases"
        actions={
          <a href={`/apps/${app}/releases`} class="small">
            all releases
          </a>
        }
      >
        <ErrorBox error={releases.error} />
        {releases.data && (
          <ReleasesTable app={app} releases={releases.data.slice(0, 5)} canChange={false} onChange={releases.reload} />
        )}
      </Section>
    </div>
  );
}
