import type { ApiClient } from './client';
import type { FlagSpec } from './args';
import type { Out } from './output';

export interface Ctx {
  args: string[];
  flags: Record<string, string | boolean | undefined>;
  out: Out;
  env: NodeJS.ProcessEnv;
  /** The API client (logs in from credentials on first use). */
  api(): ApiClient;
  /** The app from -a/--app, else from the `slipway` git remote; a usage error when neither. */
  app(): Promise<string>;
  /** Asks a question on the terminal (only when stdin is a TTY). */
  prompt(question: string, opts?: { secret?: boolean; hint?: string }): Promise<string>;
}

export interface Command {
  name: string;
  aliases?: string[];
  summary: string;
  /** Usage line after `slipway`, e.g. "config:set KEY=VALUE... [-a APP]". */
  usage: string;
  /** Longer help, examples. */
  help?: string;
  flags?: Record<string, FlagSpec>;
  /** Takes -a/--app (and --remote inference). */
  app?: boolean;
  /** Read command: accepts --json. */
  json?: boolean;
  /** Everything after the first positional is passed through untouched (run). */
  passthrough?: boolean;
  run(ctx: Ctx): Promise<number | void>;
}

export const APP_FLAG: FlagSpec = {
  short: 'a',
  desc: 'app to act on (default: from the `slipway` git remote)',
  value: 'APP',
};
export const JSON_FLAG: FlagSpec = { boolean: true, desc: 'print JSON' };
