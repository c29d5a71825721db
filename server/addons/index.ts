import * as path from 'node:path';
import type Docker from 'dockerode';
import type { HomePaths, SlipwayConfig } from '../../common/config';
import { openImageStore, type ImageStore } from '../../buildpacks/oci/layout';
import { ensureServiceImage, type ServiceImage } from '../../stacks/services';
import type { State } from '../state';
import type { ReleaseService } from '../releases';
import { createAppNetworks } from '../runtime/docker/networks';
import { DEFAULT_NETWORK_POOL } from '../runtime/docker/driver';
import type { AddonKind } from '../state/repos/addons';
import { createBackups } from './backups';
import { createServiceContainers } from './containers';
import { createConfigRelease } from './release-adapter';
import { createAddonService } from './service';
import { limitError, limitsOf, ownerOfApp } from '../auth/limits';

export type { AddonService } from './service';
export type { Backups } from './backups';

/**
 * Composition of the add-ons (docs/addons.md): service images, containers on the apps' networks,
 * supervision, backups. main.ts creates it beside the runtime and starts it after the runtime.
 */
export function createAddons(deps: {
  config: SlipwayConfig;
  paths: HomePaths;
  state: State;
  docker: Docker;
  store: ImageStore;
  releases?: Pick<ReleaseService, 'configChanged'>;
}) {
  const { config, paths, state, docker } = deps;
  const log = (l: string) => console.error(`slipway-server: add-ons: ${l}`);
  const containers = createServiceContainers({ docker, home: config.home });
  const images = new Map<AddonKind, Promise<ServiceImage>>();
  const ensureImage = (kind: AddonKind) => {
    let p = images.get(kind);
    if (!p) {
      p = ensureServiceImage({
        stack: config.stack,
        kind,
        store: deps.store,
        docker,
        workDir: path.join(paths.stacks, 'work'),
        cacheStore: openImageStore(config.stackCache),
        log,
      });
      images.set(kind, p);
      p.catch(() => images.delete(kind));
    }
    return p;
  };
  const service = createAddonService({
    state,
    docker,
    home: config.home,
    stack: config.stack,
    containers,
    networks: createAppNetworks({ docker, home: config.home, pool: config.networkPool || DEFAULT_NETWORK_POOL }),
    configRelease: createConfigRelease({ state, releases: deps.releases }),
    ensureImage,
    rotateGraceMs: config.addons.rotateGraceMs,
    checkLimit(ownerId, owned) {
      const limit = limitsOf(state, config, ownerId).addons;
      if (owned >= limit) throw limitError('addons', ownerOfApp(state, ownerId).email, owned, limit);
    },
    healthIntervalMs: config.addons.healthIntervalMs,
    log,
  });
  const backups = createBackups({
    state,
    home: config.home,
    containers,
    addons: service,
    retain: config.addons.backupRetain,
    log,
  });
  return {
    service,
    backups,
    containers,
    async start() {
      await service.start();
      backups.start();
    },
    stop() {
      backups.stop();
      service.stop();
    },
  };
}
export type Addons = ReturnType<typeof createAddons>;
