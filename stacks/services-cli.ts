#!/usr/bin/env node
import Docker from 'dockerode';
import * as path from 'node:path';
import { loadConfig, homePaths } from '../common/config';
import { openImageStore } from '../buildpacks/oci/layout';
import { ensureServiceImage, SERVICE_KINDS, type ServiceKind } from './services';

/**
 * `node dist/stacks/services-cli.js [postgres|redis]...`: builds the add-on service images of the
 * configured stack when missing (install.sh, the test command); the server does the same lazily
 * at the first addons:create of a kind.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const paths = homePaths(config.home);
  const kinds = (process.argv.slice(2).length ? process.argv.slice(2) : SERVICE_KINDS) as ServiceKind[];
  for (const kind of kinds) {
    const started = Date.now();
    const img = await ensureServiceImage({
      stack: config.stack,
      kind,
      store: openImageStore(paths.images),
      docker: new Docker(),
      workDir: path.join(paths.stacks, 'work'),
      cacheStore: openImageStore(config.stackCache),
      log: (l) => console.log(l.startsWith('-----> ') || l.startsWith('       ') ? l : `       ${l}`),
    });
    console.log(
      `-----> ${img.dockerImage} (${kind} ${img.version}) ready in ${((Date.now() - started) / 1000).toFixed(1)}s`,
    );
  }
}

main().catch((err) => {
  console.error(` !     ${err.message}`);
  if (err.hint) console.error(` !     ${err.hint}`);
  process.exit(1);
});
