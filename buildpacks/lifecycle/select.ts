import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SlipwayError } from '../../common/errors';
import { aliasesEnabled, resolveAliases } from './aliases';
import { BUILTIN_DIR, indexBuildpacks, loadBuildpack, readOrder, type BuildpackIndex } from './buildpacks';
import { fetchBuildpack, isUrl } from './fetch';
import { excerpt, isPlainIn, readUntrusted } from './safe-fs';
import { readTomlIn, str, table, tableArray } from './toml-files';
import { isBuildpackId, isBuildpackVersion, type OrderEntry } from './types';

/**
 * Choosing buildpacks, in this precedence: the explicit list (API/CLI) > project.toml
 * ([[io.buildpacks.group]] or [[build.buildpacks]], by id or uri) > app.json `buildpacks` >
 * .buildpacks (one URL per line) > the BUILDPACK_URL config var > the default order
 * (buildpacks/builtin/order.toml). A reference is an id (`slipway/nodejs`, `id@version`), a
 * directory inside the app (`./bp`, project.toml uri), an absolute directory (local builds), a
 * git URL (`https://host/repo.git#ref`) or a .tgz URL; fetched ones are cached by URL and ref.
 */
/** Which source chose the buildpacks, in precedence order (issue 14: every build says it). */
export type BuildpackOrigin =
  'buildpacks:set' | 'project.toml' | 'app.json' | '.buildpacks' | 'BUILDPACK_URL' | 'detection';

export function describeOrigin(o: BuildpackOrigin): string {
  return o === 'buildpacks:set'
    ? "the app's buildpack list (slipway buildpacks:set)"
    : o === 'detection'
      ? 'detection (no buildpacks:set, project.toml, app.json, .buildpacks or BUILDPACK_URL)'
      : o === 'BUILDPACK_URL'
        ? 'the BUILDPACK_URL config var'
        : o;
}

export interface Selection {
  order: OrderEntry[][];
  index: BuildpackIndex;
  /** Where the choice came from, for the build output. */
  source: string;
  origin: BuildpackOrigin;
  /** [[build.env]] from project.toml (lower precedence than config vars). */
  env: Record<string, string>;
  exclude?: (rel: string) => boolean;
}

export interface SelectOptions {
  sourceDir: string;
  buildpacks?: string[];
  env: Record<string, string>;
  /** Extra directories of buildpacks to index by id (besides buildpacks/builtin). */
  buildpackDirs?: string[];
  fetchCacheDir: string;
  /** Allow absolute host directories in the explicit list (local builds and tests only). */
  allowHostPaths?: boolean;
  /** host:port pairs on private addresses that buildpack URLs may still reach (SLIPWAY_BUILDPACK_FETCH_ALLOW). */
  fetchAllow?: string[];
  /** Heroku's buildpack names resolve to the built-in ones (aliases.ts) unless false. */
  aliases?: boolean;
  output?: (line: string) => void;
}

