import { runRouterBench } from './router';
import { runBuildSuite } from './suites/build';

/** The benchmark suites by name. Each returns its raw figures plus the ratio keys docs/benchmarks.md lists. */
export interface SuiteContext {
  quick: boolean;
  iterations: number;
  log: (line: string) => void;
}
export type Suite = (ctx: SuiteContext) => Promise<Record<string, unknown>>;

export const SUITES: Record<string, Suite> = {
  build: runBuildSuite,
  'image-size': async (ctx) => {
    const r = await runBuildSuite({ ...ctx, iterations: 1 });
    return { image_bytes: r.image_bytes, image_size_ratio: r.image_size_ratio };
  },
  router: (ctx) => runRouterBench({ quick: ctx.quick }),
};
