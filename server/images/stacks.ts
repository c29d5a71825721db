import * as fs from 'node:fs';
import * as path from 'node:path';
import type Docker from 'dockerode';
import type { HomePaths, SlipwayConfig } from '../../common/config';
import { SlipwayError } from '../../common/errors';
import { createLogger } from '../../common/logger';
import type { ImageStore } from '../../buildpacks/oci/layout';
import { ensureStack } from '../../stacks/builder';
import { knownStacks, stackInfo } from '../../stacks/info';
import type { State } from '../state';
import type { AppRow } from '../state/repos/apps';
import type { ReleaseService } from '../releases';
import { createRebaser, progressLine, summaryLine, type RebaseOutcome } from './rebase';
import { checkStack, type StackCheckResult } from './stack-check';
import { createPackageReader, diffPackages, type PackageDiff } from './packages';
import { readImage } from '../../buildpacks/lifecycle/analyze';

const log = createLogger('slipway-server');

export interface StackInfo {
  name: string;
  default: boolean;
  buildDigest: string | null;
  runDigest: string | null;
  version: string | null;
  versions: string[];
  apps: string[];
  /** Apps per run image version their current release runs on ("unknown": not a buildpack image, or a version no longer tagged). */
  appsByVersion: Record<string, number>;
}

/**
 * Stacks: what the store holds (stacks/NAME-KIND:TAG) and which apps use each stack; `update`
 * rebuilds both images with fresh security updates under a new tag (one at a time; it takes a
 * minute or two). Apps pick the new run image up on their next build or rebase (rebaseStack).
 */
