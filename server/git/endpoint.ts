import { tokenFromAuthorization } from '../auth/authorization';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { execFileSync, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { Git, type PushData, type TagData } from 'node-git-server';
import type { HomePaths } from '../../common/config';
import { SlipwayError, isSlipwayError } from '../../common/errors';
import { isValidAppName } from '../../common/names';
import { authenticateToken, requireAppRole } from '../auth/permissions';
import type { AuthBackoff } from '../auth/backoff';
import { limitMessage, limitsOf, ownerOfApp } from '../auth/limits';
import type { Limits } from '../../common/limits';
import type { State } from '../state';
import { appRepoPath, appRepositoryExists } from './repos';
import { createLogger } from '../../common/logger';

const logger = createLogger('slipway-server');

/**
 * The git endpoint: smart HTTP at /APP.git on the API's port, served by node-git-server behind our
 * own checks. node-git-server 1.0.0 alone would create repositories on first push (autoCreate),
 * authenticate only the ref advertisement (never the POST that carries the pack), and build the
 * repository path from the URL (GHSA-cv3v-7846-6pxm). So every request is checked here first:
 * the path must be exactly /APP.git/<smart-http-suffix> with a valid app name (no dots, no
 * percent-encoding, no nesting), the token must be valid, the user must have read (fetch) or
 * deploy (push) rights, and the repository must already exist. Only then does node-git-server
 * see the request, with a directory resolver that maps nothing but "<valid-name>.git".
 */
export interface PushSession {
  appName: string;
  user: { id: number; email: string };
  /** Aborts when the pushing client disconnects before the push completed. */
  signal: AbortSignal;
  /** The ref update the hook was told to build (set by the plan step). */
  planned?: { rev: string; branch: string; oldRev: string; ref: string };
  /** Resolves when the push's receive-pack has exited: git has updated (or refused) the ref. */
  finished: Promise<void>;
}

/** Active pushes by the pid of their git receive-pack: the hook's parent process. */
export type PushSessions = Map<number, PushSession>;

/** Anything that looks like a git URL goes to the git endpoint, valid or not, so it is refused there. */
export const GIT_PATH_RE = /^\/[^?#]*\.git(\/|$|\?)/i;

const SUFFIX_RE = /^\/([^/]+)\.git(\/info\/refs|\/git-upload-pack|\/git-receive-pack)$/;

/** node-git-server's Service.log: queues a progress line git prints as "remote: ..." (not in its types). */
function sideband(action: PushData | TagData, line: string): void {
  (action as unknown as { log(msg: string): void }).log(line);
}

export function isGitRequest(url: string | undefined): boolean {
  return GIT_PATH_RE.test(url ?? '');
}

export interface GitEndpointDeps {
  state: State;
  paths: Pick<HomePaths, 'repos'>;
  sessions: PushSessions;
  /** Platform default limits (the push-mb limit of the app's owner bounds each push). */
  limits?: Limits;
  log?: (line: string) => void;
  /** Back-off on failed authentication, shared with the API (server/auth/backoff.ts). */
  authBackoff?: AuthBackoff;
}

interface Target {
  appName: string;
  suffix: string;
  type: 'fetch' | 'push';
}

export function createGitEndpoint(deps: GitEndpointDeps) {
  const log = deps.log ?? ((line: string) => logger.error(`git: ${line}`));
  const strictDir = (dir?: string): string => {
    if (!dir) return deps.paths.repos;
    const m = /^([^/]+)\.git$/.exec(dir);
    // A second line of defence: anything but "<valid-name>.git" maps to a path that cannot exist.
    if (!m || !isValidAppName(m[1])) return path.join(deps.paths.repos, '.refused', 'none');
    return path.join(deps.paths.repos, `${m[1]}.git`);
  };
  const git = new Git(strictDir, { autoCreate: false });
  const users = new WeakMap<IncomingMessage, { appName: string; user: { id: number; email: string } }>();
  /** Pushes over their owner's push-mb limit: the line git shows the user ("remote: ..."). */
  const oversize = new WeakMap<IncomingMessage, { line?: string; action?: PushData | TagData }>();

  git.on('info', (dup) => {
    dup.on('error', (err: Error) => log(`info: ${err.message}`));
    dup.accept();
  });
  git.on('fetch', (action) => {
    action.on('error', (err: Error) => log(`fetch: ${err.message}`));
    action.on('service', (ps: ChildProcess) =>
      ps.stdin?.on('error', (err: Error) => log(`fetch: upload-pack input: ${err.message}`)),
    );
    action.accept();
  });
  // node-git-server emits one event per pushed ref; only the first one wires the session.
  const wired = new WeakSet<object>();
  const onPush = (action: PushData | TagData) => {
    if (wired.has(action)) return;
    wired.add(action);
    action.on('error', (err: Error) => log(`push: ${err.message}`));
    const over = oversize.get(action.req);
    if (over) {
      over.action = action;
      if (over.line) sideband(action, over.line);
    }
    // receive-pack may exit before it has read the whole request (a pack over
    // receive.maxInputSize, a corrupt pack): the pipe into it then fails with EPIPE, which must
    // not be an unhandled error that takes the server down.
    action.on('service', (ps: ChildProcess) =>
      ps.stdin?.on('error', (err: Error) => log(`push: receive-pack input: ${err.message}`)),
    );
    const who = users.get(action.req);
    if (!who) {
      action.accept();
      return;
    }
    action.on('service', (ps: ChildProcess) => {
      if (!ps.pid) return;
      const pid = ps.pid;
      const abort = new AbortController();
      let exited!: () => void;
      const finished = new Promise<void>((resolve) => (exited = resolve));
      deps.sessions.set(pid, { ...who, signal: abort.signal, finished });
      // The client went away before receive-pack finished: cancel whatever this push started.
      action.res.on('close', () => {
        if (!action.res.writableFinished) abort.abort();
        // Keep draining so receive-pack never blocks writing to a pipe nobody reads.
        ps.stdout?.resume();
      });
      ps.on('exit', () => {
        deps.sessions.delete(pid);
        exited();
      });
    });
    action.accept();
  };
  git.on('push', onPush);
  git.on('tag', onPush);

  function refuse(
    res: ServerResponse,
    status: number,
    message: string,
    hint?: string,
    headers: Record<string, string> = {},
  ): void {
    // git shows text/plain error bodies to the user as "remote: ..." lines.
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-cache', ...headers });
    res.end(`${message}\n${hint ? `hint: ${hint}\n` : ''}`);
  }

  function parse(req: IncomingMessage): Target | SlipwayError {
    const raw = req.url ?? '';
    const q = raw.indexOf('?');
    const pathname = q >= 0 ? raw.slice(0, q) : raw;
    const query = new URLSearchParams(q >= 0 ? raw.slice(q + 1) : '');
    const m = SUFFIX_RE.exec(pathname);
    if (!m || !isValidAppName(m[1])) {
      return new SlipwayError('NOT_FOUND', 'not a Slipway git repository URL', {
        hint: 'the git URL of an app is http://HOST:PORT/APP.git (see `slipway apps:info`)',
      });
    }
    const [, appName, suffix] = m;
    let service: string | null;
    if (suffix === '/info/refs') {
      if (req.method !== 'GET') return new SlipwayError('INVALID_INPUT', 'method not allowed');
      service = query.get('service');
      if (service !== 'git-upload-pack' && service !== 'git-receive-pack') {
        return new SlipwayError('INVALID_INPUT', 'only the smart HTTP protocol is served', {
          hint: 'use git 1.6.6 or newer',
        });
      }
    } else {
      if (req.method !== 'POST') return new SlipwayError('INVALID_INPUT', 'method not allowed');
      service = suffix.slice(1);
    }
    return { appName, suffix, type: service === 'git-receive-pack' ? 'push' : 'fetch' };
  }

  // Like Heroku: Basic credentials whose password is an API token (the user name is ignored).
  const basicPassword = (req: IncomingMessage) => tokenFromAuthorization(req.headers.authorization, ['basic']);

  /** Sets the repository's receive.maxInputSize to the owner's push-mb limit (current at every push). */
  function limitPush(req: IncomingMessage, appName: string): { bytes: number; line: string } | undefined {
    const app = deps.state.apps.get(appName);
    if (!app || !deps.limits) return undefined;
    const owner = ownerOfApp(deps.state, app.ownerId);
    const mb = limitsOf(deps.state, { limits: deps.limits }, owner.id)['push-mb'];
    const bytes = mb * 1024 * 1024;
    try {
      execFileSync(
        'git',
        ['--git-dir', appRepoPath(deps.paths, appName), 'config', 'receive.maxInputSize', String(Math.max(bytes, 1))],
        { stdio: 'ignore', timeout: 10_000 },
      );
    } catch (err) {
      log(`cannot set receive.maxInputSize of ${appName}: ${(err as Error).message}`);
    }
    const m = limitMessage(
      'push-mb',
      owner.email,
      `may push at most ${mb} MiB at once, and this push is larger`,
      mb,
      ` (owner of ${appName})`,
    );
    oversize.set(req, {});
    return { bytes, line: `${m.message}; ${m.hint}` };
  }

  return {
    handle(req: IncomingMessage, res: ServerResponse): void {
      res.on('error', (err) => log(`response: ${err.message}`));
      const target = parse(req);
      if (target instanceof SlipwayError) {
        refuse(res, target.code === 'NOT_FOUND' ? 404 : 405, target.message, target.hint);
        return;
      }
      const secret = basicPassword(req);
      if (secret && deps.authBackoff) {
        try {
          deps.authBackoff.check(req.socket.remoteAddress, secret);
        } catch (err) {
          if (!isSlipwayError(err)) throw err;
          refuse(res, 429, err.message, err.hint, { 'retry-after': String(err.details?.retryAfterS ?? 60) });
          return;
        }
      }
      const auth = secret ? authenticateToken(deps.state, secret) : undefined;
      if (secret && !auth) deps.authBackoff?.fail(req.socket.remoteAddress, secret);
      if (!auth) {
        refuse(
          res,
          401,
          secret ? 'invalid or revoked token' : 'authentication required',
          'use an API token as the password (`slipway auth:token`); the username is ignored',
          {
            'www-authenticate': 'Basic realm="Slipway"',
          },
        );
        return;
      }
      try {
        requireAppRole(deps.state, auth.user, target.appName, target.type === 'push' ? 'deploy' : 'read');
      } catch (err) {
        if (!isSlipwayError(err)) throw err;
        refuse(res, err.code === 'NOT_FOUND' ? 404 : err.code === 'FORBIDDEN' ? 403 : 400, err.message, err.hint);
        return;
      }
      if (!appRepositoryExists(deps.paths, target.appName)) {
        // Never created here: apps:create makes it. A known app without one is a server problem.
        refuse(
          res,
          404,
          `the git repository of app "${target.appName}" is missing`,
          'restart slipway-server: it recreates missing repositories of existing apps',
        );
        return;
      }
      users.set(req, { appName: target.appName, user: { id: auth.user.id, email: auth.user.email } });
      // node-git-server sees only a URL we built from the validated name.
      req.url = `/${target.appName}.git${target.suffix}${target.suffix === '/info/refs' ? `?service=git-${target.type === 'push' ? 'receive' : 'upload'}-pack` : ''}`;
      const pushLimit =
        target.type === 'push' && target.suffix === '/git-receive-pack' ? limitPush(req, target.appName) : undefined;
      git.handle(req, res);
      // Observed after node-git-server piped the request into receive-pack (a listener added
      // earlier would start the flow before that pipe exists). git itself enforces the size
      // (receive.maxInputSize); this only adds the line that names the limit and who raises it.
      if (pushLimit) {
        let seen = 0;
        req.on('data', (chunk: Buffer) => {
          seen += chunk.length;
          const over = oversize.get(req);
          if (seen > pushLimit.bytes && over && !over.line) {
            over.line = pushLimit.line;
            if (over.action) sideband(over.action, pushLimit.line);
          }
        });
      }
    },
  };
}
