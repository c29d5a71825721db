import type { Db } from '../db';
import { SlipwayError } from '../../../common/errors';
import { assertDomain } from '../../../common/names';

/**
 * Custom domains (`slipway domains:add`). Host names are stored lowercased and unique across all
 * apps; a wildcard ("*.example.com") is its own entry and matches only when added as such.
 */
export interface DomainRow {
  id: number;
  appId: number;
  appName: string;
  hostname: string;
  createdAt: string;
}

interface RawDomain {
  id: number;
  app_id: number;
  app_name: string;
  hostname: string;
  created_at: string;
}

const toDomain = (r: RawDomain): DomainRow => ({
  id: r.id,
  appId: r.app_id,
  appName: r.app_name,
  hostname: r.hostname,
  createdAt: r.created_at,
});
const SELECT =
  'SELECT d.id, d.app_id, a.name AS app_name, d.hostname, d.created_at FROM domains d JOIN apps a ON a.id = d.app_id';

export function createDomainsRepo(db: Db) {
  return {
    /**
     * Adds a custom domain. platformDomain: names equal to or under it are refused, because
     * APP.platformDomain already belongs to the app called APP.
     */
    add(appId: number, hostname: string, opts: { platformDomain?: string } = {}): DomainRow {
      const host = assertDomain(hostname);
      const base = host.startsWith('*.') ? host.slice(2) : host;
      const pd = opts.platformDomain?.toLowerCase();
      if (pd && (base === pd || base.endsWith(`.${pd}`))) {
        throw new SlipwayError('INVALID_INPUT', `${host} is under the platform domain ${pd}`, {
          hint: `every app is already served at APP.${pd}; add a domain you own instead`,
        });
      }
      try {
        db.prepare('INSERT INTO domains (app_id, hostname) VALUES (?, ?)').run(appId, host);
      } catch (err) {
        if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
          const owner = this.find(host);
          throw new SlipwayError(
            'ALREADY_EXISTS',
            `domain ${host} is already added${owner ? ` to app ${owner.appName}` : ''}`,
            {
              hint: owner
                ? `remove it there first: slipway domains:remove ${host} -a ${owner.appName}`
                : 'remove it from its app first',
            },
          );
        }
        throw err;
      }
      return this.find(host)!;
    },
    find(hostname: string): DomainRow | undefined {
      const r = db.prepare(`${SELECT} WHERE d.hostname = ?`).get(hostname.toLowerCase()) as RawDomain | undefined;
      return r && toDomain(r);
    },
    remove(appId: number, hostname: string): void {
      const info = db
        .prepare('DELETE FROM domains WHERE app_id = ? AND hostname = ?')
        .run(appId, String(hostname).toLowerCase());
      if (info.changes === 0) {
        throw new SlipwayError('NOT_FOUND', `domain ${hostname} is not added to this app`, {
          hint: 'list them with: slipway domains',
        });
      }
    },
    listForApp(appId: number): DomainRow[] {
      return (db.prepare(`${SELECT} WHERE d.app_id = ? ORDER BY d.hostname`).all(appId) as RawDomain[]).map(toDomain);
    },
    list(): DomainRow[] {
      return (db.prepare(`${SELECT} ORDER BY a.name, d.hostname`).all() as RawDomain[]).map(toDomain);
    },
  };
}
export type DomainsRepo = ReturnType<typeof createDomainsRepo>;
