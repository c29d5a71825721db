import { SlipwayError } from '../../common/errors';
import { assertAppName } from '../../common/names';
import type { ImageStore } from '../../buildpacks/oci/layout';
import { rebase } from '../../buildpacks/lifecycle/rebase';
import { readImage, runImageRef } from '../../buildpacks/lifecycle/analyze';
import type { LifecycleMetadata } from '../../buildpacks/lifecycle/types';
import type { ReleaseService, ReleaseUser } from '../releases';
import type { State } from '../state';
import type { ReleaseRow } from '../state/repos/releases';
import { createPackageReader, diffPackages, diffSummary, type PackageDiff } from './packages';

/**
 * Rebase releases (issue 18): vN+1 = the current release's image with its run image layers
 * swapped for the stack's current run image (stacks/STACK-run:latest); the app layers stay the
 * same blobs, the config snapshot and process types are vN's. It is deployed through the one
 * release path (releases.create → rollout), so a failed health check leaves vN serving.
 *
 * Refused ("needs a rebuild"): images without buildpack lifecycle metadata (not built by
 * buildpacks, e.g. a Dockerfile image), images labelled io.buildpacks.rebasable=false, and
 * images with a launch layer whose buildpack wrote `rebasable = false` under [metadata] in the
 * layer's TOML (native code compiled against the old base: the buildpack's way to say so).
 */
export type RebaseOutcome =
  | {
      app: string;
      status: 'rebased';
      from: number;
      to: number;
      description: string;
      ms: number;
      platformMs: number;
      release: ReleaseRow;
      packages?: PackageDiff;
    }
  | { app: string; status: 'current'; version: number; message: string; ms: number }
  | { app: string; status: 'needs-rebuild'; message: string; ms: number }
  | { app: string; status: 'failed'; from?: number; to?: number; message: string; ms: number };

export interface RebaserDeps {
  state: State;
  store: ImageStore;
  releases: Pick<ReleaseService, 'create' | 'rollout'>;
}

const rebuildHint = (app: string) => `rebuild it on the current stack: slipway builds:create -a ${app} (or git push)`;

/** Why this image cannot be rebased, or undefined when it can. */
export function rebaseRefusal(labels: Record<string, string>): string | undefined {
  const label = labels['io.buildpacks.lifecycle.metadata'];
  if (!label)
    return 'its image was not built by buildpacks (no lifecycle metadata; Dockerfile images are never rebased)';
  if (labels['io.buildpacks.rebasable'] === 'false') return 'its image is labelled io.buildpacks.rebasable=false';
  const meta = JSON.parse(label) as Partial<LifecycleMetadata>;
  for (const bp of meta.buildpacks ?? []) {
    for (const [name, layer] of Object.entries(bp.layers ?? {})) {
      if (layer.launch && layer.data?.rebasable === false)
        return `buildpack ${bp.key} marked its launch layer "${name}" as needing a rebuild for a new base (rebasable = false)`;
    }
  }
  return undefined;
}

