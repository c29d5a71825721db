import { SlipwayError, isSlipwayError } from '../../common/errors';
import type { Limits } from '../../common/limits';
import { checkFormation } from '../auth/limits';
import { assertAppName, assertProcessType } from '../../common/names';
import { parseHealthChecks } from '../runtime/healthchecks';
import { assertSize } from '../runtime/sizes';
import type { LogSink } from '../logs/types';
import type { DeployOutput } from '../runtime/types';
import type { State } from '../state';
import type { AppJsonRuntime, ImageRunSpec, NewRelease, ReleaseRow } from '../state/repos/releases';
import type { Runtime } from '../runtime';

/**
 * Releases: every deploy, config change and rollback makes a new immutable vN (image + config
 * snapshot + process types) and deploys it without downtime, all through `create`. A release
 * becomes current only when its web dynos passed their checks (runtime.stage returns then); a
 * failed one is marked failed and the previous release keeps serving.
 */
export interface ReleaseUser {
  id: number;
  email: string;
}

export interface ReleaseServiceDeps {
  state: State;
  runtime: Pick<Runtime, 'stage'>;
  logs: LogSink;
  /** Platform default limits: an app.json formation may not seed more dynos than the owner's limits (tests without limits leave it out). */
  limits?: Limits;
  /**
   * Puts vN's image where the runtime pulls it from before the rollout (the platform registry
   * when it is on: server/images/platform-registry.ts, wired in server/main.ts). Every release
   * kind passes here, so a build, a rebase, a rollback and a config change alike are in the
   * registry before any dyno of theirs starts; a failure fails vN like a failed start would.
   */
  publishImage?: (release: { app: string; version: number; imageRef: string }, output: DeployOutput) => Promise<void>;
}

export interface FromBuildInput {
  appName: string;
  buildId: string;
  /** The commit, as shown (short sha and subject): the release's description names it. */
  commit?: string;
  imageRef: string;
  imageDigest: string;
  processTypes: Record<string, string>;
  releaseCommand?: string;
  /** How the image runs without a launcher (Dockerfile and image deploys). */
  runSpec?: ImageRunSpec;
  /** app.json healthchecks/formation from the source, if any. */
  appJson?: AppJsonRuntime;
  user: ReleaseUser | null;
  output?: (line: string) => void;
}

/** Rejects app.json runtime fields that would only fail later, mid-deploy. */
function validateAppJson(appJson: AppJsonRuntime | undefined): void {
  if (!appJson) return;
  parseHealthChecks(appJson.healthchecks, 'web');
  const bt = appJson.bootTimeout;
  if (bt !== undefined && (typeof bt !== 'number' || !Number.isInteger(bt) || bt < 1 || bt > 86_400)) {
    throw new SlipwayError('INVALID_INPUT', 'app.json boot_timeout must be a whole number of seconds (1 or more)', {
      hint: 'fix app.json and push again; the platform maximum still applies (slipway ps:boot-timeout shows it)',
    });
  }
  for (const [type, f] of Object.entries(appJson.formation ?? {})) {
    assertProcessType(type);
    if (f.size !== undefined) assertSize(f.size);
    if (f.quantity !== undefined && (!Number.isInteger(f.quantity) || f.quantity < 0 || f.quantity > 100)) {
      throw new SlipwayError(
        'INVALID_INPUT',
        `app.json formation.${type}.quantity must be a whole number from 0 to 100`,
        { hint: 'fix app.json and push again' },
      );
    }
  }
}

/**
 * A release to make. Every kind (a build, a config change, a rollback; later a rebase or an
 * add-on attach) is one of these (a rebase: server/images/rebase.ts): what goes into vN and how to describe it. `restoreConfig`: the
 * app's config vars become the release's snapshot once it is current (rollbacks).
 */
export interface ReleaseSpec {
  kind: 'build' | 'config' | 'rollback' | 'rebase';
  release: Omit<NewRelease, 'userId'>;
  restoreConfig?: boolean;
  /**
   * The release (id) this one was derived from must still be current when it goes live (a rebase
   * of vN must not replace a vN+1 deployed meanwhile); checked in makeCurrent's transaction, under
   * the runtime's app lock, so it cannot race.
   */
  basedOn?: number;
}

