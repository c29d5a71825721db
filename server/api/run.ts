import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { PassThrough, Writable } from 'node:stream';
import { httpStatusFor, isSlipwayError, SlipwayError } from '../../common/errors';
import { authenticateToken, requireAppRole } from '../auth/permissions';
import { assertEnv } from './ps';
import { oneOffLimits } from '../auth/limits';
import { recordAs, type ApiDeps } from './context';
import { bearerToken } from './index';
import { createLogger } from '../../common/logger';

const log = createLogger('slipway-server');

/**
 * Attached one-off dynos (`slipway run`) over a hijacked HTTP connection:
 *   POST /api/apps/APP/run  Connection: Upgrade  Upgrade: slipway-run
 *   X-Slipway-Run: base64url(JSON { command, tty?, cols?, rows?, size?, env? })
 * → 101, then client→server carries raw stdin (half-close = EOF) and server→client carries frames
 * [kind u8][length u32 BE][payload]: 1 stdout, 2 stderr, 3 exit code (decimal), 4 error (JSON
 * { message, hint }). Errors before the upgrade are ordinary JSON error responses.
 */
export const FRAME = { stdout: 1, stderr: 2, exit: 3, error: 4 } as const;
const MAX_COMMAND = 10_000;

export function frame(kind: number, payload: Buffer | string): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const head = Buffer.alloc(5);
  head[0] = kind;
  head.writeUInt32BE(body.length, 1);
  return Buffer.concat([head, body]);
}

interface RunOptions {
  command: string;
  tty: boolean;
  cols?: number;
  rows?: number;
  size?: string;
  env?: Record<string, string>;
}

function parseOptions(header: string | string[] | undefined): RunOptions {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(Buffer.from(String(header ?? ''), 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new SlipwayError('INVALID_INPUT', 'the X-Slipway-Run header is not base64url JSON', {
      hint: 'use the slipway CLI: slipway run -a APP -- COMMAND',
    });
  }
  const allowed = ['command', 'tty', 'cols', 'rows', 'size', 'env'];
  for (const k of Object.keys(o ?? {}))
    if (!allowed.includes(k))
      throw new SlipwayError('INVALID_INPUT', `unknown run option "${k}"`, { hint: `allowed: ${allowed.join(', ')}` });
  if (typeof o.command !== 'string' || !o.command.trim() || o.command.length > MAX_COMMAND) {
    throw new SlipwayError('INVALID_INPUT', 'give a command to run (at most 10,000 characters)', {
      hint: 'slipway run -a APP -- bash',
    });
  }
  const dim = (v: unknown) =>
    Number.isInteger(v) && (v as number) > 0 && (v as number) < 10_000 ? (v as number) : undefined;
  if (o.size !== undefined && typeof o.size !== 'string')
    throw new SlipwayError('INVALID_INPUT', 'size must be a string');
  if (o.env !== undefined && (typeof o.env !== 'object' || o.env === null || Array.isArray(o.env)))
    throw new SlipwayError('INVALID_INPUT', 'env must be an object');
  return {
    command: o.command,
    tty: o.tty === true,
    cols: dim(o.cols),
    rows: dim(o.rows),
    size: o.size as string | undefined,
    env: o.env ? assertEnv(o.env as Record<string, unknown>) : undefined,
  };
}

export function refuse(socket: Duplex, err: unknown): void {
  const e = isSlipwayError(err)
    ? err
    : new SlipwayError('INTERNAL', 'internal server error', { hint: 'see the server log' });
  if (!isSlipwayError(err)) log.error(`run upgrade failed: ${(err as Error)?.stack ?? String(err)}`);
  const body = JSON.stringify(e.toJSON());
  const status = httpStatusFor(e.code);
  socket.end(
    `HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : status === 403 ? 'Forbidden' : status === 404 ? 'Not Found' : 'Error'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** The http server's 'upgrade' listener (server/main.ts). Only /api/apps/APP/run upgrades. */
export function createRunUpgradeHandler(deps: ApiDeps) {
  return (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', () => socket.destroy());
    try {
      const m = /^\/api\/apps\/([^/?]+)\/run$/.exec(new URL(req.url ?? '/', 'http://x').pathname);
      if (!m || req.method !== 'POST' || String(req.headers.upgrade).toLowerCase() !== 'slipway-run') {
        throw new SlipwayError('NOT_FOUND', `no upgrade route for ${req.method} ${req.url}`, {
          hint: 'only POST /api/apps/APP/run upgrades (slipway run)',
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
      const app = requireAppRole(deps.state, a.user, decodeURIComponent(m[1]), 'run');
      const o = parseOptions(req.headers['x-slipway-run']);
      const runtime = deps.runtime;

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
        app,
        action: 'dyno.run',
        message: `Starting process with command \`${o.command.slice(0, 200)}\``,
      });
      // Revoking the token or disabling the user ends the attached session at once.
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
      runtime
        .runOneOff({
          appName: app.name,
          command: o.command,
          tty: o.tty,
          stdin,
          stdout: out(FRAME.stdout),
          stderr: out(FRAME.stderr),
          rows: o.rows,
          cols: o.cols,
          size: o.size,
          env: o.env,
          limits: oneOffLimits(deps.state, deps.config, app),
        })
        .then(
          (r) => {
            if (!socket.destroyed) socket.end(frame(FRAME.exit, String(r.exitCode)));
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
