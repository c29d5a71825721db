import * as http from 'node:http';
import * as https from 'node:https';
import type { Ctx } from './command';
import { CliError } from './errors';
import { createFrameReader, FRAME } from './run-frames';

/**
 * The client side of an attached session over a hijacked HTTP connection (`slipway run`,
 * `addons:psql`, `addons:redis-cli`): POST path with Upgrade: slipway-run and the options in
 * X-Slipway-Run; then stdin goes up raw (half-close at EOF) and frames come back (run-frames.ts).
 * Resolves with the remote exit code.
 */
export function attachSession(
  ctx: Ctx,
  path: string,
  opts: Record<string, unknown> & { tty: boolean },
): Promise<number> {
  const api = ctx.api();
  const url = new URL(`${api.apiUrl}/api${path}`);
  const mod = url.protocol === 'https:' ? https : http;
  return new Promise<number>((resolve, reject) => {
    const req = mod.request(url, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${api.token}`,
        connection: 'Upgrade',
        upgrade: 'slipway-run',
        'x-slipway-run': Buffer.from(JSON.stringify(opts)).toString('base64url'),
      },
    });
    req.on('error', (err) => reject(new CliError(`cannot reach the Slipway API at ${api.apiUrl} (${err.message})`)));
    req.on('response', (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => {
        try {
          const j = JSON.parse(text) as { message: string; hint?: string; id?: string };
          reject(new CliError(j.message, { hint: j.hint, id: j.id, status: res.statusCode }));
        } catch {
          reject(new CliError(`the API answered ${res.statusCode} instead of starting the session`));
        }
      });
    });
    req.on('upgrade', (_res, socket, head) => {
      const raw = opts.tty && process.stdin.isTTY;
      if (raw) process.stdin.setRawMode(true);
      let code = 1;
      const finish = () => {
        if (raw) process.stdin.setRawMode(false);
        process.stdin.unpipe(socket);
        process.stdin.pause();
        resolve(code);
      };
      const read = createFrameReader((kind, payload) => {
        if (kind === FRAME.stdout) process.stdout.write(payload);
        else if (kind === FRAME.stderr) process.stderr.write(payload);
        else if (kind === FRAME.exit) code = Number(payload.toString()) || 0;
        else if (kind === FRAME.error) {
          const j = JSON.parse(payload.toString()) as { message: string; hint?: string };
          ctx.out.err(`slipway: ${j.message}${j.hint ? `\n  hint: ${j.hint}` : ''}`);
          code = 1;
        }
      });
      if (head.length) read(head);
      socket.on('data', read);
      socket.on('end', finish);
      socket.on('error', () => finish());
      process.stdin.pipe(socket);
    });
    req.end();
  });
}
