import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type Docker from 'dockerode';
import { SlipwayError } from '../common/errors';
import { dockerArchive } from '../buildpacks/oci/docker-archive';
import type { ImageStore } from '../buildpacks/oci/layout';
import type { ImageConfig, LayerRef } from '../buildpacks/oci/media-types';
import { STACKS_DIR, stackInfo } from './info';
import { parseSourcesList, readIndexes, suiteOf, type SuiteIndexes } from './apt-index';
export { knownStacks, stackInfo } from './info';

/**
 * Builds the stack's build and run images without any container registry: a debootstrap root file
 * system per kind (stacks/<stack>/build-rootfs.sh), one reproducible tar layer written into the
 * platform's OCI store, then `docker load`ed so Docker has it under slipway/<stack>-<kind>.
 * An unchanged recipe is not rebuilt: the recipe hash is both the store tag and a Docker label.
 */
export type StackKind = 'build' | 'run';

export const STACK_ID = (stack: string) => `io.buildpacks.stacks.${stack}`;
export const stackImageName = (stack: string, kind: StackKind) => `slipway/${stack}-${kind}`;
export const stackStoreRef = (stack: string, kind: StackKind, tag: string) => `stacks/${stack}-${kind}:${tag}`;

export interface StackImage {
  kind: StackKind;
  ref: string;
  manifestDigest: string;
  configDigest: string;
  dockerImage: string;
}

export interface EnsureStackOptions {
  stack: string;
  store: ImageStore;
  docker: Docker;
  /** Work dir for root file systems and the debootstrap cache. */
  workDir: string;
  /** Rebuild even when the recipe is unchanged (stacks:update: fresh security updates). */
  force?: boolean;
  /**
   * A machine-wide store of stack images shared by installs (default /var/cache/slipway/stacks,
   * env SLIPWAY_STACK_CACHE). A recipe already built there is linked in instead of rebuilt, so a
   * reinstall after --purge, a second install or a test home costs seconds, not minutes.
   */
  cacheStore?: ImageStore;
  log?: (line: string) => void;
}

const BUILDER_VERSION = '1';
/** The one recipe every stack is built with; a stack's directory only names its suite and packages. */
const RECIPE = path.join(STACKS_DIR, 'build-rootfs.sh');

export function recipeHash(stack: string): string {
  stackInfo(stack);
  const dir = path.join(STACKS_DIR, stack);
  const h = createHash('sha256').update(BUILDER_VERSION).update(fs.readFileSync(RECIPE));
  for (const f of fs.readdirSync(dir).sort()) h.update(f).update(fs.readFileSync(path.join(dir, f)));
  return h.digest('hex').slice(0, 16);
}

export function run(cmd: string, args: string[], log: (l: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    const onData = (d: Buffer) => {
      const text = d.toString();
      tail = (tail + text).slice(-4000);
      for (const line of text.split('\n')) if (line.trim()) log(line);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve()
        : reject(
            new SlipwayError('INTERNAL', `${cmd} exited with ${code}`, {
              hint: 'see the output above',
              details: { tail },
            }),
          ),
    );
  });
}

/** Reproducible tar of a root file system: sorted, fixed mtime, numeric owners kept. */
export function tarRootfs(dir: string) {
  const child = spawn(
    'tar',
    [
      '--create',
      '--file=-',
      '--directory',
      dir,
      '--sort=name',
      '--numeric-owner',
      '--mtime=1980-01-01 00:00:01Z',
      '--format=gnu',
      '.',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  child.on('close', (code) => {
    if (code !== 0) child.stdout.destroy(new SlipwayError('INTERNAL', `tar of ${dir} failed: ${err.trim()}`));
  });
  return child.stdout;
}

function imageConfig(stack: string, kind: StackKind, hash: string, packagesDigest: string): ImageConfig {
  const { distroVersion } = stackInfo(stack);
  return {
    architecture: 'amd64',
    os: 'linux',
    config: {
      User: '1000:1000',
      WorkingDir: '/app',
      Env: [
        'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        'HOME=/home/slipway',
        'CNB_USER_ID=1000',
        'CNB_GROUP_ID=1000',
        `CNB_STACK_ID=${STACK_ID(stack)}`,
        'LANG=C.UTF-8',
      ],
      Labels: {
        'io.buildpacks.stack.id': STACK_ID(stack),
        'io.buildpacks.stack.distro.name': 'debian',
        'io.buildpacks.stack.distro.version': distroVersion,
        'io.slipway.managed': 'true',
        'io.slipway.stack': stack,
        'io.slipway.stack.kind': kind,
        'io.slipway.stack.recipe': hash,
        'io.slipway.stack.packages': packagesDigest,
      },
    },
    rootfs: { type: 'layers', diff_ids: [] },
    history: [{ created_by: `slipway stack builder ${BUILDER_VERSION}: debootstrap ${stack} (${kind})` }],
  };
}

async function dockerHasImage(docker: Docker, name: string, configDigest: string): Promise<boolean> {
  try {
    const info = await docker.getImage(name).inspect();
    return info.Id === configDigest;
  } catch {
    return false;
  }
}

export async function loadIntoDocker(
  docker: Docker,
  store: ImageStore,
  manifestDigest: string,
  tags: string[],
): Promise<void> {
  const archive = await dockerArchive(store, manifestDigest, tags);
  const res = await docker.loadImage(archive, { quiet: true });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    res.on('data', (d: Buffer) => (out += d));
    res.on('end', () =>
      /"error"/.test(out) ? reject(new SlipwayError('INTERNAL', `docker load failed: ${out}`)) : resolve(),
    );
    res.on('error', reject);
  });
}