export async function selectBuildpacks(opts: SelectOptions): Promise<Selection> {
  const index = indexBuildpacks([BUILTIN_DIR, ...(opts.buildpackDirs ?? [])]);
  const project = readProject(opts.sourceDir);
  const resolveRef = async (ref: string, inRepo: boolean): Promise<OrderEntry> => {
    const at = ref.lastIndexOf('@');
    if (isUrl(ref)) {
      const dir = await fetchBuildpack(ref, opts.fetchCacheDir, { allow: opts.fetchAllow });
      const base =
        path
          .basename(ref.split('#')[0])
          .replace(/\.(git|tgz|tar\.gz)$/, '')
          .replace(/[^A-Za-z0-9.-]/g, '-')
          .replace(/^[^A-Za-z0-9]+/, '')
          .slice(0, 60) || 'buildpack';
      const bp = loadBuildpack(
        dir,
        `legacy/${base}-${createHash('sha256').update(ref).digest('hex').slice(0, 8)}`,
        'the fetched buildpack',
      );
      index.add(bp);
      return { id: bp.id, version: bp.version };
    }
    if (ref.startsWith('/') || ref.startsWith('.')) {
      if (!inRepo && !opts.allowHostPaths) {
        throw new SlipwayError('BUILD_FAILED', `buildpack ${excerpt(ref)} is a path on the server`, {
          hint: 'use a buildpack id (slipway/nodejs), a URL, or a path inside the app in project.toml',
          details: { phase: 'detect' },
        });
      }
      const dir = inRepo ? insideRepo(opts.sourceDir, ref) : path.resolve(ref);
      const bp = loadBuildpack(dir, undefined, inRepo ? path.posix.normalize(ref) : path.basename(dir));
      index.add(bp);
      return { id: bp.id, version: bp.version };
    }
    const entry = at > 0 ? { id: ref.slice(0, at), version: ref.slice(at + 1) } : { id: ref };
    if (!isBuildpackId(entry.id) || (entry.version !== undefined && !isBuildpackVersion(entry.version))) {
      throw new SlipwayError('BUILD_FAILED', `buildpack ${excerpt(ref)} is not a buildpack id, URL or path`, {
        hint: 'use an id such as slipway/nodejs (optionally @version), an https:// URL, or ./dir for a buildpack inside the app',
        details: { phase: 'detect' },
      });
    }
    return entry;
  };
  const aliases = { enabled: aliasesEnabled(opts.aliases, opts.env), index, output: opts.output };
  const group = async (refs: string[], inRepo: boolean) => [
    await Promise.all(resolveAliases(refs, aliases).map((r) => resolveRef(r, inRepo))),
  ];
  const env = project.env;

  if (opts.buildpacks?.length)
    return {
      order: await group(opts.buildpacks, false),
      index,
      source: "the app's buildpack list",
      origin: 'buildpacks:set',
      env,
      exclude: project.exclude,
    };
  if (project.refs.length)
    return {
      order: await group(project.refs, true),
      index,
      source: 'project.toml',
      origin: 'project.toml',
      env,
      exclude: project.exclude,
    };
  const appJson = readUntrusted(opts.sourceDir, 'app.json');
  if (appJson !== undefined) {
    const doc = parseAppJson(appJson);
    const list = Array.isArray(doc.buildpacks) ? (doc.buildpacks as unknown[]) : [];
    const urls = list
      .map((b) => (b && typeof b === 'object' ? (b as { url?: unknown }).url : undefined))
      .filter((u): u is string => typeof u === 'string');
    if (urls.length)
      return {
        order: await group(urls, true),
        index,
        source: 'app.json',
        origin: 'app.json',
        env,
        exclude: project.exclude,
      };
  }
  const dotBuildpacks = readUntrusted(opts.sourceDir, '.buildpacks');
  if (dotBuildpacks !== undefined) {
    // One per line; a line starting with # is a comment (a # later in a line is a git ref).
    const urls = dotBuildpacks
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    if (urls.length)
      return {
        order: await group(urls, true),
        index,
        source: '.buildpacks',
        origin: '.buildpacks',
        env,
        exclude: project.exclude,
      };
  }
  if (opts.env.BUILDPACK_URL)
    return {
      order: await group([opts.env.BUILDPACK_URL], true),
      index,
      source: 'BUILDPACK_URL',
      origin: 'BUILDPACK_URL',
      env,
      exclude: project.exclude,
    };
  const orderFile = path.join(BUILTIN_DIR, 'order.toml');
  const order = fs.existsSync(orderFile)
    ? readOrder(orderFile)
    : index.all.map((bp) => [{ id: bp.id, optional: false }]);
  return { order, index, source: 'the default order', origin: 'detection', env, exclude: project.exclude };
}

/** app.json as JSON; the parser's message is left out (it quotes the content). */
export function parseAppJson(text: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    const at = /position (\d+)/.exec((err as Error).message)?.[1];
    throw new SlipwayError('BUILD_FAILED', `app.json is not valid JSON${at ? ` (at character ${at})` : ''}`, {
      hint: 'fix app.json or remove it',
      details: { phase: 'detect', file: 'app.json' },
    });
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new SlipwayError('BUILD_FAILED', 'app.json must hold a JSON object', {
      hint: 'fix app.json or remove it',
      details: { phase: 'detect', file: 'app.json' },
    });
  }
  return doc as Record<string, unknown>;
}

/**
 * A buildpack directory inside the app: the path must stay inside and no component may be a
 * link (a link in the repo must never lead the server to its own files).
 */
