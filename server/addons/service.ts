import type Docker from 'dockerode';
import { SlipwayError } from '../../common/errors';
import type { State } from '../state';
import type { AddonKind, AddonRow, AddonSecret, AttachmentRow } from '../state/repos/addons';
import type { AppRow } from '../state/repos/apps';
import type { UserRow } from '../state/repos/users';
import type { ReleaseUser } from '../releases';
import type { AppNetworks } from '../runtime/docker/networks';
import type { ConfigRelease } from './release-adapter';
import type { ServiceContainers } from './containers';
import type { ServiceImage } from '../../stacks/services';
import { createSupervisor, type ServiceHealth } from './supervisor';
import {
  assertAttachmentName,
  assertKind,
  assertPlan,
  defaultAttachmentName,
  generateName,
  generatePassword,
  assertAddonName,
  PLANS,
  serviceEnv,
  serviceUrl,
} from './plans';

/**
 * Add-on services (docs/addons.md): create/attach/detach/destroy, restart, credential rotation and
 * the commands of the attached clients. The database is the desired state; containers, volumes
 * and network connections follow it, and an app learns about a service only through a config
 * release (NAME_URL) made by the release adapter.
 */
export interface AddonServiceDeps {
  state: State;
  docker: Docker;
  home: string;
  stack: string;
  containers: ServiceContainers;
  networks: AppNetworks;
  configRelease: ConfigRelease;
  ensureImage(kind: AddonKind): Promise<ServiceImage>;
  rotateGraceMs: number;
  /** Refuses one more service for this owner when at their `addons` limit (server/auth/limits.ts). */
  checkLimit(ownerId: number, owned: number): void;
  healthIntervalMs: number;
  log?: (line: string) => void;
}

export interface AddonInfo {
  name: string;
  kind: AddonKind;
  version: string;
  plan: string;
  owner: string;
  createdAt: string;
  attachments: Array<{ app: string; as: string; configVar: string }>;
  health: ServiceHealth;
  backupSchedule: string | null;
}

const toUser = (u: UserRow): ReleaseUser => ({ id: u.id, email: u.email });

