import { SlipwayError } from '../../common/errors';
import { requireAppRole } from '../auth/permissions';
import { assertEnv } from './ps';
import { oneOffLimits } from '../auth/limits';
import { recordAs, type ApiDeps } from './context';
import { createUpgradeHandler, startFramedSession } from './upgrade-session';

export { FRAME, frame } from './upgrade-session';

/**
 * Attached one-off dynos (`slipway run`) over a hijacked HTTP connection (the handshake and the
 * frames: server/api/upgrade-session.ts):
 *   POST /api/apps/APP/run  Connection: Upgrade  Upgrade: slipway-run
 *   X-Slipway-Run: base64url(JSON { command, tty?, cols?, rows?, size?, env? })
 */
const MAX_COMMAND = 10_000;

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

/** The http server's 'upgrade' listener (server/main.ts). Only /api/apps/APP/run upgrades. */
export function createRunUpgradeHandler(deps: ApiDeps) {
  return createUpgradeHandler(
    deps,
    /^\/api\/apps\/([^/?]+)\/run$/,
    'only POST /api/apps/APP/run upgrades (slipway run)',
    (req, socket, head, { match, auth }) => {
      const app = requireAppRole(deps.state, auth.user, decodeURIComponent(match[1]), 'run');
      const o = parseOptions(req.headers['x-slipway-run']);
      recordAs(deps, auth.user.email, {
        app,
        action: 'dyno.run',
        message: `Starting process with command \`${o.command.slice(0, 200)}\``,
      });
      startFramedSession(deps, socket, head, auth.tokenId, async (io) => {
        const r = await deps.runtime.runOneOff({
          appName: app.name,
          command: o.command,
          tty: o.tty,
          ...io,
          rows: o.rows,
          cols: o.cols,
          size: o.size,
          env: o.env,
          limits: oneOffLimits(deps.state, deps.config, app),
        });
        return r.exitCode;
      });
    },
  );
}
