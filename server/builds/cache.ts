import * as fs from 'node:fs';
import * as path from 'node:path';
import type { HomePaths } from '../../common/config';
import { SlipwayError } from '../../common/errors';
import { assertAppName } from '../../common/names';
import type { State } from '../state';

/**
 * `slipway builds:cache:purge`: removes the app's build cache (caches/APP: CNB cache layers, the
 * legacy CACHE_DIR), so the next build starts cold. Refused while a build of the app is pending
 * or running (it reads and writes that directory).
 */
export async function purgeBuildCache(
  deps: { state: State; paths: Pick<HomePaths, 'caches'> },
  appName: string,
): Promise<{ bytes: number }> {
  const app = deps.state.apps.require(assertAppName(appName));
  const busy = deps.state.builds.listForApp(app.id, 20).find((b) => b.status === 'pending' || b.status === 'running');
  if (busy) {
    throw new SlipwayError(
      'CONFLICT',
      `a build of ${app.name} is ${busy.status} (${busy.id.slice(0, 8)}): its cache is in use`,
      {
        hint: 'purge the cache once it has finished (slipway builds), or cancel it (slipway builds:cancel)',
      },
    );
  }
  const dir = path.join(deps.paths.caches, app.name);
  const bytes = await sizeOf(dir);
  await fs.promises.rm(dir, { recursive: true, force: true });
  return { bytes };
}

async function sizeOf(p: string): Promise<number> {
  const st = await fs.promises.lstat(p).catch(() => undefined);
  if (!st) return 0;
  if (!st.isDirectory()) return st.size;
  let total = 0;
  for (const e of await fs.promises.readdir(p)) total += await sizeOf(path.join(p, e));
  return total;
}
