import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { homePaths, type HomePaths } from '../../common/config';
import { openImageStore, type ImageStore } from '../../buildpacks/oci/layout';

/**
 * Test homes. The stack images are built once per machine into a shared stack home
 * (SLIPWAY_TEST_STACK_HOME, default /var/tmp/slipway-test-stack) by the test command; each test
 * gets a fresh SLIPWAY_HOME whose image store starts with the stack images hard-linked in, so
 * tests are isolated without copying hundreds of megabytes.
 */
export const STACK_HOME = process.env.SLIPWAY_TEST_STACK_HOME ?? '/var/tmp/slipway-test-stack';
const HOMES = process.env.SLIPWAY_TEST_HOMES ?? '/var/tmp/slipway-test-homes';

export interface TestHome extends HomePaths {
  store: ImageStore;
  cleanup(): void;
}

export async function createTestHome(prefix = 'home'): Promise<TestHome> {
  fs.mkdirSync(HOMES, { recursive: true });
  const home = fs.mkdtempSync(path.join(HOMES, `${prefix}-`));
  const paths = homePaths(home);
  const store = openImageStore(paths.images);
  await seedStackImages(store);
  return { ...paths, store, cleanup: () => fs.rmSync(home, { recursive: true, force: true }) };
}

/** Hard-links the shared stack images (blobs + tags) into a store. */
export async function seedStackImages(store: ImageStore): Promise<void> {
  const shared = openImageStore(path.join(STACK_HOME, 'images'));
  const tags = (await shared.listTags()).filter((t) => t.ref.startsWith('stacks/'));
  if (tags.length === 0) {
    throw new Error(
      `no stack images in ${STACK_HOME}; run the test command (npm test) or: SLIPWAY_HOME=${STACK_HOME} node dist/stacks/cli.js`,
    );
  }
  for (const { ref, descriptor } of tags) {
    const manifest = await shared.readManifest(descriptor.digest);
    for (const d of [descriptor.digest, manifest.config.digest, ...manifest.layers.map((l) => l.digest)]) {
      if (!store.hasBlob(d)) fs.linkSync(shared.blobPath(d), store.blobPath(d));
    }
    await store.tag(ref, descriptor);
  }
}

export function tmpDir(prefix = 'slipway-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}
