import { timingSafeEqual } from 'node:crypto';
import * as fs from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { State } from '../state';
import type { DeployPipeline } from '../deploys/pipeline';
import { pushLines } from '../deploys/events';
import type { PushSession, PushSessions } from './endpoint';
import { EXIT_MARK } from './hook-client';
import { parseRefUpdates, planPush } from './push-plan';
import { checkExpectedRef, type PushLocks } from './push-lock';
import { cleanSubject } from '../deploys/commit-label';
import { createLogger } from '../../common/logger';

const log = createLogger('slipway-server');

function subjectOf(req: IncomingMessage): string | undefined {
  try {
    return cleanSubject(decodeURIComponent(String(req.headers['x-slipway-subject'] ?? '')));
  } catch {
    return undefined;
  }
}

/**
 * The internal endpoint the pre-receive hook talks to. It listens on a Unix socket under
 * SLIPWAY_HOME/run (mode 0600), so it is reachable from this machine only, whatever address the
 * API binds to; each request must also carry the server's per-process secret and the pid of a
 * receive-pack this server spawned for an authenticated push (the hook's parent process).
 *
 *   POST /plan               {"updates": "<old> <new> <ref>\n..."} → {"ok", "lines", "build": {"rev"}}
 *   POST /build?rev=SHA      body: `git archive` tar of SHA → build output lines, then EXIT_MARK<0|1>
 */
export interface HookServerDeps {
  state: State;
  builds: Pick<DeployPipeline, 'deploy'>;
  sessions: PushSessions;
  secret: string;
  /** One push per app from its ref check until git has updated the ref (push-lock.ts). */
  locks: PushLocks;
  /** The app's bare repository (where the deploy ref is read). */
  repoDir: (appName: string) => string;
}

/** After its build, a push keeps its app's lock until receive-pack exits, at most this long. */
const REF_UPDATE_GRACE_MS = 60_000;

export function createHookServer(deps: HookServerDeps): {
  listen(socketPath: string): Promise<void>;
  close(): Promise<void>;
} {
  const secret = Buffer.from(deps.secret);
  let server: Server | undefined;

  function json(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  function sessionOf(req: IncomingMessage): PushSession | undefined {
    const given = Buffer.from(String(req.headers['x-slipway-secret'] ?? ''));
    if (given.length !== secret.length || !timingSafeEqual(given, secret)) return undefined;
    const pid = Number(req.headers['x-slipway-push-pid']);
    return Number.isInteger(pid) ? deps.sessions.get(pid) : undefined;
  }

  async function readBody(req: IncomingMessage, limit: number): Promise<string> {
    let s = '';
    for await (const chunk of req) {
      s += chunk.toString();
      if (s.length > limit) throw new Error('request too large');
    }
    return s;
  }

  async function plan(session: PushSession, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = JSON.parse(await readBody(req, 1_000_000)) as { updates?: string };
    const app = deps.state.apps.get(session.appName);
    if (!app) return json(res, 200, { ok: false, lines: [` !     App ${session.appName} no longer exists.`] });
    const p = planPush(parseRefUpdates(String(body.updates ?? '')), app.deployBranch, app.name);
    if (p.ok && p.build) session.planned = p.build;
    json(res, 200, p);
  }

  async function build(session: PushSession, req: IncomingMessage, res: ServerResponse, rev: string): Promise<void> {
    const planned = session.planned;
    if (!planned || rev !== planned.rev)
      return json(res, 409, { ok: false, lines: [' !     This push did not ask to build that commit.'] });
    session.planned = undefined;
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
    const write = (line: string) => {
      if (!res.destroyed) res.write(`${line}\n`);
    };
    // Cancel when the pushing client disconnects, or when the hook itself goes away.
    const abort = new AbortController();
    const onGone = () => abort.abort();
    session.signal.addEventListener('abort', onGone, { once: true });
    if (session.signal.aborted) abort.abort();
    res.on('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    let unlock: (() => void) | undefined;
    let built: () => void = () => undefined;
    try {
      try {
        unlock = await deps.locks.acquire({
          appName: session.appName,
          sha: rev,
          signal: abort.signal,
          onWait: (m) => write(`-----> ${m[0].toUpperCase()}${m.slice(1)}`),
        });
      } catch {
        // The client went away while waiting for the push ahead: nothing started.
        write(' !     Push cancelled.');
        res.end(`${EXIT_MARK}1\n`);
        return;
      }
      // Held until git has updated the ref (receive-pack exited), so the next push of this app
      // checks against the final ref; a receive-pack that never exits cannot hold the app forever.
      const buildDone = new Promise<void>((resolve) => (built = resolve));
      const release = unlock;
      void buildDone.then(() => Promise.race([session.finished, delay(REF_UPDATE_GRACE_MS)])).then(release);
      const repoDir = deps.repoDir(session.appName);
      const stale = await checkExpectedRef(repoDir, planned, session.appName);
      if (stale) {
        req.resume();
        write(` !     ${stale.message}`);
        if (stale.hint) write(` !     ${stale.hint}`);
        write(` !     Push rejected to ${session.appName}.`);
        res.end(`${EXIT_MARK}1\n`);
        return;
      }
      const outcome = await deps.builds.deploy({
        appName: session.appName,
        user: session.user,
        sourceVersion: rev,
        subject: subjectOf(req),
        source: req,
        signal: abort.signal,
        // Again just before releasing: the lock makes check-then-release atomic among pushes.
        beforeRelease: async () => {
          const moved = await checkExpectedRef(repoDir, planned, session.appName);
          if (moved) throw moved;
        },
        onEvent: (e) => {
          for (const line of pushLines(e)) write(line);
        },
      });
      res.end(`${EXIT_MARK}${outcome.error ? 1 : 0}\n`);
    } catch (err) {
      req.resume();
      throw err;
    } finally {
      built();
      if (!unlock) req.resume();
      session.signal.removeEventListener('abort', onGone);
    }
  }

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const session = sessionOf(req);
    if (!session)
      return json(res, 403, {
        ok: false,
        lines: [' !     Slipway does not know this push; push through the Slipway git endpoint.'],
      });
    const url = new URL(req.url ?? '/', 'http://hook');
    const work =
      req.method === 'POST' && url.pathname === '/plan'
        ? plan(session, req, res)
        : req.method === 'POST' && url.pathname === '/build'
          ? build(session, req, res, url.searchParams.get('rev') ?? '')
          : Promise.resolve(json(res, 404, { ok: false, lines: [' !     unknown hook request'] }));
    work.catch((err: Error) => {
      log.error(`git hook: ${err.stack ?? err.message}`);
      if (!res.headersSent)
        json(res, 500, { ok: false, lines: [` !     Slipway could not handle this push: ${err.message}`] });
      else res.end(`\n !     Slipway could not handle this push: ${err.message}\n${EXIT_MARK}1\n`);
    });
  };

  const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

  return {
    async listen(socketPath) {
      fs.rmSync(socketPath, { force: true });
      server = createServer(handler);
      server.requestTimeout = 0; // builds stream for up to the build time limit
      await new Promise<void>((resolve, reject) => {
        server!.once('error', reject);
        const old = process.umask(0o177);
        try {
          server!.listen(socketPath, () => resolve());
        } finally {
          process.umask(old);
        }
      });
      fs.chmodSync(socketPath, 0o600);
    },
    async close() {
      if (!server) return;
      const closed = new Promise<void>((resolve) => server!.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
