import * as fs from 'node:fs';
import * as path from 'node:path';
import { SlipwayError } from '../../common/errors';
import type { ImageStore, LayerCompression } from '../oci/layout';
import type { Descriptor, ImageConfig, LayerRef } from '../oci/media-types';
import type { AnalyzeResult } from './analyze';
import type { BuildOutcome } from './build';
import { fingerprint, type CacheMetadata, type CommitLayer, type FileIndex, type LayerCache } from './cache';
import { generateLaunchScript, LAUNCHER_PATH, LAUNCHER_SCRIPT, LAUNCH_SCRIPT_PATH, type LaunchLayer } from './launcher';
import type { Restored } from './restore';
import { parentDirs, walkDir, writeTar, type TarEntry } from './tar';
import { stringifyToml, writeToml, writeTomlIn } from './toml-files';
import { escapeId, type BuildpackLayersMetadata, type LifecycleMetadata } from './types';
import type { Workspace } from './workspace';
import { readFileIn } from './safe-fs';

/**
 * Export: the app image = the run image's layers + one layer per launch layer + the app layer +
 * the launcher layer + the config layer (metadata.toml, launch.sh, /cnb/process links). Each layer
 * is written as a reproducible tar and hashed first; when its diff ID equals a layer of the
 * previous image, that blob is referenced again and nothing is written. Cache layers go to the
 * per-app cache. Config vars are nowhere in here: they live only in the platform dir.
 */
export interface ExportResult {
  manifestDigest: string;
  configDigest: string;
  layersWritten: number;
  layersReused: number;
}

const APP_OWNER = { uid: 1000, gid: 1000 };
const ROOT = { uid: 0, gid: 0 };
export const CREATED = '1980-01-01T00:00:01Z';