/** A recorded release on its way: `rollout` deploys it. */
export interface PendingRelease {
  app: string;
  appId: number;
  row: ReleaseRow;
  spec: ReleaseSpec;
  user: ReleaseUser | null;
}

export function createReleaseService(deps: ReleaseServiceDeps) {
  const { state, runtime } = deps;

  /** The release becomes current (and, for a rollback, its config the app's) in one transaction. */
  function makeCurrent(rel: ReleaseRow, appId: number, restoreConfig: boolean, basedOn?: number): void {
    state.db
      .transaction(() => {
        if (basedOn !== undefined && state.apps.getById(appId)?.currentReleaseId !== basedOn) {
          throw new SlipwayError('CONFLICT', `another release became current while v${rel.version} was deployed`, {
            hint: 'the newer release keeps serving; run the command again if it still applies',
          });
        }
        state.releases.setStatus(rel.id, 'succeeded');
        state.apps.setCurrentRelease(appId, rel.id);
        if (restoreConfig) {
          const now = state.configVars.all(appId);
          const snapshot = state.releases.configOf(rel);
          state.configVars.update(
            appId,
            snapshot,
            Object.keys(now).filter((k) => !(k in snapshot)),
          );
        }
      })
      .immediate();
  }

  /** Records vN (pending) for a release of any kind; `rollout` deploys it. */
  function create(appName: string, spec: ReleaseSpec, user: ReleaseUser | null): PendingRelease {
    const app = state.apps.require(appName);
    const row = state.releases.create(app.id, { ...spec.release, userId: user?.id ?? null });
    return { app: app.name, appId: app.id, row, spec, user };
  }

  /**
   * The one deploy path of every release kind: run vN's release phase and stage its dynos
   * (runtime.stage), make it current once its web dynos are healthy, swap them in. A failure at
   * any point marks vN failed and the previous release keeps serving.
   */
  async function rollout(p: PendingRelease, output: DeployOutput = () => {}): Promise<ReleaseRow> {
    const { row: rel, spec } = p;
    const actor = p.user?.email ?? 'slipway';
    try {
      if (deps.publishImage && rel.imageRef)
        await deps.publishImage({ app: p.app, version: rel.version, imageRef: rel.imageRef }, output);
      const staged = await runtime.stage({ appName: p.app, release: rel, output });
      try {
        makeCurrent(rel, p.appId, spec.restoreConfig === true, spec.basedOn);
      } catch (err) {
        await staged.abandon();
        throw err;
      }
      await staged.swap();
    } catch (err) {
      state.releases.setStatus(rel.id, 'failed');
      state.events.add({
        appId: p.appId,
        appName: p.app,
        actor,
        action: 'release.fail',
        message: `v${rel.version} failed: ${(err as Error).message.split('\n')[0]}`,
        data: { version: rel.version },
      });
      deps.logs.write(p.app, {
        source: 'api',
        dyno: 'api',
        line: `Release v${rel.version} failed (${spec.release.description})`,
      });
      if (isSlipwayError(err)) throw err;
      const serving = state.apps.get(p.app)?.currentReleaseId ? 'the previous release keeps serving; ' : '';
      throw new SlipwayError('DEPLOY_FAILED', `v${rel.version} was not deployed: ${(err as Error).message}`, {
        hint: `${serving}see slipway logs -a ${p.app}`,
        cause: err,
      });
    }
    state.events.add({
      appId: p.appId,
      appName: p.app,
      actor,
      action: 'release.create',
      message: `${spec.release.description} (v${rel.version})`,
      data: { version: rel.version },
    });
    deps.logs.write(p.app, {
      source: 'api',
      dyno: 'api',
      line: `Release v${rel.version} created by ${actor}: ${spec.release.description}`,
    });
    return state.releases.getById(rel.id)!;
  }

  /** What a build's release holds: its image, process types and app.json, the app's config now. */
  function buildSpec(input: Omit<FromBuildInput, 'user' | 'output'>): ReleaseSpec {
    const app = state.apps.require(assertAppName(input.appName));
    validateAppJson(input.appJson);
    if (deps.limits) {
      // Only types without a formation row are seeded from app.json (a user's scale wins).
      const seeded: Record<string, number> = {};
      for (const [type, f] of Object.entries(input.appJson?.formation ?? {})) {
        if (f.quantity !== undefined && !state.formation.get(app.id, type)) seeded[type] = f.quantity;
      }
      if (Object.keys(seeded).length) checkFormation(state, { limits: deps.limits }, app, seeded);
    }
    return {
      kind: 'build',
      release: {
        buildId: input.buildId,
        imageRef: input.imageRef,
        imageDigest: input.imageDigest,
        config: state.configVars.all(app.id),
        processTypes: input.processTypes,
        releaseCommand: input.releaseCommand ?? null,
        runSpec: input.runSpec ?? null,
        appJson: input.appJson ?? {},
        description: input.commit ? `Deploy ${input.commit}` : `Deploy ${input.buildId.slice(0, 12)}`,
      },
    };
  }

  const release = (appName: string, spec: ReleaseSpec, user: ReleaseUser | null, output?: (l: string) => void) =>
    rollout(create(appName, spec, user), output);

  const baseRelease = (appName: string) => {
    const app = state.apps.require(appName);
    return app.currentReleaseId ? state.releases.getById(app.currentReleaseId) : undefined;
  };

  return {
    create,
    rollout,

    buildSpec,

    /** A build finished: vN with its image and the app's config now; release phase; deploy. */
    async createFromBuild(input: FromBuildInput): Promise<ReleaseRow> {
      return release(input.appName, buildSpec(input), input.user, input.output);
    },

    /** Config changed: a release with the same image and the new config, or none before the first build. */
    async configChanged(
      appName: string,
      user: ReleaseUser | null,
      description = 'Config change',
    ): Promise<ReleaseRow | undefined> {
      const base = baseRelease(assertAppName(appName));
      if (!base || !base.imageRef) return undefined;
      const app = state.apps.require(appName);
      return release(
        appName,
        {
          kind: 'config',
          release: {
            buildId: base.buildId,
            imageRef: base.imageRef,
            imageDigest: base.imageDigest,
            config: state.configVars.all(app.id),
            processTypes: base.processTypes,
            releaseCommand: base.releaseCommand,
            runSpec: base.runSpec,
            appJson: base.appJson,
            description,
          },
        },
        user,
      );
    },

    /** A new release with vN's image and config (the app's config vars become vN's again). */
    async rollback(appName: string, version: number, user: ReleaseUser | null): Promise<ReleaseRow> {
      const app = state.apps.require(assertAppName(appName));
      if (!Number.isInteger(version) || version < 1) {
        throw new SlipwayError('INVALID_INPUT', `${JSON.stringify(String(version))} is not a release version`, {
          hint: 'use the number after v, like: slipway releases:rollback v3',
        });
      }
      const target = state.releases.require(app.id, version, app.name);
      if (!target.imageRef) {
        throw new SlipwayError('CONFLICT', `v${version} has no image to roll back to`, {
          hint: `list releases with: slipway releases -a ${app.name}`,
        });
      }
      if (target.status === 'failed') {
        throw new SlipwayError('CONFLICT', `v${version} failed to deploy, so it cannot be rolled back to`, {
          hint: 'choose a release whose status is succeeded',
        });
      }
      return release(
        app.name,
        {
          kind: 'rollback',
          restoreConfig: true,
          release: {
            buildId: target.buildId,
            imageRef: target.imageRef,
            imageDigest: target.imageDigest,
            config: state.releases.configOf(target),
            processTypes: target.processTypes,
            releaseCommand: target.releaseCommand,
            runSpec: target.runSpec,
            appJson: target.appJson,
            description: `Rollback to v${version}`,
          },
        },
        user,
      );
    },

    list(appName: string): ReleaseRow[] {
      return state.releases.list(state.apps.require(assertAppName(appName)).id);
    },

    get(appName: string, version: number): ReleaseRow {
      const app = state.apps.require(assertAppName(appName));
      return state.releases.require(app.id, version, app.name);
    },
  };
}
export type ReleaseService = ReturnType<typeof createReleaseService>;
