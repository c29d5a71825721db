/** The benchmark suites by name. Each returns its raw figures plus the ratio keys docs/benchmarks.md lists. */
export interface SuiteContext {
  quick: boolean;
  iterations: number;
  log: (line: string) => void;
}
export type Suite = (ctx: SuiteContext) => Promise<Record<string, unknown>>;

export const SUITES: Record<string, Suite> = {};