export async function exportImage(opts: {
  ws: Workspace;
  store: ImageStore;
  imageRef: string;
  /** Recorded as io.slipway.app so Docker objects of an app are found by label (GC, destroy). */
  appName: string;
  stack: string;
  analyzed: AnalyzeResult;
  built: BuildOutcome;
  restored: Restored;
  cache: LayerCache;
  sourceVersion?: string;
  output: (line: string) => void;
  /** New layers: stored as plain tars (default; the local dockerd pulls them) or gzip level 1. */
  compression?: LayerCompression;
}): Promise<ExportResult> {
  const { ws, store, analyzed, built } = opts;
  const run = analyzed.runImage;
  const layers: LayerRef[] = run.manifest.layers.map((d, i) => ({
    descriptor: d,
    diffId: run.config.rootfs.diff_ids[i],
  }));
  const history: NonNullable<ImageConfig['history']> = (run.config.history ?? [])
    .filter((h) => !h.empty_layer)
    .slice(0, layers.length);
  while (history.length < layers.length) history.push({ created_by: 'run image' });
  let written = 0;
  let reused = 0;
  let n = 0;

  /**
   * Tars entries, then reuses a blob with the same diff ID (the previous image's, or any layer in
   * the store: a Node.js runtime another app built is the same tar, so the same blob) or stores a
   * new one. The layer's slot in the image is taken synchronously, so layers tarred concurrently
   * keep the order they were asked for in.
   */
  async function addLayer(
    entries: TarEntry[],
    createdBy: string,
    opts2: { image?: boolean; knownDiffId?: string; hashes?: Map<string, string> } = {},
  ): Promise<string> {
    const slot = opts2.image !== false ? layers.length : -1;
    if (slot >= 0) {
      layers.push(undefined as unknown as LayerRef);
      history.push({ created: CREATED, created_by: createdBy });
    }
    // A cached layer with an unchanged fingerprint keeps its diff ID: no tar, no hash, and, when
    // the store has it, no blob either.
    const known = opts2.knownDiffId;
    const knownDesc = known ? (analyzed.previousLayers.get(known) ?? store.layerByDiffId(known)) : undefined;
    if (known && (slot < 0 || (knownDesc && store.hasBlob(knownDesc.digest)))) {
      if (slot >= 0) {
        layers[slot] = { descriptor: knownDesc!, diffId: known };
        reused++;
      }
      return known;
    }
    const tmp = path.join(ws.tmp, `layer-${n++}.tar`);
    const { diffId } = await writeTar(
      entries,
      tmp,
      opts2.hashes ? (e, sha) => opts2.hashes!.set(e.path, sha) : undefined,
    );
    if (slot >= 0) {
      const prev = analyzed.previousLayers.get(diffId);
      let descriptor: Descriptor | undefined = prev && store.hasBlob(prev.digest) ? prev : store.layerByDiffId(diffId);
      if (descriptor) {
        reused++;
      } else {
        descriptor = await store.putLayerFile(tmp, diffId, opts.compression ?? 'none');
        written++;
      }
      layers[slot] = { descriptor, diffId };
    }
    fs.rmSync(tmp, { force: true });
    return diffId;
  }

  const cacheMeta: CacheMetadata = { buildpacks: [] };
  const cacheDirs: CommitLayer[] = [];
  const bpMeta: BuildpackLayersMetadata[] = [];
  const launchLayers: LaunchLayer[] = [];
  // Layers are independent: they are tarred and hashed concurrently (each takes its image slot
  // when it starts), and what each one records is applied afterwards in buildpack and layer
  // order, so the metadata (and the image digest) never depend on which tar finished first.
  const tasks: Array<Promise<() => void>> = [];
  for (const { bp, layers: bl, store: storeMeta } of built.buildpacks) {
    if (bp.kind !== 'cnb') continue;
    const esc = escapeId(bp.id);
    const meta: BuildpackLayersMetadata = {
      key: bp.id,
      version: bp.version,
      layers: {},
      ...(storeMeta ? { store: { metadata: storeMeta } } : {}),
    };
    const cmeta: CacheMetadata['buildpacks'][number] = { key: bp.id, version: bp.version, layers: {} };
    tasks.push(
      Promise.resolve(() => {
        bpMeta.push(meta);
        cacheMeta.buildpacks.push(cmeta);
      }),
    );
    for (const name of Object.keys(bl).sort()) {
      const l = bl[name];
      const host = path.join(ws.layers, esc, name);
      const imgPath = `/layers/${esc}/${name}`;
      const record = (sha: string | undefined) => () => {
        if (sha) meta.layers[name] = { sha, data: l.data, build: l.build, launch: l.launch, cache: l.cache };
      };
      if (fs.existsSync(host)) {
        const entries = [...parentDirs(imgPath, APP_OWNER), ...walkDir(host, imgPath, APP_OWNER)];
        // Cache layers restored with a file index: fingerprint first (re-reading only files
        // whose size/mtime/inode changed); equal fingerprint = equal diff ID, no tar needed.
        const restoredFp = opts.restored.fingerprints.get(bp.id)?.get(name);
        const restoredIndex = opts.restored.indexes.get(bp.id)?.get(name);
        let fp: { fp: string; index: FileIndex } | undefined;
        if (l.cache && restoredFp && restoredIndex) fp = fingerprint(entries, new Map(), restoredIndex);
        const knownDiffId = fp && fp.fp === restoredFp ? opts.restored.shas.get(bp.id)?.get(name) : undefined;
        const hashes = new Map<string, string>();
        if (l.launch) launchLayers.push({ bpId: bp.id, name, hostDir: host });
        const shaP =
          l.launch || l.cache
            ? addLayer(entries, `Layer: '${name}', Created by buildpack: ${bp.id}@${bp.version}`, {
                image: l.launch,
                knownDiffId,
                hashes,
              })
            : Promise.resolve(undefined);
        tasks.push(
          shaP.then((sha) => {
            let cacheEntry: (() => void) | undefined;
            if (l.cache && sha) {
              if (!fp || !knownDiffId) fp = fingerprint(entries, hashes, restoredIndex);
              const f = fp;
              cacheEntry = () => {
                cmeta.layers[name] = {
                  sha,
                  fingerprint: f.fp,
                  data: l.data,
                  build: l.build,
                  launch: l.launch,
                  cache: true,
                };
                cacheDirs.push({ esc, name, hostDir: host, index: f.index });
              };
            }
            return () => {
              cacheEntry?.();
              record(sha)();
            };
          }),
        );
      } else if (l.launch) {
        // Re-declared without contents: keep the previous image's layer (CNB reuse).
        const prevSha = opts.restored.shas.get(bp.id)?.get(name);
        const desc = prevSha ? analyzed.previousLayers.get(prevSha) : undefined;
        if (!prevSha || !desc) {
          throw new SlipwayError(
            'BUILD_FAILED',
            `buildpack ${bp.id} kept launch layer "${name}" without contents, but the previous image has no such layer`,
            {
              hint: 'the buildpack must write the layer directory when there is nothing to reuse',
              details: { phase: 'export', buildpack: bp.id },
            },
          );
        }
        layers.push({ descriptor: desc, diffId: prevSha });
        history.push({
          created: CREATED,
          created_by: `Layer: '${name}', Created by buildpack: ${bp.id}@${bp.version} (reused)`,
        });
        reused++;
        tasks.push(Promise.resolve(record(prevSha)));
      }
    }
  }

  // Launch SBOMs (<layer>.sbom.<ext>, launch.sbom.<ext>) as one layer at /layers/sbom/launch/.
  const sbomEntries: TarEntry[] = [];
  for (const { bp, layers: bl } of built.buildpacks) {
    if (bp.kind !== 'cnb') continue;
    const esc = escapeId(bp.id);
    const dir = path.join(ws.layers, esc);
    for (const f of fs.existsSync(dir) ? fs.readdirSync(dir).sort() : []) {
      const m = /^(.+)\.sbom\.(cdx\.json|spdx\.json|syft\.json)$/.exec(f);
      if (!m || (m[1] !== 'launch' && !bl[m[1]]?.launch)) continue;
      const dest =
        m[1] === 'launch'
          ? `/layers/sbom/launch/${esc}/sbom.${m[2]}`
          : `/layers/sbom/launch/${esc}/${m[1]}/sbom.${m[2]}`;
      sbomEntries.push(...parentDirs(dest, APP_OWNER), {
        path: dest,
        type: 'file',
        mode: 0o644,
        ...APP_OWNER,
        content: Buffer.from(readFileIn(ws.root, path.join(dir, f))),
      });
    }
  }
  const sbomShaP = sbomEntries.length ? addLayer(sbomEntries, 'Software Bill-of-Materials') : undefined;

  const appShaP = addLayer(walkDir(ws.app, '/app', APP_OWNER), 'Application Layer');

  const launcherEntries: TarEntry[] = [
    ...parentDirs(LAUNCHER_PATH, ROOT),
    { path: LAUNCHER_PATH, type: 'file', mode: 0o755, ...ROOT, content: Buffer.from(LAUNCHER_SCRIPT) },
  ];
  const launcherShaP = addLayer(launcherEntries, 'Launcher');
  // Every launch layer, the SBOM, app and launcher layers are in flight; all must succeed.
  const settled = await Promise.allSettled([...tasks, sbomShaP, appShaP, launcherShaP]);
  const failed = settled.find((r) => r.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
  for (const apply of await Promise.all(tasks)) apply();
  const [sbomSha, appSha, launcherSha] = await Promise.all([sbomShaP, appShaP, launcherShaP]);

  const metadataToml = {
    buildpacks: built.buildpacks.map(({ bp }) => ({ id: bp.id, version: bp.version, api: bp.api })),
    processes: built.processes.map((p) => ({
      type: p.type,
      command: p.command,
      args: p.args,
      direct: p.direct,
      'buildpack-id': p.buildpackId,
      'working-dir': p.workingDir ?? '/app',
    })),
    labels: Object.entries(built.labels).map(([key, value]) => ({ key, value })),
    'buildpack-default-process-type': built.defaultProcess,
  };
  writeTomlIn(ws.root, path.join(ws.layers, 'config', 'metadata.toml'), metadataToml);
  const launchSh = generateLaunchScript({
    processes: built.processes,
    defaultProcess: built.defaultProcess,
    layers: launchLayers,
    root: ws.root,
  });
  const configEntries: TarEntry[] = [
    ...parentDirs(LAUNCH_SCRIPT_PATH, APP_OWNER),
    {
      path: '/layers/config/metadata.toml',
      type: 'file',
      mode: 0o644,
      ...APP_OWNER,
      content: Buffer.from(stringifyToml(metadataToml)),
    },
    { path: LAUNCH_SCRIPT_PATH, type: 'file', mode: 0o644, ...APP_OWNER, content: Buffer.from(launchSh) },
    { path: '/cnb', type: 'directory', mode: 0o755, ...ROOT },
    { path: '/cnb/process', type: 'directory', mode: 0o755, ...ROOT },
    ...built.processes.map((p) => ({
      path: `/cnb/process/${p.type}`,
      type: 'symlink' as const,
      mode: 0o777,
      ...ROOT,
      linkname: LAUNCHER_PATH,
    })),
  ];
  const configSha = await addLayer(configEntries, 'Buildpacks Application Launcher Config');

  const lifecycleMeta: LifecycleMetadata = {
    app: [{ sha: appSha }],
    config: { sha: configSha },
    launcher: { sha: launcherSha },
    ...(sbomSha ? { sbom: { sha: sbomSha } } : {}),
    buildpacks: bpMeta.map((b) => ({
      ...b,
      layers: Object.fromEntries(Object.entries(b.layers).filter(([, l]) => l.launch)),
    })),
    runImage: {
      topLayer: run.config.rootfs.diff_ids[run.config.rootfs.diff_ids.length - 1],
      reference: run.manifestDigest,
      image: run.ref,
    },
    stack: { runImage: { image: run.ref } },
  };
  const buildMeta = {
    bom: [],
    buildpacks: built.buildpacks.map(({ bp }) => ({
      id: bp.id,
      version: bp.version,
      ...(bp.homepage ? { homepage: bp.homepage } : {}),
    })),
    launcher: { version: 'slipway-bash-1', source: { git: { repository: 'slipway', commit: '' } } },
    processes: built.processes.map((p) => ({
      type: p.type,
      command: p.command,
      args: p.args,
      direct: p.direct,
      buildpackID: p.buildpackId,
      'working-dir': p.workingDir ?? '/app',
    })),
    ...(built.defaultProcess ? { 'buildpack-default-process-type': built.defaultProcess } : {}),
  };
  const projectMeta = opts.sourceVersion ? { source: { type: 'git', version: { commit: opts.sourceVersion } } } : {};
  const runEnv = (run.config.config.Env ?? []).filter((e) => !e.startsWith('PATH='));
  const runPath =
    (run.config.config.Env ?? []).find((e) => e.startsWith('PATH='))?.slice(5) ?? '/usr/local/bin:/usr/bin:/bin';
  const config: ImageConfig = {
    created: CREATED,
    architecture: run.config.architecture,
    os: run.config.os,
    config: {
      User: '1000:1000',
      WorkingDir: '/app',
      Entrypoint: [LAUNCHER_PATH],
      Env: [
        ...runEnv,
        `PATH=/cnb/process:/cnb/lifecycle:${runPath}`,
        'CNB_LAYERS_DIR=/layers',
        'CNB_APP_DIR=/app',
        'CNB_PLATFORM_API=0.12',
        'CNB_DEPRECATION_MODE=quiet',
      ],
      Labels: {
        ...(run.config.config.Labels ?? {}),
        ...built.labels,
        'io.buildpacks.lifecycle.metadata': JSON.stringify(lifecycleMeta),
        'io.buildpacks.build.metadata': JSON.stringify(buildMeta),
        'io.buildpacks.project.metadata': JSON.stringify(projectMeta),
        'io.buildpacks.rebasable': 'true',
        'io.slipway.managed': 'true',
        'io.slipway.app': opts.appName,
      },
    },
    rootfs: { type: 'layers', diff_ids: [] },
    history,
  };
  const img = await store.writeImage(config, layers);
  await store.tag(opts.imageRef, img.manifest);
  // Only now, with the image safely written, do the cache layer dirs move back into the cache.
  opts.cache.commit(cacheMeta, cacheDirs);
  writeToml(path.join(ws.root, 'report.toml'), {
    image: {
      tags: [opts.imageRef],
      digest: img.manifest.digest,
      'image-id': img.config.digest,
      'manifest-size': img.manifest.size,
    },
  });
  return {
    manifestDigest: img.manifest.digest,
    configDigest: img.config.digest,
    layersWritten: written,
    layersReused: reused,
  };
}
