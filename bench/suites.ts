import { runRouterBench } from './router';
import { runBuildSuite } from './suites/build';
import { runLanguageBuildSuite } from './suites/build-languages';
import { runDeployUnderLoadSuite } from './suites/deploy-under-load';
import { runFootprintSuite } from './suites/footprint';
import { runPushToLiveSuite } from './suites/push-to-live';
import { runPushToLiveDockerfile } from './suites/push-to-live-dockerfile';
import { runRebaseSuite } from './suites/rebase';
import { runAddonsSuite } from './suites/addons';
import { runDashboardSuite } from './suites/dashboard';
import { runStackUpdateSuite } from './suites/stack-update';
import { runRegistryPushSuite } from './suites/registry-push';
import { runRuntimeSwarmSuite } from './suites/runtime-swarm';

/** The benchmark suites by name. Each returns its raw figures plus the ratio keys docs/benchmarks.md lists. */
export interface SuiteContext {
  quick: boolean;
  iterations: number;
  log: (line: string) => void;
}
export type Suite = (ctx: SuiteContext) => Promise<Record<string, unknown>>;

// `image-size` reads the sizes the `build` suite measured when both run in one invocation
// (npm run bench), instead of building everything a second time.
let lastBuild: Record<string, unknown> | undefined;
let lastLanguages: Record<string, unknown> | undefined;

export const SUITES: Record<string, Suite> = {
  'push-to-live': async (ctx) => ({
    ...(await runPushToLiveSuite(ctx)),
    dockerfile: await runPushToLiveDockerfile(ctx),
  }),
  // The Dockerfile case of push-to-live on its own.
  'push-to-live-dockerfile': runPushToLiveDockerfile,
  build: async (ctx) => (lastBuild = await runBuildSuite(ctx)),
  // Ruby, PHP and Java apps (issue 16); before image-size in `npm run bench` so it reports them.
  'build-languages': async (ctx) => (lastLanguages = await runLanguageBuildSuite(ctx)),
  'image-size': async (ctx) => {
    const r = lastBuild ?? (await runBuildSuite({ ...ctx, iterations: 1 }));
    // Ruby, PHP and Java sizes when build-languages ran in the same invocation (not rebuilt here).
    const languages = lastLanguages
      ? Object.fromEntries(
          Object.entries(lastLanguages).map(([k, v]) => [
            k,
            {
              image_bytes: (v as Record<string, unknown>).image_bytes,
              image_size_ratio: (v as Record<string, unknown>).image_size_ratio,
            },
          ]),
        )
      : undefined;
    // Python and Go sizes come from the build suite itself.
    const lang = (k: string) =>
      r[k] as
        { image_bytes: unknown; image_size_ratio: unknown; image_over_run_image_in_binaries?: unknown } | undefined;
    const langs = Object.fromEntries(
      ['python', 'go']
        .filter((k) => lang(k))
        .map((k) => [
          k,
          {
            image_bytes: lang(k)!.image_bytes,
            image_size_ratio: lang(k)!.image_size_ratio,
            image_over_run_image_in_binaries: lang(k)!.image_over_run_image_in_binaries,
          },
        ]),
    );
    return {
      image_bytes: r.image_bytes,
      image_size_ratio: r.image_size_ratio,
      ...langs,
      reused_build_suite_run: lastBuild !== undefined,
      ...(languages ? { languages } : {}),
    };
  },
  router: (ctx) => runRouterBench({ quick: ctx.quick }),
  'deploy-under-load': runDeployUnderLoadSuite,
  rebase: runRebaseSuite,
  'stack-update': runStackUpdateSuite,
  // Swarm driver vs Docker driver: push-to-live warm and deploys under load (issue 23).
  'runtime-swarm': runRuntimeSwarmSuite,
  footprint: runFootprintSuite,
  addons: runAddonsSuite,
  dashboard: runDashboardSuite,
  // Issue 23: bytes moved into the platform registry by a push and a one-line change.
  'registry-push': runRegistryPushSuite,
};
