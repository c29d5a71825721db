import type { IncomingMessage } from 'node:http';
import { PassThrough, Writable, type Duplex, type Readable } from 'node:stream';
import { httpStatusFor, isSlipwayError, SlipwayError } from '../../common/errors';
import { createLogger } from '../../common/logger';
import { authenticateToken } from '../auth/permissions';
import type { ApiDeps } from './context';
import { bearerToken } from './index';

const log = createLogger('slipway-server');

/**
 * The attached sessions over a hijacked HTTP connection (`slipway run`, server/api/run.ts;
 * `slipway addons:psql`, server/api/addons-shell.ts) share this part:
 *   POST PATH  Connection: Upgrade  Upgrade: slipway-run  Authorization: Bearer TOKEN
 * → 101, then client→server carries raw stdin (half-close = EOF) and server→client carries frames
 * [kind u8][length u32 BE][payload]: 1 stdout, 2 stderr, 3 exit code (decimal), 4 error (JSON
 * { message, hint }). Errors before the upgrade are ordinary JSON error responses.
 */
export const FRAME = { stdout: 1, stderr: 2, exit: 3, error: 4 } as const;

export function frame(kind: number, payload: Buffer | string): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const head = Buffer.alloc(5);
  head[0] = kind;
  head.writeUInt32BE(body.length, 1);
  return Buffer.concat([head, body]);
}

/** An error before the upgrade: a plain HTTP response with the JSON error, then close. */
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

/**
 * The upgrade request's route, method, Upgrade header and API token: the path's match and the
 * caller, or a SlipwayError (NOT_FOUND with `hint`, UNAUTHORIZED) for refuse().
 */
function acceptUpgrade(deps: ApiDeps, req: IncomingMessage, route: RegExp, hint: string) {
  const match = route.exec(new URL(req.url ?? '/', 'http://x').pathname);
  if (!match || req.method !== 'POST' || String(req.headers.upgrade).toLowerCase() !== 'slipway-run') {
    throw new SlipwayError('NOT_FOUND', `no upgrade route for ${req.method} ${req.url}`, { hint });
  }
  const secret = bearerToken(req as never);
  const auth = authenticateToken(deps.state, secret);
  if (!auth)
    throw new SlipwayError(
      'UNAUTHORIZED',
      secret ? 'this API token is not valid (unknown or revoked)' : 'no API token given',
      { hint: 'slipway login --api URL --token TOKEN' },
    );
  return { match, auth };
}

/**
 * An 'upgrade' listener for one route: `open` runs with the accepted request (path match and
 * caller); whatever it or the acceptance throws is answered with refuse().
 */
export function createUpgradeHandler(
  deps: ApiDeps,
  route: RegExp,
  hint: string,
  open: (req: IncomingMessage, socket: Duplex, head: Buffer, accepted: ReturnType<typeof acceptUpgrade>) => void,
) {
  return (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', () => socket.destroy());
    try {
      open(req, socket, head, acceptUpgrade(deps, req, route, hint));
    } catch (err) {
      refuse(socket, err);
    }
  };
}

export interface SessionStreams {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
}

/**
 * Switches the connection to frames (101), hands the process its streams, ends the session at
 * once when the token is revoked or the user disabled, and sends the exit code (or the error)
 * when `run` settles.
 */
export function startFramedSession(
  deps: Pick<ApiDeps, 'sessions'>,
  socket: Duplex,
  head: Buffer,
  tokenId: number,
  run: (streams: SessionStreams) => Promise<number>,
): void {
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
  const endWithError = (e: object) => {
    if (!socket.destroyed) socket.end(Buffer.concat([frame(FRAME.error, JSON.stringify(e)), frame(FRAME.exit, '1')]));
  };
  const unregister =
    deps.sessions?.add(tokenId, () =>
      endWithError(
        new SlipwayError('UNAUTHORIZED', 'this session ended: its API token was revoked or its user disabled', {
          hint: 'ask an admin',
        }).toJSON(),
      ),
    ) ?? (() => {});
  socket.on('close', unregister);
  run({ stdin, stdout: out(FRAME.stdout), stderr: out(FRAME.stderr) }).then(
    (code) => {
      if (!socket.destroyed) socket.end(frame(FRAME.exit, String(code)));
    },
    (err: unknown) =>
      endWithError(isSlipwayError(err) ? err.toJSON() : { id: 'internal', message: (err as Error).message }),
  );
}
