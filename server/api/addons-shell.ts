import { SlipwayError } from '../../common/errors';
import { recordAs, type ApiDeps } from './context';
import { createUpgradeHandler, startFramedSession } from './upgrade-session';

/**
 * `slipway addons:psql NAME` / `addons:redis-cli NAME`: the client runs inside the service's
 * container (docker exec, as the apps' own credential) over the same hijacked connection and
 * frames as `slipway run` (server/api/upgrade-session.ts):
 *   POST /api/addons/NAME/shell  Connection: Upgrade  Upgrade: slipway-run
 *   X-Slipway-Run: base64url(JSON { tty?, cols?, rows? })
 */
export const SHELL_PATH = /^\/api\/addons\/([^/?]+)\/shell$/;

function options(header: string | string[] | undefined): { tty: boolean; cols?: number; rows?: number } {
  try {
    const o = JSON.parse(Buffer.from(String(header ?? 'e30'), 'base64url').toString('utf8')) as Record<string, unknown>;
    const dim = (v: unknown) =>
      Number.isInteger(v) && (v as number) > 0 && (v as number) < 10_000 ? (v as number) : undefined;
    return { tty: o.tty === true, cols: dim(o.cols), rows: dim(o.rows) };
  } catch {
    throw new SlipwayError('INVALID_INPUT', 'the X-Slipway-Run header is not base64url JSON', {
      hint: 'use the slipway CLI: slipway addons:psql NAME',
    });
  }
}

export function createAddonShellUpgrade(deps: ApiDeps) {
  return createUpgradeHandler(
    deps,
    SHELL_PATH,
    'POST /api/addons/NAME/shell upgrades (slipway addons:psql)',
    (req, socket, head, { match, auth }) => {
      const addons = deps.addons;
      if (!addons)
        throw new SlipwayError('DOCKER_UNAVAILABLE', 'add-ons are not available on this server', {
          hint: 'see the server log',
        });
      const addon = addons.service.requireAddon(auth.user, decodeURIComponent(match[1]));
      const o = options(req.headers['x-slipway-run']);
      const { cmd, env } = addons.service.shellCommand(addon);
      recordAs(deps, auth.user.email, {
        appName: undefined,
        action: 'addon.shell',
        message: `Opened ${cmd[0]} on ${addon.name}`,
      });
      // Revoking the token or disabling the user ends the session at once (as for slipway run).
      startFramedSession(deps, socket, head, auth.tokenId, (io) =>
        addons.containers.exec(addon.name, cmd, {
          env: [...env, ...(o.tty ? ['TERM=xterm-256color'] : [])],
          ...io,
          tty: o.tty,
          rows: o.rows,
          cols: o.cols,
        }),
      );
    },
  );
}
