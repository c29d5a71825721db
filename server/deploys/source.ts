import { execFile } from 'node:child_process';
import type { Readable } from 'node:stream';
import { SlipwayError, isSlipwayError } from '../../common/errors';
import { readUntrusted } from '../../buildpacks/lifecycle/safe-fs';
import { extractArchive } from '../../buildpacks/lifecycle/safe-extract';
import { stackInfo } from '../../stacks/info';
import type { State } from '../state';

/**
 * The pushed source on disk: unpacked from the `git archive` stream into builds/ID/source, and
 * the parts of it the platform itself reads (app.json: formation, health checks, stack).
 */

/**
 * Pushed source caps for unpacking (the git archive stream): generous; per-account source and
 * push size limits are separate (docs/security.md "Limits").
 */
export const SOURCE_ARCHIVE_LIMITS = { maxBytes: 4 * 1024 * 1024 * 1024, maxFiles: 1_000_000 };

/**
 * Unpacks a tar stream (git archive output) into dir with the safe extractor: symbolic links are
 * kept as links (apps use them) but never followed, and nothing else but files and directories is
 * accepted; then hands the tree to the build user (uid 1000; legacy buildpacks write into /app).
 */
export async function unpackSource(source: Readable, dir: string): Promise<void> {
  try {
    await extractArchive(source, dir, { ...SOURCE_ARCHIVE_LIMITS, allowSymlinks: true, label: 'the pushed source' });
  } catch (err) {
    source.resume();
    if (isSlipwayError(err)) throw err;
    throw new SlipwayError('BUILD_FAILED', `receiving the source failed: ${(err as Error).message}`);
  }
  if (process.getuid?.() === 0) {
    await new Promise<void>((resolve, reject) =>
      execFile('chown', ['-R', '1000:1000', '--', dir], (err) => (err ? reject(err) : resolve())),
    );
  }
}

/** app.json's formation and health checks, read like every untrusted file (safe-fs.ts); never fails the build. */
export function readAppJson(sourceDir: string): {
  healthchecks?: Record<string, unknown[]>;
  formation?: Record<string, { quantity?: number; size?: string }>;
  bootTimeout?: number;
} {
  try {
    const text = readUntrusted(sourceDir, 'app.json');
    if (text === undefined) return {};
    const raw = JSON.parse(text) as Record<string, unknown>;
    const pick = (v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? v : undefined);
    return {
      ...(pick(raw.healthchecks) ? { healthchecks: raw.healthchecks as Record<string, unknown[]> } : {}),
      ...(pick(raw.formation)
        ? { formation: raw.formation as Record<string, { quantity?: number; size?: string }> }
        : {}),
      // Validated with the release (releases/service.ts): a malformed value fails the push there.
      ...(raw.boot_timeout !== undefined ? { bootTimeout: raw.boot_timeout as number } : {}),
    };
  } catch {
    return {};
  }
}

/**
 * app.json "stack" is honoured on an app's first deploy only (as Heroku's app.json is at app
 * setup): afterwards the app's stack is what stack:set says, and a differing app.json gets a note.
 */
export function stackFromAppJson(
  sourceDir: string,
  app: { id: number; stack: string },
  state: State,
  note: (line: string) => void,
): string {
  let wanted: unknown;
  try {
    const text = readUntrusted(sourceDir, 'app.json');
    if (text === undefined) return app.stack;
    wanted = (JSON.parse(text) as Record<string, unknown>).stack;
  } catch {
    return app.stack;
  }
  if (typeof wanted !== 'string' || wanted === app.stack) return app.stack;
  const firstDeploy = !state.builds.listForApp(app.id, 50).some((b) => b.status === 'succeeded');
  if (!firstDeploy) {
    note(
      `       app.json asks for the ${wanted} stack; this app is on ${app.stack} (app.json's stack counts on the first deploy only: slipway stack:set ${wanted})`,
    );
    return app.stack;
  }
  stackInfo(wanted); // an unknown stack fails the build, naming the stacks there are
  state.apps.setStack(app.id, wanted);
  note(`-----> Using the ${wanted} stack from app.json (first deploy)`);
  return wanted;
}