function insideRepo(root: string, rel: string): string {
  const norm = path.posix.normalize(rel);
  if (path.posix.isAbsolute(norm) || norm === '..' || norm.startsWith('../')) {
    throw new SlipwayError('BUILD_FAILED', `buildpack path ${excerpt(rel)} points outside the app`, {
      hint: 'project.toml uri paths are relative to the app directory',
      details: { phase: 'detect' },
    });
  }
  if (!isPlainIn(root, norm, 'directory')) {
    throw new SlipwayError('BUILD_FAILED', `buildpack path ${excerpt(rel)} is a link or not a directory in the app`, {
      hint: 'check the uri in project.toml (links are not followed)',
      details: { phase: 'detect' },
    });
  }
  return path.join(root, norm);
}

interface Project {
  refs: string[];
  env: Record<string, string>;
  exclude?: (rel: string) => boolean;
}

function readProject(sourceDir: string): Project {
  const file = 'project.toml';
  const doc = readTomlIn(sourceDir, file);
  if (!doc) return { refs: [], env: {} };
  const io = table(table(doc.io, file, 'io')?.buildpacks, file, 'io.buildpacks');
  const build = table(doc.build, file, 'build');
  const entries = [
    ...tableArray(io?.group, file, 'io.buildpacks.group'),
    ...tableArray(build?.buildpacks, file, 'build.buildpacks'),
  ];
  const refs = entries.map((e) => {
    if (typeof e.uri === 'string')
      return e.uri.startsWith('http') || e.uri.startsWith('git')
        ? e.uri
        : e.uri.startsWith('.') || e.uri.startsWith('/')
          ? e.uri
          : `./${e.uri}`;
    const id = str(e.id, file, 'buildpacks.id');
    // Checked here: an id must never be taken for a path ("./x") or a URL further on.
    if (!isBuildpackId(id)) {
      throw new SlipwayError(
        'BUILD_FAILED',
        `project.toml: buildpack ${excerpt(id)} is not a buildpack id, URL or path`,
        {
          hint: 'ids are "/"-separated words of letters, digits, ".", "_" and "-"; use uri = "./dir" for a buildpack inside the app',
          details: { phase: 'detect', file },
        },
      );
    }
    return typeof e.version === 'string' ? `${id}@${e.version}` : id;
  });
  const env: Record<string, string> = {};
  // Schema 0.2 ([io.buildpacks], [[io.buildpacks.build.env]]) and 0.1 ([build], [[build.env]]).
  const ioBuild = table(io?.build, file, 'io.buildpacks.build');
  for (const e of [
    ...tableArray(ioBuild?.env, file, 'io.buildpacks.build.env'),
    ...tableArray(build?.env, file, 'build.env'),
  ]) {
    env[str(e.name, file, 'build.env.name')] = str(e.value, file, 'build.env.value');
  }
  const globs = (v: unknown, f: string) =>
    v === undefined
      ? undefined
      : Array.isArray(v) && v.every((x) => typeof x === 'string')
        ? (v as string[])
        : badField(file, f);
  const exclude = globs(io?.exclude ?? build?.exclude, 'build.exclude');
  const include = globs(io?.include ?? build?.include, 'build.include');
  let filter: Project['exclude'];
  if (include) {
    const res = include.map(globToRegExp);
    // Directories are kept while walking so included files beneath them can be reached.
    filter = (rel) =>
      !res.some((re) => re.test(rel) || re.test(rel + '/')) &&
      !include.some((g) => g.startsWith(rel + '/') || g.replace(/^\//, '').startsWith(rel + '/'));
  } else if (exclude) {
    const res = exclude.map(globToRegExp);
    filter = (rel) => res.some((re) => re.test(rel));
  }
  return { refs, env, exclude: filter };
}

function badField(file: string, field: string): never {
  throw new SlipwayError('BUILD_FAILED', `${file}: ${field} must be an array of strings`, {
    details: { phase: 'detect', file },
  });
}

/** gitignore-ish globs: "*" within a segment, "**" across, a leading "/" anchors at the root. */
export function globToRegExp(glob: string): RegExp {
  const anchored = glob.startsWith('/');
  const g = glob.replace(/^\//, '').replace(/\/$/, '');
  let re = '';
  for (let i = 0; i < g.length; i++) {
    const c = g[i];
    if (c === '*' && g[i + 1] === '*') {
      re += '.*';
      i++;
      if (g[i + 1] === '/') i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`${anchored ? '^' : '^(?:.*/)?'}${re}(?:/.*)?$`);
}
