import * as fs from 'node:fs';
import * as path from 'node:path';
import { SlipwayError } from '../../common/errors';
import { excerpt } from './safe-fs';
import { readToml, readTomlIn, str, table, tableArray, bool } from './toml-files';
import { isBuildpackId, isBuildpackVersion, type Buildpack, type GroupMember, type OrderEntry } from './types';
import { stackInfo } from '../../stacks/info';

/**
 * Finding buildpacks on disk and expanding orders into groups. A CNB buildpack is a directory with
 * buildpack.toml; a legacy (Heroku/Cloud Foundry) buildpack is a directory with bin/detect and
 * bin/compile (or bin/supply / bin/finalize). Both kinds take part in the same groups.
 */
export const SUPPORTED_APIS = ['0.7', '0.8', '0.9', '0.10', '0.11', '0.12'];

/**
 * The built-in buildpacks as the build assembles them (scripts/copy-assets.mjs copies
 * buildpacks/builtin plus the _shared files each declares into dist/builtin-buildpacks).
 */
export const BUILTIN_DIR = path.resolve(__dirname, '..', '..', 'builtin-buildpacks');

/**
 * Loads the buildpack in `dir`. Its files are untrusted (a directory of the pushed repository or a
 * fetched buildpack): buildpack.toml is read through the safe reader (no link followed, 1 MiB at
 * most), and the id, version and order entries must pass the strict patterns before anything
 * uses them in a path. `label` names the buildpack in messages (never the host path).
 */
export function loadBuildpack(dir: string, fallbackId?: string, label = path.basename(dir)): Buildpack {
  const tomlLabel = `${label}/buildpack.toml`;
  const doc = readTomlIn(dir, 'buildpack.toml', tomlLabel);
  if (doc) return loadCnb(dir, doc, tomlLabel);
  const bin = (n: string) => present(path.join(dir, 'bin', n));
  if (bin('detect') && (bin('compile') || bin('supply') || bin('finalize'))) {
    const id =
      fallbackId ??
      `legacy/${
        path
          .basename(dir)
          .replace(/[^A-Za-z0-9._-]/g, '-')
          .replace(/^[^A-Za-z0-9]+/, '') || 'buildpack'
      }`;
    if (!isBuildpackId(id)) throw badId(tomlLabel, id);
    return { id, version: '0.0.0', api: 'legacy', kind: 'legacy', dir, clearEnv: false, name: path.basename(dir) };
  }
  throw new SlipwayError('BUILD_FAILED', `${label} is not a buildpack`, {
    hint: 'a CNB buildpack has buildpack.toml; a Heroku-style buildpack has bin/detect and bin/compile',
    details: { phase: 'detect' },
  });
}

