import type { IncomingMessage } from 'node:http';
import { PassThrough, Writable, type Duplex } from 'node:stream';
import { isSlipwayError, SlipwayError } from '../../common/errors';
import { authenticateToken } from '../auth/permissions';
import { recordAs, type ApiDeps } from './context';
import { bearerToken } from './index';
import { FRAME, frame, refuse } from './run';

/**
 * `slipway addons:psql NAME` / `addons:redis-cli NAME`: the client runs inside the service's
 * container (docker exec, as the apps' own credential) over the same hijacked connection and
 * frames as `slipway run` (server/api/run.ts):
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
  return (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', () => socket.destroy());
    try {
      const m = SHELL_PATH.exec(new URL(req.url ?? '/', 'http://x').pathname);
      if (!m || req.method !== 'POST' || String(req.headers.upgrade).toLowerCase() !== 'slipway-run') {
        throw new SlipwayError('NOT_FOUND', `no upgrade route for ${req.method} ${req.url}`, {
          hint: 'POST /api/addons/NAME/shell upgrades (slipway addons:psql)',
        });
      }
      const secret = bearerToken(req as never);
      const a = authenticateToken(deps.state, secret);
      if (!a)
        throw new SlipwayError(
          'UNAUTHORIZED',
          secret ? 'this API token is not valid (unknown or revoked)' : 'no API token given',
          { hint: 'slipway login --api URL --token TOKEN' },
        );
      const addons = deps.addons;
      if (!addons)
        throw new SlipwayError('DOCKER_UNAVAILABLE', 'add-ons are not available on this server', {
          hint: 'see the server log',
        });
      const addon = addons.service.requireAddon(a.user, decodeURIComponent(m[1]));
      const o = options(req.headers['x-slipway-run']);
      const { cmd, env } = addons.service.shellCommand(addon);

      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: slipway-run\r\nConnection: Upgrade\r\n\r\n');
      (socket as { setNoDelay?: (b: boolean) => void }).setNoDelay?.(true);
      const stdin = new PassThrough();
      if (head.length) stdin.write(head);
      socket.pipe(stdin);
      const out = (kind: number) =>
        new Writable({
          write(chunk: Buffer, _enc, cb) {
            if (!socket.destroyed) socket.write(frame(kind, chunk));
            cb();
          },
        });
      recordAs(deps, a.user.email, {
        appName: undefined,
        action: 'addon.shell',
        message: `Opened ${cmd[0]} on ${addon.name}`,
      });
      // Revoking the token or disabling the user ends the session at once (as for slipway run).
      const unregister =
        deps.sessions?.add(a.tokenId, () => {
          if (socket.destroyed) return;
          const e = new SlipwayError(
            'UNAUTHORIZED',
            'this session ended: its API token was revoked or its user disabled',
            { hint: 'ask an admin' },
          );
          socket.end(Buffer.concat([frame(FRAME.error, JSON.stringify(e.toJSON())), frame(FRAME.exit, '1')]));
        }) ?? (() => {});
      socket.on('close', unregister);
      addons.containers
        .exec(addon.name, cmd, {
          env: [...env, ...(o.tty ? ['TERM=xterm-256color'] : [])],
          stdin,
          stdout: out(FRAME.stdout),
          stderr: out(FRAME.stderr),
          tty: o.tty,
          rows: o.rows,
          cols: o.cols,
        })
        .then(
          (code) => {
            if (!socket.destroyed) socket.end(frame(FRAME.exit, String(code)));
          },
          (err: unknown) => {
            const e = isSlipwayError(err) ? err.toJSON() : { id: 'internal', message: (err as Error).message };
            if (!socket.destroyed)
              socket.end(Buffer.concat([frame(FRAME.error, JSON.stringify(e)), frame(FRAME.exit, '1')]));
          },
        );
    } catch (err) {
      refuse(socket, err);
    }
  };
}
