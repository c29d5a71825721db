import { SlipwayError } from '../../common/errors';
import type { BuildFn } from './types';

/**
 * The lifecycle's `build` (buildpacks/lifecycle/index.ts), resolved when a build starts. Loaded
 * lazily so the server starts, and pushes fail with a clear message, on a tree where the
 * lifecycle is not built yet.
 */
export function lifecycleBuild(): BuildFn {
  return async (opts) => {
    let mod: { build?: BuildFn };
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      mod = require('../../buildpacks/lifecycle/index.js') as { build?: BuildFn };
    } catch (err) {
      if ((err as { code?: string }).code !== 'MODULE_NOT_FOUND') throw err;
      mod = {};
    }
    if (typeof mod.build !== 'function') {
      throw new SlipwayError('BUILD_FAILED', 'the buildpack lifecycle is not installed on this server', { hint: 'rebuild slipway (npm run build) and restart slipway-server' });
    }
    return mod.build(opts);
  };
}
