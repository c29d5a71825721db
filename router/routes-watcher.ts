import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildRouteTable, EMPTY_TABLE, parseRoutesFile, type RouteTable } from './route-table';
import { createLogger } from '../common/logger';

const log = createLogger('slipway-router');

/**
 * Watches run/routes.json. The server replaces it by rename, so we watch the directory (a watch on
 * the file would follow the old inode) and re-read on any event naming it; a 500 ms stat poll
 * covers file systems where inotify events get lost. A file that does not parse keeps the current
 * table: a half-written or hand-broken file never takes routing down.
 */
export interface RoutesWatcher {
  current(): RouteTable;
  close(): void;
}

export function loadRoutesFile(file: string): RouteTable {
  if (!fs.existsSync(file)) return EMPTY_TABLE;
  return buildRouteTable(parseRoutesFile(JSON.parse(fs.readFileSync(file, 'utf8'))));
}

export function watchRoutes(file: string, onChange: (table: RouteTable) => void, pollMs = 500): RoutesWatcher {
  let table = EMPTY_TABLE;
  let stamp = '';
  const stampOf = () => {
    try {
      const st = fs.statSync(file);
      return `${st.ino}:${st.mtimeMs}:${st.size}`;
    } catch {
      return 'missing';
    }
  };
  const reload = () => {
    const now = stampOf();
    if (now === stamp) return;
    try {
      const next = loadRoutesFile(file);
      stamp = now;
      table = next;
      onChange(table);
    } catch (err) {
      stamp = now; // do not retry the same broken file every poll
      log.error(`kept the previous routes, ${path.basename(file)} is invalid: ${(err as Error).message}`);
    }
  };
  reload();
  fs.mkdirSync(path.dirname(file), { recursive: true });
  let pending = false;
  const watcher = fs.watch(path.dirname(file), (_event, name) => {
    if (name !== null && name !== path.basename(file)) return;
    if (pending) return;
    pending = true;
    setImmediate(() => {
      pending = false;
      reload();
    });
  });
  watcher.on('error', (err) => log.error(`watching ${file}: ${err.message}`));
  const poll = setInterval(reload, pollMs);
  poll.unref();
  return {
    current: () => table,
    close() {
      watcher.close();
      clearInterval(poll);
    },
  };
}
