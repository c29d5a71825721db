import * as fs from 'node:fs';
import type { HomePaths, PlatformRegistryConfig } from '../../common/config';
import { SlipwayError } from '../../common/errors';
import { createLogger } from '../../common/logger';
import type { ImageStore } from '../../buildpacks/oci/layout';
import { createRegistryClient } from './registry-client';
import { blobsEligible, deleteUnkeptManifests, type RegistryGcResult } from './registry-gc';
import { createRegistryProcess, dialAddress, type RegistryCredentials } from './registry-process';
import { createRegistryPusher, pushSummary, type PushResult } from './registry-push';

const logger = createLogger('slipway-server');

/**
 * The platform registry for multi-node installations (docs/scale-out.md "Registry"): the
 * docker-registry child process, the server's client of it, the push of release images and the
 * registry's GC. One object, made by server/main.ts when SLIPWAY_REGISTRY=on (or
 * SLIPWAY_RUNTIME=swarm).
 *
 * Pushes and the GC exclude each other (an in-process lock, pushes shared, GC exclusive): the
 * server is the only writer, so the registry's read-only window during `garbage-collect` never
 * refuses one of its pushes; pulls by nodes go on throughout.
 */
export interface PlatformRegistry {
  /** host:port in image references (SLIPWAY_REGISTRY_NAME); what nodes log in to. */
  name: string;
  /** The one credential (user slipway), for nodes (`docker login NAME`). Never log it. */
  credentials: RegistryCredentials;
  /** PEM of the certificate the registry serves (nodes trust it: /etc/docker/certs.d/NAME/ca.crt). */
  certificatePem(): string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /**
   * Pushes apps/APP from the store (storeRef: apps/APP:TAG, apps/APP@sha256:..., or sha256:...)
   * as NAME/apps/APP:TAG (when opts.tag) and by digest; only missing blobs move.
   */
  pushReleaseImage(app: string, storeRef: string, opts?: { tag?: string }): Promise<PushResult>;
  /**
   * The runtime's ensureImage for drivers whose nodes pull from the registry (Swarm): pushes
   * what is missing (one HEAD when the release was already pushed) and returns NAME/apps/APP@sha256:...
   */
  ensureImage(storeRef: string): Promise<string>;
  /** Deletes manifests not in keepDigests, then sweeps blobs read-only. */
  collectGarbage(keepDigests: Set<string>): Promise<RegistryGcResult>;
}

export async function createPlatformRegistry(deps: {
  paths: HomePaths;
  config: PlatformRegistryConfig;
  store: ImageStore;
  cert: { certFile: string; keyFile: string };
}): Promise<PlatformRegistry> {
  const certPem = fs.readFileSync(deps.cert.certFile);
  const { host, port } = dialAddress(deps.config.addr);
  const proc = await createRegistryProcess({
    paths: deps.paths,
    config: deps.config,
    cert: deps.cert,
    // The registry is up when /v2/ asks for credentials over TLS with our certificate.
    probe: async () => {
      const anon = createRegistryClient({ host, port, certPem, credentials: { username: '', password: '' } });
      try {
        return (await anon.request('GET', '/v2/')).status === 401;
      } finally {
        anon.close();
      }
    },
  });
  const client = createRegistryClient({ host, port, certPem, credentials: proc.credentials });
  const pusher = createRegistryPusher({ store: deps.store, client, name: deps.config.name, dir: deps.paths.registry });

  // Shared/exclusive lock: pushes run together, the GC alone.
  let pushing = 0;
  let gc: Promise<unknown> | undefined;
  let drained: (() => void) | undefined;
  async function shared<T>(fn: () => Promise<T>): Promise<T> {
    while (gc) await gc.catch(() => undefined);
    pushing++;
    try {
      return await fn();
    } finally {
      if (--pushing === 0) drained?.();
    }
  }
  async function exclusive<T>(fn: () => Promise<T>): Promise<T> {
    while (gc) await gc.catch(() => undefined);
    const p = (async () => {
      if (pushing > 0) await new Promise<void>((r) => (drained = r));
      drained = undefined;
      return fn();
    })();
    gc = p;
    try {
      return await p;
    } finally {
      gc = undefined;
    }
  }

  return {
    name: deps.config.name,
    credentials: proc.credentials,
    certificatePem: () => certPem.toString('utf8'),
    async start() {
      await proc.start();
      logger.info(`platform registry on https://${deps.config.addr} as ${deps.config.name} (storage ${proc.dataDir})`);
    },
    async stop() {
      client.close();
      await proc.stop();
    },
    pushReleaseImage: (app, storeRef, opts) => shared(() => pusher.pushReleaseImage(app, storeRef, opts)),
    ensureImage: async (storeRef) =>
      (await shared(() => pusher.pushReleaseImage(appOfStoreRef(storeRef), storeRef))).ref,
    collectGarbage: (keep) =>
      exclusive(async () => {
        const { deleted, emptied } = await deleteUnkeptManifests(client, keep);
        const result: RegistryGcResult = {
          deletedManifests: deleted,
          emptiedRepos: emptied,
          blobsDeleted: 0,
          ran: false,
        };
        if (deleted.length === 0) return result;
        pusher.forgetRepos(emptied);
        // Read-only while garbage-collect sweeps: nodes keep pulling, nothing writes meanwhile.
        await proc.start({ readOnly: true });
        try {
          const { output } = await proc.garbageCollect();
          result.blobsDeleted = blobsEligible(output);
          result.ran = true;
        } finally {
          await proc.start({ readOnly: false });
          client.resetConnections();
        }
        logger.info(`registry GC: ${deleted.length} manifest(s) deleted, ${result.blobsDeleted} blob(s) removed`);
        return result;
      }),
  };
}

/** APP of apps/APP:TAG or apps/APP@sha256:... (the store refs releases carry). */
export function appOfStoreRef(ref: string): string {
  const m = /^apps\/([^:@/]+)[:@]/.exec(ref);
  if (!m)
    throw new SlipwayError('INVALID_INPUT', `${JSON.stringify(ref)} is not an app image reference`, {
      hint: 'app images are apps/APP:TAG or apps/APP@sha256:... in the store',
    });
  return m[1];
}

export { pushSummary, type PushResult };