export function createStackService(deps: {
  state: State;
  store: ImageStore;
  docker: Docker;
  paths: HomePaths;
  config: Pick<
    SlipwayConfig,
    'stack' | 'stackAutoRebase' | 'stackRebaseConcurrency' | 'debianMirror' | 'debianSecurityMirror'
  >;
  releases: Pick<ReleaseService, 'create' | 'rollout'>;
  /** Records an event (`slipway events`) by ACTOR ('slipway' for the daily check). */
  event?: (actor: string, e: { action: string; message: string; data?: Record<string, unknown> }) => void;
}) {
  /** What runs now: one stack update or update check at a time, whoever started it. */
  let busy: string | undefined;
  const rebaser = createRebaser(deps);
  const packages = createPackageReader(deps.store);
  const event = (actor: string, e: { action: string; message: string; data?: Record<string, unknown> }) => {
    log.info(`${e.action}: ${e.message}`);
    deps.event?.(actor, e);
  };

  async function exclusive<T>(what: string, fn: () => Promise<T>): Promise<T> {
    if (busy)
      throw new SlipwayError('CONFLICT', `${busy} is already running`, {
        hint: 'one stack update or update check runs at a time: wait for it to finish, then see slipway stacks',
      });
    busy = what;
    try {
      return await fn();
    } finally {
      busy = undefined;
    }
  }

  /** Rebuilds STACK's images with fresh updates under a new version tag. */
  async function rebuild(stack: string) {
    const started = Date.now();
    const images = await ensureStack({
      stack,
      store: deps.store,
      docker: deps.docker,
      workDir: path.join(deps.paths.stacks, 'work'),
      force: true,
      log: (l) => log.info(`stacks:update: ${l}`),
    });
    return {
      name: stack,
      build: images.build.ref,
      run: images.run.ref,
      runDigest: images.run.manifestDigest,
      seconds: Math.round((Date.now() - started) / 1000),
    };
  }

  /** Every app on STACK rebased, progress lines kept, one `stack.rebase` event for the run. */
  async function rebaseAll(stack: string, actor: { id: number; email: string } | null, concurrency: number) {
    const lines: string[] = [];
    const results: RebaseOutcome[] = await rebaser.rebaseStack(stack, actor, {
      concurrency,
      progress: (l) => {
        lines.push(l);
        log.info(`stack rebase: ${l}`);
      },
    });
    const summary = summaryLine(results);
    event(actor?.email ?? 'slipway', {
      action: 'stack.rebase',
      message: `Apps on ${stack} rebased: ${summary}`,
      data: { stack },
    });
    return {
      stack,
      results: results.map((x) => ({ ...x, release: undefined, line: progressLine(x) })),
      lines,
      summary,
    };
  }

  /** The run image version (tag) an app's current release runs on. */
  async function versionOf(app: AppRow, tagOf: Map<string, string>): Promise<string> {
    const rel = app.currentReleaseId ? deps.state.releases.getById(app.currentReleaseId) : undefined;
    const img = rel?.imageRef ? await readImage(deps.store, rel.imageRef).catch(() => undefined) : undefined;
    const label = img?.config.config.Labels?.['io.buildpacks.lifecycle.metadata'];
    const ref = label ? (JSON.parse(label) as { runImage?: { reference?: string } }).runImage?.reference : undefined;
    return (ref && tagOf.get(ref)) ?? 'unknown';
  }

  async function list(): Promise<StackInfo[]> {
    const tags = (await deps.store.listTags()).filter((t) => t.ref.startsWith('stacks/'));
    const apps = deps.state.apps.list();
    const names = new Set([...knownStacks(), deps.config.stack, ...apps.map((a) => a.stack)]);
    // Manifest digest → version tag, to tell which version each app's release runs on.
    const tagOf = new Map<string, string>();
    for (const t of tags)
      if (!t.ref.endsWith(':latest') && t.ref.includes('-run:')) tagOf.set(t.descriptor.digest, t.ref.split(':')[1]);
    const appVersion = new Map(
      await Promise.all(
        apps.filter((a) => a.currentReleaseId).map(async (a) => [a.name, await versionOf(a, tagOf)] as const),
      ),
    );
    return [...names].sort().map((name) => {
      const appsByVersion: Record<string, number> = {};
      for (const a of apps)
        if (a.stack === name && appVersion.has(a.name))
          appsByVersion[appVersion.get(a.name)!] = (appsByVersion[appVersion.get(a.name)!] ?? 0) + 1;
      const of = (kind: string) => tags.filter((t) => t.ref.startsWith(`stacks/${name}-${kind}:`));
      const latest = (kind: string) => of(kind).find((t) => t.ref.endsWith(':latest'))?.descriptor.digest ?? null;
      const latestRun = latest('run');
      const versions = of('run')
        .filter((t) => !t.ref.endsWith(':latest'))
        .map((t) => t.ref.split(':')[1]);
      return {
        name,
        default: name === deps.config.stack,
        buildDigest: latest('build'),
        runDigest: latestRun,
        version:
          of('run')
            .find((t) => !t.ref.endsWith(':latest') && t.descriptor.digest === latestRun)
            ?.ref.split(':')[1] ?? null,
        versions,
        apps: apps.filter((a) => a.stack === name).map((a) => a.name),
        appsByVersion,
      };
    });
  }

  return {
    /** The packages updated/added/removed between two run image versions of STACK (stacks:diff). */
    async diff(
      stack: string,
      from: string,
      to: string,
    ): Promise<PackageDiff & { stack: string; from: string; to: string }> {
      const of = async (v: string) => {
        const img = await readImage(deps.store, `stacks/${stack}-run:${v}`);
        if (!img)
          throw new SlipwayError('NOT_FOUND', `${stack} has no run image version "${v}"`, {
            hint: 'see the versions with: slipway stacks --json',
          });
        const list = await packages.packagesOf(img.manifest.layers);
        if (!list)
          throw new SlipwayError('NOT_FOUND', `${stack}-run ${v} records no package list`, {
            hint: 'stack images built before package lists were recorded cannot be compared',
          });
        return list;
      };
      const [a, b] = await Promise.all([of(from), of(to)]);
      return { stack, from, to, ...diffPackages(a, b) };
    },

    /** Rebase one app / every app on a stack onto the stack's current run image (server/images/rebase.ts). */
    rebaseApp: rebaser.rebaseApp,
    rebaseStack: rebaser.rebaseStack,
    /** SLIPWAY_STACK_AUTO_REBASE=1: stacks:update rebases every app on the stack without --rebase. */
    autoRebase: deps.config.stackAutoRebase,
    rebaseConcurrency: deps.config.stackRebaseConcurrency,

    list,

    /**
     * stack:set: the next build uses the new stack (built on first use if missing); the running
     * release keeps its image. The app's build cache is dropped: its layers were built for the old stack.
     */
    setForApp(app: AppRow, stack: string): { changed: boolean; previous: string } {
      stackInfo(stack);
      if (stack === app.stack) return { changed: false, previous: app.stack };
      deps.state.apps.setStack(app.id, stack);
      fs.rmSync(path.join(deps.paths.caches, app.name), { recursive: true, force: true });
      return { changed: true, previous: app.stack };
    },

    /** Rebuilds the default stack's images with fresh updates; one update (or check) at a time. */
    update(stack: string = deps.config.stack) {
      return exclusive('a stack update', () => rebuild(stack));
    },

    rebaseAll,

    /**
     * The update check (`slipway stacks:check`, the daily schedule): STACKS (default: every stack
     * built on this server) against the mirror; with `update`, a stack with updates is rebuilt, and
     * with `rebase` its apps are rebased. Each step is an event and a platform log line; one stack's
     * failure is its own result and does not stop the others.
     */
    checkNow(opts: {
      stacks?: string[];
      update?: boolean;
      rebase?: boolean;
      actor: { id: number; email: string } | null;
    }) {
      return exclusive(opts.update ? 'a stack update check' : 'a stack check', async () => {
        const names = opts.stacks?.length ? opts.stacks : (await list()).filter((s) => s.runDigest).map((s) => s.name);
        const who = opts.actor?.email ?? 'slipway';
        const out: Array<
          | (StackCheckResult & {
              update?: Awaited<ReturnType<typeof rebuild>>;
              rebase?: Awaited<ReturnType<typeof rebaseAll>>;
            })
          | { stack: string; error: string; message: string }
        > = [];
        for (const stack of names) {
          let c: StackCheckResult;
          try {
            c = await checkStack({ store: deps.store, packages, config: deps.config }, stack);
          } catch (err) {
            const message = `${stack}: the update check failed: ${(err as Error).message}`;
            event(who, { action: 'stack.check', message, data: { stack, error: (err as Error).message } });
            out.push({ stack, error: (err as Error).message, message });
            continue;
          }
          event(who, {
            action: 'stack.check',
            message: c.message,
            data: { stack, updates: c.updates.length, security: c.security },
          });
          if (!opts.update || c.updates.length === 0) {
            out.push(c);
            continue;
          }
          try {
            const u = await rebuild(stack);
            event(who, { action: 'stack.update', message: `Stack ${stack} rebuilt (${u.run}): ${c.message}` });
            const r = opts.rebase ? await rebaseAll(stack, opts.actor, deps.config.stackRebaseConcurrency) : undefined;
            out.push({ ...c, update: u, ...(r ? { rebase: r } : {}) });
          } catch (err) {
            const message = `${stack}: the stack rebuild failed: ${(err as Error).message}`;
            event(who, { action: 'stack.update', message, data: { stack, error: (err as Error).message } });
            out.push({ stack, error: (err as Error).message, message });
          }
        }
        return out;
      });
    },
  };
}
export type StackService = ReturnType<typeof createStackService>;