export function createRebaser(deps: RebaserDeps) {
  const { state, store } = deps;
  const packages = createPackageReader(store);

  /** The run image's version tag (stacks/STACK-run:TAG pointing at :latest), for the description. */
  async function runVersion(stack: string, digest: string): Promise<string> {
    const tags = await store.listTags();
    const t = tags.find(
      (x) => x.ref.startsWith(`stacks/${stack}-run:`) && !x.ref.endsWith(':latest') && x.descriptor.digest === digest,
    );
    return t ? t.ref.split(':')[1] : digest.slice(7, 19);
  }

  /** Rebases APP's current release onto its stack's current run image; a no-op makes no release. */
  async function rebaseApp(
    appName: string,
    user: ReleaseUser | null,
    output: (l: string) => void = () => {},
  ): Promise<RebaseOutcome> {
    const started = Date.now();
    const ms = () => Date.now() - started;
    const app = state.apps.require(assertAppName(appName));
    const base = app.currentReleaseId ? state.releases.getById(app.currentReleaseId) : undefined;
    if (!base?.imageRef) {
      throw new SlipwayError('CONFLICT', `${app.name} has no deployed release to rebase`, {
        hint: 'deploy it first: git push slipway main',
      });
    }
    const image = await readImage(store, base.imageRef);
    if (!image)
      throw new SlipwayError('NOT_FOUND', `the image of ${app.name} v${base.version} is not in the image store`, {
        hint: rebuildHint(app.name),
      });
    const refusal = rebaseRefusal(image.config.config.Labels ?? {});
    if (refusal)
      return { app: app.name, status: 'needs-rebuild', message: `${app.name} needs a rebuild: ${refusal}`, ms: ms() };
    const runRef = runImageRef(app.stack);
    const run = await readImage(store, runRef);
    if (!run)
      throw new SlipwayError('NOT_FOUND', `the ${app.stack} run image is not in the image store`, {
        hint: 'build it: slipway stacks:update',
      });
    const meta = JSON.parse(image.config.config.Labels!['io.buildpacks.lifecycle.metadata']) as LifecycleMetadata;
    const top = run.config.rootfs.diff_ids.at(-1);
    const version = await runVersion(app.stack, run.manifestDigest);
    if (
      meta.runImage?.topLayer === top &&
      image.config.rootfs.diff_ids.slice(0, run.config.rootfs.diff_ids.length).join() ===
        run.config.rootfs.diff_ids.join()
    ) {
      return {
        app: app.name,
        status: 'current',
        version: base.version,
        message: `${app.name} v${base.version} already runs on ${app.stack}-run ${version}; nothing to do`,
        ms: ms(),
      };
    }
    const outRef = `apps/${app.name}:rebase-${base.version}-${Date.now().toString(36)}`;
    const { manifestDigest } = await rebase({ store, imageRef: base.imageRef, newRunImageRef: runRef, outRef });
    // What changed: the old run image's package list is in the app image's own base layers.
    const cut = image.config.rootfs.diff_ids.lastIndexOf(meta.runImage.topLayer);
    const [before, after] = await Promise.all([
      packages.packagesOf(image.manifest.layers.slice(0, cut + 1)),
      packages.packagesOf(run.manifest.layers),
    ]);
    const diff = before && after ? diffPackages(before, after) : undefined;
    const description = `Rebase onto ${app.stack}-run ${version}${diff ? ` (${diffSummary(diff)})` : ''}`;
    const pending = deps.releases.create(
      app.name,
      {
        kind: 'rebase',
        basedOn: base.id,
        release: {
          buildId: base.buildId,
          imageRef: outRef,
          imageDigest: manifestDigest,
          config: state.releases.configOf(base),
          processTypes: base.processTypes,
          releaseCommand: base.releaseCommand,
          // Only buildpack images are rebased (no run spec), but a release never loses how it runs.
          runSpec: base.runSpec,
          appJson: base.appJson,
          description,
        },
      },
      user,
    );
    // The platform's own part (image rewrite, package diff, vN record); the rest is the rollout.
    const platformMs = ms();
    output(`Rebased ${app.name} v${base.version} onto ${app.stack}-run ${version}; deploying v${pending.row.version}`);
    try {
      const release = await deps.releases.rollout(pending, output);
      return {
        app: app.name,
        status: 'rebased',
        from: base.version,
        to: release.version,
        description,
        ms: ms(),
        platformMs,
        release,
        packages: diff,
      };
    } catch (err) {
      return {
        app: app.name,
        status: 'failed',
        from: base.version,
        to: pending.row.version,
        message: (err as Error).message.split('\n')[0],
        ms: ms(),
      };
    }
  }

  /**
   * Every app on STACK with a deployed release, `concurrency` at a time; one app's failure is
   * its own outcome (it stays on its release) and never stops the others.
   */
  async function rebaseStack(
    stack: string,
    user: ReleaseUser | null,
    opts: { concurrency?: number; progress?: (line: string) => void } = {},
  ): Promise<RebaseOutcome[]> {
    const apps = state.apps.list().filter((a) => a.stack === stack && a.currentReleaseId);
    const out: RebaseOutcome[] = new Array(apps.length);
    let next = 0;
    let done = 0;
    const worker = async () => {
      while (next < apps.length) {
        const i = next++;
        const started = Date.now();
        let r: RebaseOutcome;
        try {
          r = await rebaseApp(apps[i].name, user);
        } catch (err) {
          r = {
            app: apps[i].name,
            status: 'failed',
            message: (err as Error).message.split('\n')[0],
            ms: Date.now() - started,
          };
        }
        out[i] = r;
        opts.progress?.(`[${++done}/${apps.length}] ${progressLine(r)}`);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.concurrency ?? 8, apps.length)) }, worker));
    return out;
  }

  return { rebaseApp, rebaseStack };
}
export type Rebaser = ReturnType<typeof createRebaser>;

/** `shop: v12 → v13 ok 1.4 s` and friends. */
export function progressLine(r: RebaseOutcome): string {
  const s = `${(r.ms / 1000).toFixed(1)} s`;
  switch (r.status) {
    case 'rebased':
      return `${r.app}: v${r.from} → v${r.to} ok ${s} (image rebased in ${r.platformMs} ms)`;
    case 'current':
      return `${r.app}: v${r.version} already current`;
    case 'needs-rebuild':
      return `${r.app}: needs a rebuild (${r.message.replace(/^[^:]*: /, '')})`;
    case 'failed':
      return `${r.app}: ${r.from ? `v${r.from} → v${r.to} ` : ''}failed ${s}: ${r.message} (stays on ${r.from ? `v${r.from}` : 'its release'})`;
  }
}

/** The end-of-run summary: counts per outcome. */
export function summaryLine(rs: RebaseOutcome[]): string {
  const n = (s: RebaseOutcome['status']) => rs.filter((r) => r.status === s).length;
  return `${n('rebased')} rebased, ${n('current')} already current, ${n('needs-rebuild')} need a rebuild, ${n('failed')} failed`;
}
