#!/usr/bin/env node
import Docker from 'dockerode';
import * as path from 'node:path';
import { loadConfig, homePaths } from '../common/config';
import { openImageStore } from '../buildpacks/oci/layout';
import { ensureStack } from './builder';

/**
 * `node dist/stacks/cli.js [--force]`: builds the configured stack's images when missing.
 * Used by install.sh and the test command; the server's stacks:update calls ensureStack directly.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const paths = homePaths(config.home);
  const started = Date.now();
  const images = await ensureStack({
    stack: config.stack,
    store: openImageStore(paths.images),
    docker: new Docker(),
    workDir: path.join(paths.stacks, 'work'),
    force: process.argv.includes('--force'),
    cacheStore: openImageStore(process.env.SLIPWAY_STACK_CACHE ?? '/var/cache/slipway/stacks'),
    log: (l) => console.log(l.startsWith('-----> ') || l.startsWith('       ') ? l : `       ${l}`),
  });
  for (const img of Object.values(images)) {
    console.log(`-----> ${img.dockerImage} ${img.configDigest.slice(0, 19)} (${img.ref})`);
  }
  console.log(`-----> Stack ${config.stack} ready in ${((Date.now() - started) / 1000).toFixed(1)}s`);
}

main().catch((err) => {
  console.error(` !     ${err.message}`);
  if (err.hint) console.error(` !     ${err.hint}`);
  process.exit(1);
});