/** Exists as an entry of its own (a link counts, but is never followed). */
function present(p: string): boolean {
  try {
    fs.lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

function badId(file: string, id: string): SlipwayError {
  return new SlipwayError('BUILD_FAILED', `${file}: buildpack id ${excerpt(id)} is not allowed`, {
    hint: 'ids are "/"-separated words of letters, digits, ".", "_" and "-" (no ".." and not app, config, sbom or generated)',
    details: { phase: 'detect', file },
  });
}

function badVersion(file: string, v: string): SlipwayError {
  return new SlipwayError('BUILD_FAILED', `${file}: buildpack version ${excerpt(v)} is not allowed`, {
    hint: 'versions use letters, digits, ".", "_", "+" and "-" and start with a letter or digit (for example 1.2.3)',
    details: { phase: 'detect', file },
  });
}

/** An order entry (group member) with a checked id and version. */
function orderEntry(g: Record<string, unknown>, file: string): OrderEntry {
  const id = str(g.id, file, 'order.group.id');
  if (!isBuildpackId(id)) throw badId(file, id);
  const version = g.version === undefined ? undefined : str(g.version, file, 'order.group.version');
  if (version !== undefined && !isBuildpackVersion(version)) throw badVersion(file, version);
  return { id, version, optional: bool(g.optional, file, 'order.group.optional') };
}

function loadCnb(dir: string, doc: Record<string, unknown>, file: string): Buildpack {
  const api = str(doc.api, file, 'api');
  if (!SUPPORTED_APIS.includes(api)) {
    throw new SlipwayError('BUILD_FAILED', `${file}: Buildpack API ${excerpt(api)} is not supported`, {
      hint: `supported: ${SUPPORTED_APIS.join(', ')}`,
      details: { phase: 'detect', file, exitCode: 12 },
    });
  }
  const info = table(doc.buildpack, file, 'buildpack');
  if (!info)
    throw new SlipwayError('BUILD_FAILED', `${file}: missing [buildpack] table`, {
      hint: 'add [buildpack] with id and version',
      details: { file },
    });
  const id = str(info.id, file, 'buildpack.id');
  if (!isBuildpackId(id)) throw badId(file, id);
  const version = str(info.version, file, 'buildpack.version', '0.0.0');
  if (!isBuildpackVersion(version)) throw badVersion(file, version);
  const orders = tableArray(doc.order, file, 'order');
  const order = orders.length
    ? orders.map((o) => tableArray(o.group, file, 'order.group').map((g) => orderEntry(g, file)))
    : undefined;
  if (!order && !present(path.join(dir, 'bin', 'detect'))) {
    throw new SlipwayError('BUILD_FAILED', `${file} is there but bin/detect is missing`, {
      hint: 'a CNB buildpack needs bin/detect and bin/build',
      details: { file },
    });
  }
  return {
    id,
    version,
    api,
    kind: 'cnb',
    dir,
    name: typeof info.name === 'string' ? info.name : undefined,
    homepage: typeof info.homepage === 'string' ? info.homepage : undefined,
    clearEnv: bool(info['clear-env'], file, 'buildpack.clear-env'),
    order,
    targets: tableArray(doc.targets, file, 'targets').map((t) => ({
      os: optStr(t.os, file, 'targets.os'),
      arch: optStr(t.arch, file, 'targets.arch'),
      variant: optStr(t.variant, file, 'targets.variant'),
      distros: tableArray(t.distros, file, 'targets.distros').map((d) => ({
        name: optStr(d.name, file, 'targets.distros.name'),
        version: optStr(d.version, file, 'targets.distros.version'),
      })),
    })),
  };
}

const optStr = (v: unknown, file: string, field: string) => (v === undefined ? undefined : str(v, file, field));

export interface Target {
  os: string;
  arch: string;
  distro: { name: string; version: string };
}

/** The default target: linux/amd64, Debian 12 (the bookworm stack). */
export const TARGET: Target = { os: 'linux', arch: 'amd64', distro: { name: 'debian', version: '12' } };

/** The target an app's stack offers: linux/amd64 and the stack's Debian version (stacks/NAME/stack.conf). */
export function targetFor(stack: string): Target {
  return { ...TARGET, distro: { name: 'debian', version: stackInfo(stack).distroVersion } };
}

/** A buildpack without [[targets]] runs anywhere; otherwise one target must match (missing fields match anything). */
export function matchesTarget(bp: Buildpack, target: Target = TARGET): boolean {
  const TARGET = target;
  if (!bp.targets || bp.targets.length === 0) return true;
  return bp.targets.some(
    (t) =>
      (!t.os || t.os === TARGET.os) &&
      (!t.arch || t.arch === TARGET.arch) &&
      !t.variant &&
      (t.distros.length === 0 ||
        t.distros.some(
          (d) => (!d.name || d.name === TARGET.distro.name) && (!d.version || d.version === TARGET.distro.version),
        )),
  );
}

/** Buildpacks known by id: every buildpack directory under the given roots (one level deep). */
export interface BuildpackIndex {
  all: Buildpack[];
  find(entry: OrderEntry): Buildpack | undefined;
  add(bp: Buildpack): void;
}

export function indexBuildpacks(roots: string[]): BuildpackIndex {
  const all: Buildpack[] = [];
  for (const root of roots) {
    if (!fs.existsSync(root)) continue;
    for (const name of fs.readdirSync(root).sort()) {
      const dir = path.join(root, name);
      if (!fs.lstatSync(dir).isDirectory() || !present(path.join(dir, 'buildpack.toml'))) continue;
      all.push(loadBuildpack(dir));
    }
  }
  return {
    all,
    add: (bp) => void all.unshift(bp),
    find: (e) => all.find((b) => b.id === e.id && (!e.version || b.version === e.version)),
  };
}

/**
 * Expands one order group into concrete groups: composite buildpacks are replaced by each of their
 * own groups (depth first, left to right); an optional composite also yields the group without it.
 */
export function expandGroup(group: OrderEntry[], index: BuildpackIndex, depth = 0): GroupMember[][] {
  if (depth > 8)
    throw new SlipwayError('BUILD_FAILED', 'composite buildpacks nest too deep (a cycle?)', {
      details: { phase: 'detect' },
    });
  let out: GroupMember[][] = [[]];
  for (const entry of group) {
    const bp = index.find(entry);
    if (!bp) {
      throw new SlipwayError(
        'BUILD_FAILED',
        `buildpack ${excerpt(entry.id + (entry.version ? '@' + entry.version : ''))} was not found`,
        {
          hint: `known buildpacks: ${index.all.map((b) => b.id).join(', ') || 'none'}`,
          details: { phase: 'detect', buildpack: entry.id },
        },
      );
    }
    if (bp.order) {
      const subs = bp.order
        .flatMap((g) => expandGroup(g, index, depth + 1))
        .map((g) => g.map((m) => ({ ...m, optional: m.optional || !!entry.optional })));
      if (entry.optional) subs.push([]);
      out = out.flatMap((acc) => subs.map((s) => [...acc, ...s]));
    } else {
      out = out.map((acc) => [...acc, { bp, optional: !!entry.optional }]);
    }
  }
  return out;
}

/** Reads an order.toml ([[order]] [[order.group]] id/version/optional). */
export function readOrder(file: string): OrderEntry[][] {
  const doc = readToml(file, 'order.toml');
  return tableArray(doc.order, file, 'order').map((o) =>
    tableArray(o.group, file, 'order.group').map((g) => orderEntry(g, file)),
  );
}
