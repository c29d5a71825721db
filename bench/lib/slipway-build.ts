import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Docker from 'dockerode';
import { build, type BuildResult } from '../../buildpacks/lifecycle';
import { openImageStore, type ImageStore } from '../../buildpacks/oci/layout';
import { copyImage, loadIntoDocker } from '../../stacks/builder';

/**
 * Slipway's side of the build benchmarks: the real lifecycle on a fresh SLIPWAY_HOME-like
 * directory whose store starts with the stack images only (linked from the machine-wide stack
 * cache), exactly what a new app on an installed platform has.
 */
export const STACK_CACHE = process.env.SLIPWAY_STACK_CACHE ?? '/var/cache/slipway/stacks';
export const APP_DIR = path.resolve(__dirname, '..', '..', '..', 'bench', 'apps', 'express');

export interface BenchHome {
  dir: string;
  store: ImageStore;
  src: string;
  cache: string;
  cleanup(): void;
}

export async function createBenchHome(name: string): Promise<BenchHome> {
  const base = process.env.SLIPWAY_TEST_HOMES ?? os.tmpdir();
  fs.mkdirSync(base, { recursive: true });
  const dir = fs.mkdtempSync(path.join(base, `bench-${name}-`));
  const store = openImageStore(path.join(dir, 'images'));
  const cacheStore = openImageStore(STACK_CACHE);
  const tags = (await cacheStore.listTags()).filter((t) => t.ref.startsWith('stacks/'));
  if (!tags.length) throw new Error(`no stack images in ${STACK_CACHE}; run ./install.sh or npm test first`);
  for (const t of tags) {
    await copyImage(cacheStore, store, t.descriptor.digest);
    await store.tag(t.ref.replace(/:[^:]+$/, ':latest'), t.descriptor);
    await store.tag(t.ref, t.descriptor);
  }
  const src = path.join(dir, 'src');
  fs.cpSync(APP_DIR, src, { recursive: true, filter: (p) => !/package(-lock)?\.deps\.json$/.test(p) });
  const cache = path.join(dir, 'cache');
  fs.mkdirSync(cache);
  return { dir, store, src, cache, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

let counter = 0;
export async function slipwayBuild(
  home: BenchHome,
  previous?: BuildResult,
  log?: (l: string) => void,
): Promise<BuildResult> {
  counter++;
  return build({
    appName: 'bench-app',
    sourceDir: home.src,
    workspaceDir: path.join(home.dir, 'workspace', String(counter)),
    cacheDir: home.cache,
    store: home.store,
    docker: new Docker(),
    stack: 'bookworm',
    imageRef: `apps/bench-app:b-${counter}`,
    previousImageRef: previous?.imageRef,
    env: {},
    caBundle: process.env.SLIPWAY_CA_BUNDLE ?? '/etc/ssl/certs/ca-certificates.crt',
    labels: { 'io.slipway.home': home.dir, 'io.slipway.bench': '1' },
    output: log ?? (() => {}),
  });
}

/** One line of source changed: the "warm" case. */
export function touchSource(srcDir: string, n: number): void {
  const file = path.join(srcDir, 'server.js');
  const text = fs
    .readFileSync(file, 'utf8')
    .replace(/const message = .*;/, `const message = 'hello from slipway bench, edit ${n}';`);
  fs.writeFileSync(file, text);
}

/** A dependency added (package.json and lockfile): the "deps" case. */
export function changeDependencies(srcDir: string): void {
  fs.copyFileSync(path.join(APP_DIR, 'package.deps.json'), path.join(srcDir, 'package.json'));
  fs.copyFileSync(path.join(APP_DIR, 'package-lock.deps.json'), path.join(srcDir, 'package-lock.json'));
}

/** Loads a store image into Docker and returns its size as Docker reports it (uncompressed). */
export async function slipwayImageSize(home: BenchHome, result: BuildResult): Promise<number> {
  const docker = new Docker();
  const tag = 'slipway-bench/app:latest';
  await loadIntoDocker(docker, home.store, result.manifestDigest, [tag]);
  try {
    return (await docker.getImage(tag).inspect()).Size;
  } finally {
    await docker
      .getImage(tag)
      .remove({ force: true })
      .catch(() => {});
  }
}