export function createAddonService(deps: AddonServiceDeps) {
  const { state, containers } = deps;
  const log = deps.log ?? ((l: string) => console.error(`slipway-server: ${l}`));
  const secretOf = (a: AddonRow) => state.addons.secret(a.id);
  const owned = (ownerId: number) => state.addons.list().filter((a) => a.ownerId === ownerId).length;
  const networksOf = (a: AddonRow) => state.addons.attachmentsOf(a.id).map((t) => deps.networks.nameOf(t.appName));

  async function ensure(addon: AddonRow): Promise<void> {
    const wanted = await Promise.all(state.addons.attachmentsOf(addon.id).map((t) => deps.networks.ensure(t.appName)));
    if (!(await containers.inspect(addon.name))) {
      // Missing container (removed by hand, or dockerd lost it): the image and the data volume
      // make it again; the password in the environment matters only for an empty volume.
      await deps.ensureImage(addon.kind);
      await containers.ensure(addon, serviceEnv(addon.kind, PLANS[addon.plan] ?? PLANS.small, secretOf(addon)), wanted);
    }
    await containers.setNetworks(addon.name, wanted);
  }

  const supervisor = createSupervisor({
    docker: deps.docker,
    home: deps.home,
    containers,
    healthIntervalMs: deps.healthIntervalMs,
    addon: (n) => state.addons.get(n),
    secret: secretOf,
    ensure,
    log: (_n, line) => log(line),
  });

  /** The service, if the user may use it: admins, its owner, and collaborators of an attached app. */
  function requireAddon(user: UserRow, rawName: string, ownerOnly = false): AddonRow {
    const name = assertAddonName(rawName);
    const a = state.addons.get(name);
    const allowed =
      a &&
      (user.isAdmin ||
        a.ownerId === user.id ||
        (!ownerOnly &&
          state.addons
            .attachmentsOf(a.id)
            .some(
              (t) =>
                state.collaborators.roleOf(t.appId, user.id) &&
                state.collaborators.roleOf(t.appId, user.id) !== 'viewer',
            )));
    if (!a || !allowed) {
      throw new SlipwayError('NOT_FOUND', `add-on ${name} does not exist`, { hint: 'list yours with: slipway addons' });
    }
    return a;
  }

  function configVarOf(t: { name: string }): string {
    return `${t.name}_URL`;
  }

  function checkFreeAttachment(app: AppRow, as: string): void {
    if (
      state.addons.attachmentsOfApp(app.id).some((t) => t.name === as) ||
      `${as}_URL` in state.configVars.all(app.id)
    ) {
      throw new SlipwayError('ALREADY_EXISTS', `app ${app.name} already has ${as}_URL`, {
        hint: `attach under another name: --as OTHER (the app then gets OTHER_URL), or unset ${as}_URL first`,
      });
    }
  }

  async function attachTo(addon: AddonRow, app: AppRow, as: string, user: UserRow): Promise<number | undefined> {
    state.addons.attach(addon.id, app.id, as);
    try {
      await ensure(addon);
      const rel = await deps.configRelease(
        app.name,
        { set: { [`${as}_URL`]: serviceUrl(addon.kind, addon.name, secretOf(addon)) } },
        toUser(user),
        `Attach ${addon.name} as ${as}`,
      );
      state.events.add({
        appId: app.id,
        appName: app.name,
        actor: user.email,
        action: 'addon.attach',
        message: `Attached ${addon.name} as ${as}`,
        data: { addon: addon.name },
      });
      return rel?.version;
    } catch (err) {
      // The release failed: the app keeps its previous release; the URL stays set (like config:set).
      if (err instanceof SlipwayError && err.code === 'DEPLOY_FAILED') throw err;
      state.addons.detach(addon.id, app.id);
      throw err;
    }
  }

  function info(addon: AddonRow): AddonInfo {
    return {
      name: addon.name,
      kind: addon.kind,
      version: addon.version,
      plan: addon.plan,
      owner: addon.ownerEmail,
      createdAt: addon.createdAt,
      attachments: state.addons
        .attachmentsOf(addon.id)
        .map((t) => ({ app: t.appName, as: t.name, configVar: configVarOf(t) })),
      health: supervisor.health(addon.name),
      backupSchedule: addon.backupAt,
    };
  }

  return {
    requireAddon,
    supervisor,
    secretOf,
    info,

    async create(input: {
      user: UserRow;
      app: AppRow;
      kind: unknown;
      plan?: unknown;
      as?: unknown;
      name?: unknown;
    }): Promise<AddonInfo & { release?: number }> {
      const kind = assertKind(input.kind);
      const plan = assertPlan(input.plan ?? 'small');
      const as = input.as === undefined ? defaultAttachmentName(kind) : assertAttachmentName(input.as);
      const name = input.name === undefined ? generateName(kind) : assertAddonName(input.name);
      checkFreeAttachment(input.app, as);
      if (state.addons.get(name))
        throw new SlipwayError('ALREADY_EXISTS', `an add-on named ${name} already exists`, {
          hint: 'choose another --name',
        });
      deps.checkLimit(input.app.ownerId, owned(input.app.ownerId));
      const image = await deps.ensureImage(kind);
      const secret: AddonSecret = { user: kind === 'postgres' ? 'app_a' : 'default', password: generatePassword() };
      const addon = state.addons.create({
        name,
        kind,
        ownerId: input.app.ownerId,
        plan: plan.name,
        version: image.version,
        image: image.dockerImage,
        secret,
      });
      try {
        state.addons.attach(addon.id, input.app.id, as);
        await ensure(addon);
        await supervisor.startOne(addon.name);
        await supervisor.waitHealthy(addon.name);
      } catch (err) {
        supervisor.forget(addon.name);
        await containers.remove(addon.name, true).catch(() => {});
        state.addons.delete(addon.id);
        throw err instanceof SlipwayError
          ? err
          : new SlipwayError('INTERNAL', `${name} could not start: ${(err as Error).message}`, {
              hint: 'see the server log; nothing was kept',
              cause: err,
            });
      }
      state.events.add({
        appId: input.app.id,
        appName: input.app.name,
        actor: input.user.email,
        action: 'addon.create',
        message: `Created ${name} (${kind} ${image.version}, ${plan.name})`,
        data: { addon: name },
      });
      const rel = await deps.configRelease(
        input.app.name,
        { set: { [`${as}_URL`]: serviceUrl(kind, name, secret) } },
        toUser(input.user),
        `Attach ${name} as ${as}`,
      );
      return { ...info(addon), ...(rel ? { release: rel.version } : {}) };
    },

    /** A new service attached to nothing (upgrades restore into it before the swap). Started and healthy. */
    async provision(input: { kind: AddonKind; plan: string; ownerId: number }): Promise<AddonRow> {
      const plan = assertPlan(input.plan);
      deps.checkLimit(input.ownerId, owned(input.ownerId));
      const image = await deps.ensureImage(input.kind);
      const secret: AddonSecret = {
        user: input.kind === 'postgres' ? 'app_a' : 'default',
        password: generatePassword(),
      };
      const addon = state.addons.create({
        name: generateName(input.kind),
        kind: input.kind,
        ownerId: input.ownerId,
        plan: plan.name,
        version: image.version,
        image: image.dockerImage,
        secret,
      });
      try {
        await ensure(addon);
        await supervisor.startOne(addon.name);
        await supervisor.waitHealthy(addon.name);
      } catch (err) {
        supervisor.forget(addon.name);
        await containers.remove(addon.name, true).catch(() => {});
        state.addons.delete(addon.id);
        throw err;
      }
      return addon;
    },

    /**
     * Moves every attachment of `from` to `to` under the same name: `to` joins the app's network,
     * the app is released with to's URL, then `from` leaves the network (it is kept, detached).
     */
    async swap(from: AddonRow, to: AddonRow, user: UserRow): Promise<Record<string, number | null>> {
      const releases: Record<string, number | null> = {};
      for (const t of state.addons.attachmentsOf(from.id)) {
        state.db.transaction(() => {
          state.addons.detach(from.id, t.appId);
          state.addons.attach(to.id, t.appId, t.name);
        })();
        await ensure(to);
        const rel = await deps.configRelease(
          t.appName,
          { set: { [configVarOf(t)]: serviceUrl(to.kind, to.name, secretOf(to)) } },
          toUser(user),
          `Move ${t.name} from ${from.name} to ${to.name}`,
        );
        releases[t.appName] = rel?.version ?? null;
        await containers.setNetworks(from.name, networksOf(from));
        state.events.add({
          appId: t.appId,
          appName: t.appName,
          actor: user.email,
          action: 'addon.swap',
          message: `${configVarOf(t)} moved from ${from.name} to ${to.name}`,
          data: { from: from.name, to: to.name },
        });
      }
      return releases;
    },

    list(user: UserRow, app?: AppRow): AddonInfo[] {
      const all = app
        ? state.addons.attachmentsOfApp(app.id).map((t) => state.addons.get(t.addonName)!)
        : state.addons.list();
      return all
        .filter((a) => {
          try {
            return !!requireAddon(user, a.name);
          } catch {
            return false;
          }
        })
        .map(info);
    },

    async attach(addon: AddonRow, app: AppRow, rawAs: unknown, user: UserRow): Promise<{ release?: number }> {
      if (app.ownerId !== addon.ownerId) {
        throw new SlipwayError(
          'FORBIDDEN',
          `${addon.name} belongs to ${addon.ownerEmail}, and app ${app.name} has another owner`,
          {
            hint: 'a service is shared only between apps of the same owner',
          },
        );
      }
      if (state.addons.attachmentsOf(addon.id).some((t) => t.appId === app.id)) {
        throw new SlipwayError('ALREADY_EXISTS', `${addon.name} is already attached to ${app.name}`, {
          hint: `see: slipway addons:info ${addon.name}`,
        });
      }
      const as = rawAs === undefined ? defaultAttachmentName(addon.kind) : assertAttachmentName(rawAs);
      checkFreeAttachment(app, as);
      const version = await attachTo(addon, app, as, user);
      return version ? { release: version } : {};
    },

    async detach(addon: AddonRow, app: AppRow, user: UserRow): Promise<{ release?: number }> {
      const t = state.addons.attachmentsOf(addon.id).find((x) => x.appId === app.id);
      if (!t)
        throw new SlipwayError('NOT_FOUND', `${addon.name} is not attached to ${app.name}`, {
          hint: `see: slipway addons:info ${addon.name}`,
        });
      // The release first (new dynos without the URL), then the network leaves the app.
      const rel = await deps.configRelease(app.name, { unset: [configVarOf(t)] }, toUser(user), `Detach ${addon.name}`);
      state.addons.detach(addon.id, app.id);
      await containers.setNetworks(addon.name, networksOf(addon));
      state.events.add({
        appId: app.id,
        appName: app.name,
        actor: user.email,
        action: 'addon.detach',
        message: `Detached ${addon.name}`,
        data: { addon: addon.name },
      });
      return rel ? { release: rel.version } : {};
    },

    async destroy(addon: AddonRow, force: boolean, user: UserRow): Promise<{ detached: string[] }> {
      const attached = state.addons.attachmentsOf(addon.id);
      if (attached.length && !force) {
        throw new SlipwayError(
          'CONFLICT',
          `${addon.name} is attached to ${attached.map((t) => t.appName).join(', ')}`,
          {
            hint: `detach it first (slipway addons:detach ${addon.name} -a APP), or destroy with --force to detach it everywhere and delete its data`,
          },
        );
      }
      for (const t of attached) {
        await deps
          .configRelease(t.appName, { unset: [configVarOf(t)] }, toUser(user), `Detach ${addon.name} (destroyed)`)
          .catch((err: Error) => log(`detaching ${addon.name} from ${t.appName}: ${err.message}`));
        state.addons.detach(addon.id, t.appId);
      }
      await supervisor.hold(addon.name, async () => {
        state.addons.delete(addon.id);
        await containers.remove(addon.name, true);
      });
      supervisor.forget(addon.name);
      state.events.add({
        appName: null,
        actor: user.email,
        action: 'addon.destroy',
        message: `Destroyed ${addon.name} and its data`,
        data: { addon: addon.name },
      });
      return { detached: attached.map((t) => t.appName) };
    },

    async restart(addon: AddonRow): Promise<void> {
      await supervisor.hold(addon.name, async () => {
        await containers.stop(addon.name);
        await supervisor.startOne(addon.name);
      });
      await supervisor.waitHealthy(addon.name);
    },

    /**
     * New password; attached apps are released with the new URL while the old password still
     * works, then (after rotateGraceMs, when old dynos have drained) the old one is revoked.
     */
    async rotate(addon: AddonRow, user: UserRow): Promise<{ releases: Record<string, number | null> }> {
      const old = secretOf(addon);
      const next: AddonSecret = {
        user: addon.kind === 'postgres' ? (old.user === 'app_a' ? 'app_b' : 'app_a') : old.user,
        password: generatePassword(),
      };
      if (addon.kind === 'postgres') await sql(addon, `ALTER ROLE ${next.user} WITH LOGIN PASSWORD '${next.password}'`);
      else await redis(addon, old, ['ACL', 'SETUSER', old.user, 'on', `>${next.password}`]);
      state.addons.setSecret(addon.id, next);
      const releases: Record<string, number | null> = {};
      for (const t of state.addons.attachmentsOf(addon.id)) {
        const rel = await deps.configRelease(
          t.appName,
          { set: { [configVarOf(t)]: serviceUrl(addon.kind, addon.name, next) } },
          toUser(user),
          `Rotate credentials of ${addon.name}`,
        );
        releases[t.appName] = rel?.version ?? null;
      }
      await new Promise((r) => setTimeout(r, deps.rotateGraceMs));
      if (addon.kind === 'postgres') {
        await sql(addon, `ALTER ROLE ${old.user} WITH NOLOGIN PASSWORD NULL`);
        await sql(addon, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '${old.user}'`);
      } else {
        await redis(addon, next, ['ACL', 'SETUSER', old.user, `<${old.password}`]);
        await redis(addon, next, ['ACL', 'SAVE']);
      }
      state.events.add({
        appName: null,
        actor: user.email,
        action: 'addon.rotate',
        message: `Rotated the credentials of ${addon.name}`,
        data: { addon: addon.name },
      });
      return { releases };
    },

    /** The client command of `addons:psql` / `addons:redis-cli`, with the app's own credential. */
    shellCommand(addon: AddonRow): { cmd: string[]; env: string[] } {
      const s = secretOf(addon);
      return addon.kind === 'postgres'
        ? {
            cmd: ['psql', '-h', '127.0.0.1', '-U', s.user, '-d', 'app'],
            env: [`PGPASSWORD=${s.password}`, 'PAGER=cat'],
          }
        : { cmd: ['redis-cli', '-h', '127.0.0.1', '--user', s.user], env: [`REDISCLI_AUTH=${s.password}`] };
    },

    /** An app is being destroyed: its attachments go, and services leave its network first. */
    async appDestroyed(app: AppRow): Promise<void> {
      for (const t of state.addons.attachmentsOfApp(app.id)) {
        state.addons.detach(t.addonId, app.id);
        const a = state.addons.get(t.addonName);
        if (a)
          await containers
            .setNetworks(a.name, networksOf(a))
            .catch((err: Error) => log(`leaving ${app.name}'s network: ${err.message}`));
      }
    },

    attachmentsOfApp: (app: AppRow): AttachmentRow[] => state.addons.attachmentsOfApp(app.id),
    async start(): Promise<void> {
      await supervisor.start(state.addons.list().map((a) => a.name));
    },
    stop: () => supervisor.stop(),
  };

  async function sql(addon: AddonRow, statement: string): Promise<string> {
    const r = await containers.execText(addon.name, [
      'psql',
      '-X',
      '-q',
      '-v',
      'ON_ERROR_STOP=1',
      '-U',
      'postgres',
      '-d',
      'app',
      '-c',
      statement,
    ]);
    if (r.code !== 0)
      throw new SlipwayError('INTERNAL', `${addon.name}: ${r.stderr.trim() || `psql exited with ${r.code}`}`, {
        hint: `see slipway addons:info ${addon.name}`,
      });
    return r.stdout;
  }

  async function redis(addon: AddonRow, secret: AddonSecret, args: string[]): Promise<string> {
    const r = await containers.execText(addon.name, ['redis-cli', '-h', '127.0.0.1', '--user', secret.user, ...args], {
      env: [`REDISCLI_AUTH=${secret.password}`],
    });
    if (r.code !== 0 || /^(ERR|WRONGPASS|NOAUTH)/m.test(r.stdout)) {
      throw new SlipwayError('INTERNAL', `${addon.name}: ${(r.stdout + r.stderr).trim()}`, {
        hint: `see slipway addons:info ${addon.name}`,
      });
    }
    return r.stdout;
  }
}
export type AddonService = ReturnType<typeof createAddonService>;
