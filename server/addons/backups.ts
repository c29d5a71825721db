import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { SlipwayError } from '../../common/errors';
import type { State } from '../state';
import type { AddonRow, BackupRow } from '../state/repos/addons';
import type { ServiceContainers } from './containers';
import type { AddonService } from './service';

/**
 * Backups (docs/addons.md "Backups"): PostgreSQL as `pg_dump -Fc` (custom format), Redis as its
 * RDB snapshot after BGSAVE. Files live in SLIPWAY_HOME/backups/SERVICE/ID.(dump|rdb); a backup is
 * reported done only after it was read back (`pg_restore --list` / `redis-check-rdb`). The newest
 * `retain` succeeded backups of a service are kept. Restore goes into the same or another service
 * of the same kind and owner. An optional daily time (UTC) captures one automatically.
 */
export interface BackupDeps {
  state: State;
  home: string;
  containers: ServiceContainers;
  addons: AddonService;
  retain: number;
  log?: (line: string) => void;
}

export function createBackups(deps: BackupDeps) {
  const { state, containers } = deps;
  const dir = (name: string) => path.join(deps.home, 'backups', name);
  const running = new Set<string>();
  let timer: NodeJS.Timeout | undefined;

  async function execToFile(
    name: string,
    cmd: string[],
    file: string,
    env?: string[],
  ): Promise<{ code: number; stderr: string }> {
    const out = fs.createWriteStream(file, { mode: 0o600 });
    const err = new PassThrough();
    let stderr = '';
    err.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
    const closed = new Promise<void>((resolve, reject) => out.on('close', resolve).on('error', reject));
    const code = await containers.exec(name, cmd, { env, stdout: out, stderr: err });
    out.end();
    await closed;
    return { code, stderr };
  }

  async function capturePostgres(addon: AddonRow, file: string): Promise<void> {
    const dump = await execToFile(addon.name, ['pg_dump', '-Fc', '-U', 'postgres', '-d', 'app'], file);
    if (dump.code !== 0) throw new Error(`pg_dump exited with ${dump.code}: ${dump.stderr.trim()}`);
    const list = await containers.execText(addon.name, ['pg_restore', '--list'], { stdin: fs.createReadStream(file) });
    if (list.code !== 0 || !/Archive created at/.test(list.stdout))
      throw new Error(`the dump is not readable (pg_restore --list: ${list.stderr.trim() || list.code})`);
  }

  async function captureRedis(addon: AddonRow, file: string): Promise<void> {
    const s = deps.addons.secretOf(addon);
    const cli = (args: string[]) =>
      containers.execText(addon.name, ['redis-cli', '-h', '127.0.0.1', '--user', s.user, ...args], {
        env: [`REDISCLI_AUTH=${s.password}`],
      });
    const before = Number((await cli(['LASTSAVE'])).stdout.trim());
    const bg = await cli(['BGSAVE']);
    if (bg.code !== 0 || /^ERR/m.test(bg.stdout)) throw new Error(`BGSAVE failed: ${(bg.stdout + bg.stderr).trim()}`);
    const deadline = Date.now() + 10 * 60_000;
    for (;;) {
      const info = (await cli(['INFO', 'persistence'])).stdout;
      const last = Number((await cli(['LASTSAVE'])).stdout.trim());
      if (!/rdb_bgsave_in_progress:1/.test(info) && last >= before && /rdb_last_bgsave_status:ok/.test(info)) break;
      if (/rdb_last_bgsave_status:err/.test(info)) throw new Error('BGSAVE failed (see the service log)');
      if (Date.now() > deadline) throw new Error('BGSAVE did not finish within 10 minutes');
      await new Promise((r) => setTimeout(r, 200));
    }
    const check = await containers.execText(addon.name, ['redis-check-rdb', '/data/dump.rdb']);
    if (check.code !== 0)
      throw new Error(`the snapshot is not readable (redis-check-rdb: ${check.stdout.trim().split('\n').pop()})`);
    const copy = await execToFile(addon.name, ['cat', '/data/dump.rdb'], file);
    if (copy.code !== 0) throw new Error(`copying the snapshot failed: ${copy.stderr.trim()}`);
    const head = Buffer.alloc(5);
    const fd = fs.openSync(file, 'r');
    fs.readSync(fd, head, 0, 5, 0);
    fs.closeSync(fd);
    if (head.toString() !== 'REDIS') throw new Error('the copied snapshot is not an RDB file');
  }

  function prune(addonName: string): void {
    const done = state.addons.backupsOf(addonName).filter((b) => b.status === 'succeeded');
    for (const b of done.slice(deps.retain)) {
      fs.rmSync(b.file, { force: true });
      state.addons.deleteBackup(b.id);
    }
    // The three newest failed attempts are kept for their error messages.
    for (const b of state.addons
      .backupsOf(addonName)
      .filter((x) => x.status === 'failed')
      .slice(3)) {
      fs.rmSync(b.file, { force: true });
      state.addons.deleteBackup(b.id);
    }
  }

  async function capture(addon: AddonRow, scheduled = false): Promise<BackupRow> {
    if (running.has(addon.name)) {
      throw new SlipwayError('CONFLICT', `a backup of ${addon.name} is already running`, {
        hint: `wait for it: slipway addons:backups ${addon.name}`,
      });
    }
    running.add(addon.name);
    fs.mkdirSync(dir(addon.name), { recursive: true, mode: 0o700 });
    const row = state.addons.addBackup({
      addonId: addon.id,
      addonName: addon.name,
      ownerId: addon.ownerId,
      kind: addon.kind,
      file: '',
      scheduled,
    });
    const file = path.join(dir(addon.name), `b${row.id}.${addon.kind === 'postgres' ? 'dump' : 'rdb'}`);
    try {
      state.addons.setBackupFile(row.id, file);
      if (addon.kind === 'postgres') await capturePostgres(addon, file);
      else await captureRedis(addon, file);
      state.addons.finishBackup(row.id, { status: 'succeeded', size: fs.statSync(file).size });
    } catch (err) {
      state.addons.finishBackup(row.id, { status: 'failed', error: (err as Error).message.slice(0, 500) });
      fs.rmSync(file, { force: true });
      throw new SlipwayError('INTERNAL', `the backup of ${addon.name} failed: ${(err as Error).message}`, {
        hint: `see slipway addons:info ${addon.name}; the service is unchanged`,
      });
    } finally {
      running.delete(addon.name);
    }
    prune(addon.name);
    return state.addons.backup(row.id)!;
  }

  async function restore(target: AddonRow, backup: BackupRow): Promise<void> {
    if (backup.status !== 'succeeded' || !fs.existsSync(backup.file)) {
      throw new SlipwayError('CONFLICT', `backup b${backup.id} is not restorable (${backup.status})`, {
        hint: `choose a succeeded one: slipway addons:backups ${backup.addonName}`,
      });
    }
    if (backup.kind !== target.kind) {
      throw new SlipwayError(
        'INVALID_INPUT',
        `b${backup.id} is a ${backup.kind} backup and ${target.name} is ${target.kind}`,
        { hint: 'restore into a service of the same kind' },
      );
    }
    if (target.kind === 'postgres') {
      // As app_owner, so restored objects belong to the apps' role whatever owned them before.
      const r = await containers.execText(
        target.name,
        [
          'pg_restore',
          '-U',
          'postgres',
          '-d',
          'app',
          '--clean',
          '--if-exists',
          '--no-owner',
          '--no-acl',
          '--role=app_owner',
          '--single-transaction',
          '--exit-on-error',
        ],
        { stdin: fs.createReadStream(backup.file) },
      );
      if (r.code !== 0)
        throw new SlipwayError('INTERNAL', `pg_restore into ${target.name} failed: ${r.stderr.trim().slice(0, 1000)}`, {
          hint: 'the restore ran in one transaction, so the database is unchanged',
        });
      return;
    }
    const put = await containers.execText(
      target.name,
      ['sh', '-c', 'cat >/data/restore.rdb.tmp && mv /data/restore.rdb.tmp /data/restore.rdb'],
      { stdin: fs.createReadStream(backup.file) },
    );
    if (put.code !== 0)
      throw new SlipwayError('INTERNAL', `copying b${backup.id} into ${target.name} failed: ${put.stderr.trim()}`);
    // The entry point moves restore.rdb over the snapshot Redis writes as it stops.
    await deps.addons.restart(target);
  }

  function scheduleTick(): void {
    const now = new Date();
    for (const a of state.addons.list()) {
      if (!a.backupAt || running.has(a.name)) continue;
      const [h, m] = a.backupAt.split(':').map(Number);
      const due = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), h, m));
      if (now < due) continue;
      const last = state.addons.lastScheduled(a.id);
      if (last && Date.parse(last) >= due.getTime()) continue;
      capture(a, true).catch((err: Error) => deps.log?.(`scheduled backup of ${a.name}: ${err.message}`));
    }
  }

  return {
    capture,
    restore,
    list: (addonName: string) => state.addons.backupsOf(addonName),
    /** b12 or 12, of a service this user may use. */
    find(raw: string): BackupRow {
      const m = /^b?(\d+)$/.exec(String(raw));
      const b = m ? state.addons.backup(Number(m[1])) : undefined;
      if (!b)
        throw new SlipwayError('NOT_FOUND', `no backup ${raw}`, {
          hint: 'list them with: slipway addons:backups NAME',
        });
      return b;
    },
    setSchedule(addon: AddonRow, at: string | null): void {
      if (at !== null && !/^([01]\d|2[0-3]):[0-5]\d$/.test(at)) {
        throw new SlipwayError('INVALID_INPUT', `${JSON.stringify(at)} is not a time of day`, {
          hint: 'use HH:MM in UTC, like --at 02:30',
        });
      }
      state.addons.setBackupAt(addon.id, at);
    },
    start(): void {
      // A daily backup missed while the server was down is taken at start.
      scheduleTick();
      timer = setInterval(scheduleTick, 60_000);
      timer.unref?.();
    },
    stop(): void {
      clearInterval(timer);
    },
  };
}
export type Backups = ReturnType<typeof createBackups>;
