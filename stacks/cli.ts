#!/usr/bin/env node
import Docker from 'dockerode';
import * as path from 'node:path';
import { loadConfig, homePaths } from '../common/config';
import { openImageStore } from '../buildpacks/oci/layout';
import { ensureStack, knownStacks } from './builder';

/**
 * `node dist/stacks/cli.js [STACK...|--all] [--force]`: builds the named stacks' images when
 * missing (default: the configured default stack; --all: every stack with a recipe). Used by
 * install.sh and the test command; the server builds a missing stack on first use itself.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const paths = homePaths(config.home);
  const args = process.argv.slice(2);
  const named = args.filter((a) => !a.startsWith('--'));
  const stacks = args.includes('--all') ? knownStacks() : named.length ? named : [config.stack];
  for (const stack of stacks) {
    const started = Date.now();
    const images = await ensureStack({
      stack,
      store: openImageStore(paths.images),
      docker: new Docker(),
      workDir: path.join(paths.stacks, 'work'),
      force: args.includes('--force'),
      cacheStore: openImageStore(config.stackCache),
      log: (l) => console.log(l.startsWith('-----> ') || l.startsWith('       ') ? l : `       ${l}`),
    });
    for (const img of Object.values(images)) {
      console.log(`-----> ${img.dockerImage} ${img.configDigest.slice(0, 19)} (${img.ref})`);
    }
    console.log(`-----> Stack ${stack} ready in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  }
}

main().catch((err) => {
  console.error(` !     ${err.message}`);
  if (err.hint) console.error(` !     ${err.hint}`);
  process.exit(1);
});
