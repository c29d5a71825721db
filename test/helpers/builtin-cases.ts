import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TestContext } from 'node:test';
import {
  buildGroup,
  createWorkspace,
  detect,
  httpGet,
  layerDigest,
  prepareNextBuild,
  startApp,
  writeAppFile,
  type HttpResponse,
  type RunningApp,
  type StepResult,
  type Workspace,
} from './run-buildpack';

/**
 * The steps every built-in language buildpack test repeats (test/integration/builtin-*.test.ts):
 * a workspace that is always cleaned up, a cold build that must succeed, the built app served
 * once, and a warm rebuild after a one-line change that must keep a cached layer.
 */

/** Runs `body` with a fresh workspace of FIXTURE, removed afterwards whatever happens. */
export async function withWorkspace(fixture: string, body: (ws: Workspace) => Promise<void>): Promise<void> {
  const ws = createWorkspace(fixture);
  try {
    await body(ws);
  } finally {
    ws.cleanup();
  }
}

/** A cold build of buildpack `bp` that must succeed (detect too, unless `detect: false`); its time as a diagnostic. */
export async function coldBuild(
  t: TestContext,
  ws: Workspace,
  bp: string,
  label: string,
  opts: { detect?: boolean } = {},
): Promise<StepResult> {
  if (opts.detect !== false) assert.equal((await detect(ws, bp)).code, 0);
  const b = await buildGroup(ws, [bp]);
  assert.equal(b.code, 0, b.output);
  t.diagnostic(`${label} cold build ${b.ms} ms`);
  return b;
}

/** Starts the built app's web process, GETs `urlPath` and hands the answer to `check`; stops the app. */
export async function expectServes(
  ws: Workspace,
  bp: string,
  urlPath: string,
  check: (r: HttpResponse, run: RunningApp) => void | Promise<void>,
): Promise<void> {
  const run = await startApp(ws, [bp]);
  try {
    await check(await httpGet(run.url + urlPath), run);
  } finally {
    run.stop();
  }
}

/**
 * The warm rebuild: the next build's workspace, one file of the source with `from` replaced by
 * `to`, a build that must succeed (its time as a diagnostic), and layer `keptLayer` unchanged.
 */
export async function warmRebuild(
  t: TestContext,
  ws: Workspace,
  bp: string,
  label: string,
  edit: { file: string; from: string; to: string },
  keptLayer: string,
): Promise<StepResult> {
  const before = layerDigest(ws, bp, keptLayer);
  prepareNextBuild(ws);
  writeAppFile(ws, edit.file, fs.readFileSync(path.join(ws.srcDir, edit.file), 'utf8').replace(edit.from, edit.to));
  const warm = await buildGroup(ws, [bp]);
  assert.equal(warm.code, 0, warm.output);
  t.diagnostic(`${label} warm build ${warm.ms} ms`);
  assert.equal(layerDigest(ws, bp, keptLayer), before, `the ${keptLayer} layer is reused`);
  return warm;
}
