import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type Docker from 'dockerode';
import { SlipwayError } from '../common/errors';
import type { ImageStore } from '../buildpacks/oci/layout';
import type { ImageConfig, LayerRef } from '../buildpacks/oci/media-types';
import { copyImage, loadIntoDocker, run, tarRootfs } from './builder';

/**
 * Service images of the add-ons (docs/addons.md): PostgreSQL and Redis built like the stack images
 * (stacks/builder.ts) from the stack distribution's own packages, with no container registry. The
 * recipe is stacks/services/ (build-service-rootfs.sh, SERVICE.packages, SERVICE-entrypoint.sh);
 * its hash is the store tag, so an unchanged recipe is never rebuilt, and the machine-wide cache
 * (the stacks' one, /var/cache/slipway/stacks) makes a second install or a test home cost seconds.
 */
export type ServiceKind = 'postgres' | 'redis';
export const SERVICE_KINDS: ServiceKind[] = ['postgres', 'redis'];

/** The distribution's major of each service on the stack (bookworm: PostgreSQL 15, Redis 7). */
export const SERVICE_VERSIONS: Record<string, Record<ServiceKind, string>> = {
  bookworm: { postgres: '15', redis: '7' },
};

const BUILDER_VERSION = '1';
const RECIPES = path.resolve(__dirname, '..', '..', 'stacks', 'services');

export const serviceImageName = (stack: string, kind: ServiceKind) => `slipway/${stack}-${kind}`;
export const serviceStoreRef = (stack: string, kind: ServiceKind, tag: string) => `services/${stack}-${kind}:${tag}`;

export interface ServiceImage {
  kind: ServiceKind;
  version: string;
  ref: string;
  configDigest: string;
  /** What containers are created from: the recipe-tagged name, so a rebuild never changes a running service's image under it. */
  dockerImage: string;
}

export interface EnsureServiceImageOptions {
  stack: string;
  kind: ServiceKind;
  store: ImageStore;
  docker: Docker;
  /** Work dir for root file systems and the debootstrap cache (shared with the stacks). */
  workDir: string;
  cacheStore?: ImageStore;
  log?: (line: string) => void;
}

export function serviceRecipeHash(kind: ServiceKind): string {
  const h = createHash('sha256').update(BUILDER_VERSION).update(kind);
  for (const f of ['build-service-rootfs.sh', `${kind}.packages`, `${kind}-entrypoint.sh`]) {
    h.update(f).update(fs.readFileSync(path.join(RECIPES, f)));
  }
  return h.digest('hex').slice(0, 16);
}

function imageConfig(
  stack: string,
  kind: ServiceKind,
  version: string,
  hash: string,
  packagesDigest: string,
): ImageConfig {
  const pgBin = kind === 'postgres' ? `/usr/lib/postgresql/${version}/bin:` : '';
  return {
    architecture: 'amd64',
    os: 'linux',
    config: {
      User: '1000:1000',
      WorkingDir: '/data',
      Entrypoint: ['/usr/local/bin/slipway-service'],
      Env: [
        `PATH=${pgBin}/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
        'HOME=/home/slipway',
        'LANG=C.UTF-8',
        ...(kind === 'postgres' ? ['PGHOST=/tmp'] : []),
      ],
      ExposedPorts: { [kind === 'postgres' ? '5432/tcp' : '6379/tcp']: {} },
      Labels: {
        'io.slipway.managed': 'true',
        'io.slipway.stack': stack,
        'io.slipway.service': kind,
        'io.slipway.service.version': version,
        'io.slipway.service.recipe': hash,
        'io.slipway.service.packages': packagesDigest,
      },
    },
    rootfs: { type: 'layers', diff_ids: [] },
    history: [{ created_by: `slipway service builder ${BUILDER_VERSION}: debootstrap ${stack} + ${kind}` }],
  };
}

/** Makes sure the service image exists in the store and in Docker; builds it (a minute or two) when no store has it. */
export async function ensureServiceImage(opts: EnsureServiceImageOptions): Promise<ServiceImage> {
  const log = opts.log ?? (() => {});
  const version = SERVICE_VERSIONS[opts.stack]?.[opts.kind];
  if (!version) {
    throw new SlipwayError('NOT_FOUND', `the stack "${opts.stack}" has no ${opts.kind} service recipe`, {
      hint: `add-ons exist for: ${Object.keys(SERVICE_VERSIONS).join(', ')}`,
    });
  }
  const hash = serviceRecipeHash(opts.kind);
  const ref = serviceStoreRef(opts.stack, opts.kind, hash);
  const dockerName = serviceImageName(opts.stack, opts.kind);
  let manifest = await opts.store.resolve(ref);
  if (!manifest && opts.cacheStore) {
    const cached = await opts.cacheStore.resolve(ref);
    if (cached) {
      log(`Using the cached ${opts.kind} image from ${opts.cacheStore.root}`);
      await copyImage(opts.cacheStore, opts.store, cached.digest);
      await opts.store.tag(ref, cached);
      manifest = cached;
    }
  }
  if (!manifest) {
    log(`Building the ${opts.kind} service image from ${opts.stack} packages (debootstrap; a minute or two)`);
    const rootfs = path.join(opts.workDir, `${opts.stack}-service-${opts.kind}`);
    await run(
      'bash',
      [path.join(RECIPES, 'build-service-rootfs.sh'), opts.kind, rootfs, path.join(opts.workDir, 'cache')],
      log,
    );
    const packages = fs.readFileSync(path.join(rootfs, '.slipway-packages'));
    const layer: LayerRef = await opts.store.putLayer(tarRootfs(rootfs));
    const packagesDigest = createHash('sha256').update(packages).digest('hex').slice(0, 16);
    const written = await opts.store.writeImage(imageConfig(opts.stack, opts.kind, version, hash, packagesDigest), [
      layer,
    ]);
    await opts.store.tag(ref, written.manifest);
    manifest = written.manifest;
    fs.rmSync(rootfs, { recursive: true, force: true });
  }
  if (opts.cacheStore && opts.cacheStore.root !== opts.store.root && !(await opts.cacheStore.resolve(ref))) {
    await copyImage(opts.store, opts.cacheStore, manifest.digest);
    await opts.cacheStore.tag(ref, manifest);
  }
  const m = await opts.store.readManifest(manifest.digest);
  const tagged = `${dockerName}:${hash}`;
  let present = false;
  try {
    present = (await opts.docker.getImage(tagged).inspect()).Id === m.config.digest;
  } catch {
    present = false;
  }
  if (!present) {
    log(`Loading ${tagged} into Docker`);
    await loadIntoDocker(opts.docker, opts.store, manifest.digest, [tagged, `${dockerName}:latest`]);
  }
  return { kind: opts.kind, version, ref, configDigest: m.config.digest, dockerImage: tagged };
}
