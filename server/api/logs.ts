import { Router } from 'express';
import { SlipwayError } from '../../common/errors';
import { formatLogEntry } from '../logs/format';
import { LINES_PER_APP } from '../logs/hub';
import type { LogEntry, LogSource } from '../logs/types';
import { appFor, auth, intParam, type ApiDeps } from './context';

const SOURCES = ['app', 'router', 'build', 'api', 'platform'];
const HEARTBEAT_MS = 25_000;

/**
 * Log sessions. GET /api/apps/:app/logs?lines=N&source=S&dyno=web|web.1&tail=1&format=text|json
 * answers the buffered lines (text/plain in Heroku's format, or NDJSON with format=json); with
 * tail=1 the response stays open and each new line is written as it arrives (no buffering on the
 * way: Nagle off, one write per line).
 */
export function createLogsRoutes(deps: Pick<ApiDeps, 'state' | 'logs' | 'sessions'>): Router {
  const r = Router();

  r.get('/apps/:app/logs', (req, res) => {
    const app = appFor(deps, req, res, 'logs');
    const q = req.query as Record<string, string | undefined>;
    const lines = intParam(q.lines, 'lines', 0, LINES_PER_APP) ?? 100;
    const source = q.source || undefined;
    if (source !== undefined && !SOURCES.includes(source)) {
      throw new SlipwayError('INVALID_INPUT', `${JSON.stringify(source)} is not a log source`, {
        hint: `use one of ${SOURCES.join(', ')}`,
      });
    }
    const dyno = q.dyno || undefined;
    if (dyno !== undefined && !/^[A-Za-z0-9_.-]{1,64}$/.test(dyno)) {
      throw new SlipwayError('INVALID_INPUT', `${JSON.stringify(dyno)} is not a process type or dyno name`, {
        hint: 'use a process type (web) or a dyno (web.1)',
      });
    }
    const tail = q.tail === '1' || q.tail === 'true';
    const json = q.format === 'json';
    const filter = { source: source as LogSource | undefined, dyno };
    const fmt = (e: LogEntry) => (json ? JSON.stringify(e) : formatLogEntry(e)) + '\n';

    res.status(200);
    res.setHeader('Content-Type', json ? 'application/x-ndjson; charset=utf-8' : 'text/plain; charset=utf-8');
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Accel-Buffering', 'no');
    const backlog = deps.logs.tail(app.name, { lines, ...filter });
    if (!tail) {
      res.end(backlog.map(fmt).join(''));
      return;
    }
    res.socket?.setNoDelay(true);
    res.flushHeaders();
    if (backlog.length) res.write(backlog.map(fmt).join(''));
    const { user } = auth(res);
    const unsubscribe = deps.logs.subscribe(app.name, (e) => {
      if (filter.source && e.source !== filter.source) return;
      if (filter.dyno && e.dyno !== filter.dyno && !e.dyno.startsWith(filter.dyno + '.')) return;
      res.write(fmt(e));
    });
    // Revocation applies to open sessions too: re-check the token now and then. A server that is
    // shutting down (no longer listening) ends its sessions at once instead of waiting them out.
    const server = (req.socket as { server?: { listening?: boolean } }).server;
    let ticks = 0;
    const check = setInterval(() => {
      // Close the connection too: a client that keeps its idle keep-alive socket would hold server.close().
      if (server && server.listening === false) return void res.end(() => req.socket.end());
      if (++ticks % (HEARTBEAT_MS / 1000) !== 0) return;
      const still = deps.state.users.getToken((res.locals.auth as { tokenId: number }).tokenId);
      const owner = deps.state.users.getById(user.id);
      if (!still || still.revokedAt || !owner || owner.disabledAt) return res.end();
      if (!json) return; // text clients get no heartbeat noise; the socket's close ends the session
      res.write(JSON.stringify({ heartbeat: new Date().toISOString() }) + '\n');
    }, 1000);
    const tokenId = (res.locals.auth as { tokenId: number }).tokenId;
    const unregister = deps.sessions?.add(tokenId, () => res.end()) ?? (() => {});
    const done = () => {
      clearInterval(check);
      unsubscribe();
      unregister();
    };
    req.on('close', done);
    res.on('close', done);
  });

  return r;
}
