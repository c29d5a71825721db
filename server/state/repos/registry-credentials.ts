import type { Db } from '../db';
import type { Sealer } from '../crypto';

/**
 * Per-app credentials for pulling images from a registry (`slipway registry:login HOST -a APP`),
 * sealed at rest like config vars; opened only when an image deploy pulls from that host.
 */
export interface RegistryCredential {
  username: string;
  password: string;
}

export function createRegistryCredentialsRepo(db: Db, sealer: Sealer) {
  return {
    set(appId: number, host: string, cred: RegistryCredential): void {
      db.prepare(
        'INSERT INTO registry_credentials (app_id, host, secret_enc) VALUES (?, ?, ?) ON CONFLICT (app_id, host) DO UPDATE SET secret_enc = excluded.secret_enc',
      ).run(appId, host, sealer.seal(JSON.stringify(cred)));
    },
    get(appId: number, host: string): RegistryCredential | undefined {
      const r = db
        .prepare('SELECT secret_enc FROM registry_credentials WHERE app_id = ? AND host = ?')
        .get(appId, host) as { secret_enc: Buffer } | undefined;
      return r ? (JSON.parse(sealer.open(r.secret_enc)) as RegistryCredential) : undefined;
    },
    /** Hosts only: the secrets are never listed. */
    hosts(appId: number): string[] {
      return (
        db.prepare('SELECT host FROM registry_credentials WHERE app_id = ? ORDER BY host').all(appId) as Array<{
          host: string;
        }>
      ).map((r) => r.host);
    },
    remove(appId: number, host: string): boolean {
      return db.prepare('DELETE FROM registry_credentials WHERE app_id = ? AND host = ?').run(appId, host).changes > 0;
    },
  };
}
export type RegistryCredentialsRepo = ReturnType<typeof createRegistryCredentialsRepo>;
