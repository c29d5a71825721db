import * as fs from 'node:fs';
import { createGunzip } from 'node:zlib';
import { extract } from 'tar-stream';
import type { ImageStore } from '../../buildpacks/oci/layout';
import type { Descriptor } from '../../buildpacks/oci/media-types';

/**
 * What a stack version holds: the stack recipe records `dpkg-query -W` ("name version" lines)
 * as /.slipway-packages in the root file system (the stack builder adds the suite each version
 * came from as a third column, e.g. bookworm-security; older versions have two), so every run image (and every app image, in
 * its run image part) carries its package list. Read from the layers top-down (an upper layer's
 * copy wins), cached per layer digest: all apps on a stack share the same base layer, so it is
 * read once per server process.
 */
export type PackageList = Map<string, string> & { suites?: Map<string, string> };

export interface PackageDiff {
  /** suite/security: where the new version came from, when the new list records it. */
  updated: Array<{ name: string; from: string; to: string; suite?: string; security?: boolean }>;
  added: Array<{ name: string; version: string }>;
  removed: Array<{ name: string; version: string }>;
}

const FILE = /^(\.\/)?\.slipway-packages$/;

export function parsePackages(text: string): PackageList {
  const out: PackageList = new Map();
  const suites = new Map<string, string>();
  for (const line of text.split('\n')) {
    const [name, version, suite] = line.trim().split(/\s+/);
    if (name && version) out.set(name, version);
    if (name && version && suite && suite !== '-') suites.set(name, suite);
  }
  if (suites.size) out.suites = suites;
  return out;
}

export function diffPackages(from: PackageList, to: PackageList): PackageDiff {
  const d: PackageDiff = { updated: [], added: [], removed: [] };
  for (const [name, v] of to) {
    const old = from.get(name);
    if (old === undefined) d.added.push({ name, version: v });
    else if (old !== v) {
      const suite = to.suites?.get(name);
      d.updated.push({ name, from: old, to: v, ...(suite ? { suite, security: /-security$/.test(suite) } : {}) });
    }
  }
  for (const [name, v] of from) if (!to.has(name)) d.removed.push({ name, version: v });
  return d;
}

export function createPackageReader(store: ImageStore) {
  const byLayer = new Map<string, Promise<string | null>>();

  /** The layer's /.slipway-packages, or null; stops reading the layer once found. */
  function fileInLayer(layer: Descriptor): Promise<string | null> {
    return new Promise((resolve, reject) => {
      const src = fs.createReadStream(store.blobPath(layer.digest));
      const ex = extract();
      let done = false;
      const finish = (v: string | null) => {
        if (done) return;
        done = true;
        resolve(v);
        src.destroy();
        ex.destroy();
      };
      ex.on('entry', (h, stream, next) => {
        if (!FILE.test(h.name)) {
          stream.on('end', next);
          stream.resume();
          return;
        }
        let text = '';
        stream.on('data', (c: unknown) => (text += (c as Buffer).toString('utf8')));
        stream.on('end', () => finish(text));
      });
      ex.on('finish', () => finish(null));
      ex.on('error', (e) => (done ? undefined : reject(e)));
      src.on('error', (e) => (done ? undefined : reject(e)));
      const gz = layer.mediaType.endsWith('gzip');
      (gz ? src.pipe(createGunzip()).on('error', (e) => (done ? undefined : reject(e))) : src).pipe(ex);
    });
  }

  const cached = (layer: Descriptor) => {
    let p = byLayer.get(layer.digest);
    if (!p) {
      p = fileInLayer(layer);
      byLayer.set(layer.digest, p);
      p.catch(() => byLayer.delete(layer.digest));
    }
    return p;
  };

  /** The package list of an image made of these layers (bottom first), or undefined when none records one. */
  async function packagesOf(layers: Descriptor[]): Promise<PackageList | undefined> {
    for (let i = layers.length - 1; i >= 0; i--) {
      const text = await cached(layers[i]);
      if (text !== null) return parsePackages(text);
    }
    return undefined;
  }

  return { packagesOf };
}
export type PackageReader = ReturnType<typeof createPackageReader>;

/** "3 packages updated, 1 security" / "1 package updated, 1 added" for release descriptions. */
export function diffSummary(d: PackageDiff): string {
  const parts = [`${d.updated.length} package${d.updated.length === 1 ? '' : 's'} updated`];
  const security = d.updated.filter((u) => u.security).length;
  if (security) parts.push(`${security} security`);
  if (d.added.length) parts.push(`${d.added.length} added`);
  if (d.removed.length) parts.push(`${d.removed.length} removed`);
  return parts.join(', ');
}
