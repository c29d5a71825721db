import { assertAppName } from '../../common/names';
import type { State } from '../state';
import type { AppRow } from '../state/repos/apps';

/**
 * apps:destroy. Each concern removes its own part of an app, as Dokku's per-plugin delete hooks
 * do; this module only asks them in order and then drops the record:
 *
 *   addons   the app's add-on services leave its network (server/addons, appDestroyed)
 *   runtime  dynos, one-offs, the app's network, engine images (server/runtime, destroyApp)
 *   builds   build directories and the build cache (server/deploys/build-dirs.ts)
 *   git      the bare repository                   (server/git/repos.ts)
 *   logs     the app's log ring and file            (server/logs/hub.ts)
 *   state    the app row; releases, builds, config, domains, certificates, collaborators and
 *            formation go with it (ON DELETE CASCADE)
 *   routes   the router stops answering for its hosts (the publisher renders the state)
 *
 * Add-ons first (they must leave the app's network before the runtime removes it), then the
 * runtime (nothing serves or runs any more), the state last but one (the parts
 * before it may still read the app's rows, e.g. its build ids).
 */
export interface AppPart {
  readonly name: string;
  removeApp(app: AppRow): Promise<void> | void;
}

export interface AppDestroyerDeps {
  state: State;
  parts: AppPart[];
  routes: { publish(): Promise<void> };
}

export function createAppDestroyer(deps: AppDestroyerDeps) {
  return async function destroyApp(appName: string, actor: string): Promise<void> {
    const app = deps.state.apps.require(assertAppName(appName));
    for (const part of deps.parts) await part.removeApp(app);
    if (deps.state.apps.get(app.name)) deps.state.apps.delete(app.id);
    // Recorded by name only (the app's row is gone) and not in its log stream, which is gone too.
    deps.state.events.add({ appName: app.name, actor, action: 'app.destroy', message: `App ${app.name} destroyed` });
    await deps.routes.publish();
  };
}
export type DestroyApp = ReturnType<typeof createAppDestroyer>;