/** Copies an image's blobs between stores: hard links when on one file system, else copies. */
export async function copyImage(from: ImageStore, to: ImageStore, manifestDigest: string): Promise<void> {
  const m = await from.readManifest(manifestDigest);
  for (const d of [manifestDigest, m.config.digest, ...m.layers.map((l) => l.digest)]) {
    if (to.hasBlob(d)) continue;
    const tmp = path.join(to.root, 'tmp', `copy-${process.pid}-${d.slice(7, 19)}`);
    try {
      fs.linkSync(from.blobPath(d), tmp);
    } catch {
      fs.copyFileSync(from.blobPath(d), tmp);
    }
    fs.renameSync(tmp, to.blobPath(d));
  }
}

/**
 * Adds the suite each installed version came from as a third column of /.slipway-packages
 * ("openssl 3.0.15-1~deb12u2 bookworm-security"), from the indexes of the sources the recipe
 * wrote into the image: stacks:diff and rebase descriptions mark security updates with it. Done
 * here rather than in the recipe so that the recipe hash (and every cached stack) stays as it is;
 * the lists the recipe used are gone, so this reads the mirror's indexes once more. Best effort:
 * without the mirror the list keeps two columns (no marking), the build goes on.
 */
export async function recordSuites(rootfs: string, memo: Map<string, Promise<SuiteIndexes>>, log: (l: string) => void) {
  const file = path.join(rootfs, '.slipway-packages');
  try {
    const sources = parseSourcesList(fs.readFileSync(path.join(rootfs, 'etc/apt/sources.list'), 'utf8'));
    if (sources.length === 0) return;
    const key = JSON.stringify(sources);
    let ix = memo.get(key);
    if (!ix) memo.set(key, (ix = readIndexes(sources, null)));
    const indexes = await ix;
    const lines = fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => {
        const [name, version] = l.trim().split(/\s+/);
        return `${name} ${version} ${suiteOf(indexes, name, version) ?? '-'}`;
      });
    fs.writeFileSync(file, lines.join('\n') + '\n');
  } catch (err) {
    log(`warning: could not record which suite each package came from: ${(err as Error).message}`);
  }
}

/** Makes sure both images of the stack exist in the store and in Docker. Returns them. */
export async function ensureStack(opts: EnsureStackOptions): Promise<Record<StackKind, StackImage>> {
  const log = opts.log ?? (() => {});
  const hash = recipeHash(opts.stack);
  const out = {} as Record<StackKind, StackImage>;
  const tag = opts.force ? `${hash}-${Date.now()}` : hash;
  const indexes = new Map<string, Promise<SuiteIndexes>>();
  for (const kind of ['build', 'run'] as StackKind[]) {
    const ref = stackStoreRef(opts.stack, kind, tag);
    const dockerName = stackImageName(opts.stack, kind);
    let manifest = opts.force ? undefined : await opts.store.resolve(ref);
    if (!manifest && !opts.force && opts.cacheStore) {
      const cached = await opts.cacheStore.resolve(ref);
      if (cached) {
        log(`Using the cached ${opts.stack} ${kind} image from ${opts.cacheStore.root}`);
        await copyImage(opts.cacheStore, opts.store, cached.digest);
        await opts.store.tag(ref, cached);
        manifest = cached;
      }
    }
    if (!manifest) {
      log(`Building the ${opts.stack} ${kind} image (debootstrap; a minute or two)`);
      const rootfs = path.join(opts.workDir, `${opts.stack}-${kind}`);
      await run('bash', [RECIPE, opts.stack, kind, rootfs, path.join(opts.workDir, 'cache')], log);
      await recordSuites(rootfs, indexes, log);
      const packages = fs.readFileSync(path.join(rootfs, '.slipway-packages'));
      const layer: LayerRef = await opts.store.putLayer(tarRootfs(rootfs));
      const packagesDigest = createHash('sha256').update(packages).digest('hex').slice(0, 16);
      const written = await opts.store.writeImage(imageConfig(opts.stack, kind, hash, packagesDigest), [layer]);
      await opts.store.tag(ref, written.manifest);
      manifest = written.manifest;
      fs.rmSync(rootfs, { recursive: true, force: true });
    }
    if (opts.cacheStore && opts.cacheStore.root !== opts.store.root && !(await opts.cacheStore.resolve(ref))) {
      await copyImage(opts.store, opts.cacheStore, manifest.digest);
      await opts.cacheStore.tag(ref, manifest);
    }
    await opts.store.tag(stackStoreRef(opts.stack, kind, 'latest'), manifest);
    const m = await opts.store.readManifest(manifest.digest);
    if (!(await dockerHasImage(opts.docker, `${dockerName}:latest`, m.config.digest))) {
      log(`Loading ${dockerName} into Docker`);
      await loadIntoDocker(opts.docker, opts.store, manifest.digest, [`${dockerName}:latest`, `${dockerName}:${tag}`]);
    }
    out[kind] = {
      kind,
      ref,
      manifestDigest: manifest.digest,
      configDigest: m.config.digest,
      dockerImage: `${dockerName}:latest`,
    };
  }
  return out;
}
