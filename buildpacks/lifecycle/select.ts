import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SlipwayError } from '../../common/errors';
import { BUILTIN_DIR, indexBuildpacks, loadBuildpack, readOrder, type BuildpackIndex } from './buildpacks';
import { fetchBuildpack, isUrl } from './fetch';
import { readToml, str, table, tableArray } from './toml-files';
import type { OrderEntry } from './types';

/**
 * Choosing buildpacks, in this precedence: the explicit list (API/CLI) > project.toml
 * ([[io.buildpacks.group]] or [[build.buildpacks]], by id or uri) > app.json `buildpacks` >
 * .buildpacks (one URL per line) > the BUILDPACK_URL config var > the default order
 * (buildpacks/builtin/order.toml). A reference is an id (`slipway/nodejs`, `id@version`), a
 * directory inside the app (`./bp`, project.toml uri), an absolute directory (local builds), a
 * git URL (`https://host/repo.git#ref`) or a .tgz URL; fetched ones are cached by URL and ref.
 */
export interface Selection {
  order: OrderEntry[][];
  index: BuildpackIndex;
  /** Where the choice came from, for the build output. */
  source: string;
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
}

export async function selectBuildpacks(opts: SelectOptions): Promise<Selection> {
  const index = indexBuildpacks([BUILTIN_DIR, ...(opts.buildpackDirs ?? [])]);
  const project = readProject(opts.sourceDir);
  const resolveRef = async (ref: string, inRepo: boolean): Promise<OrderEntry> => {
    const at = ref.lastIndexOf('@');
    if (isUrl(ref)) {
      const dir = await fetchBuildpack(ref, opts.fetchCacheDir);
      const base = path.basename(ref.split('#')[0]).replace(/\.(git|tgz|tar\.gz)$/, '').replace(/[^A-Za-z0-9.-]/g, '-');
      const bp = loadBuildpack(dir, `legacy/${base}-${createHash('sha256').update(ref).digest('hex').slice(0, 8)}`);
      index.add(bp);
      return { id: bp.id, version: bp.version };
    }
    if (ref.startsWith('/') || ref.startsWith('.')) {
      if (!inRepo && !opts.allowHostPaths) {
        throw new SlipwayError('BUILD_FAILED', `buildpack ${JSON.stringify(ref)} is a path on the server`, {
          hint: 'use a buildpack id (slipway/nodejs), a URL, or a path inside the app in project.toml',
          details: { phase: 'detect' },
        });
      }
      const dir = inRepo ? insideRepo(opts.sourceDir, ref) : path.resolve(ref);
      const bp = loadBuildpack(dir);
      index.add(bp);
      return { id: bp.id, version: bp.version };
    }
    return at > 0 ? { id: ref.slice(0, at), version: ref.slice(at + 1) } : { id: ref };
  };
  const group = async (refs: string[], inRepo: boolean) => [await Promise.all(refs.map((r) => resolveRef(r, inRepo)))];
  const env = project.env;

  if (opts.buildpacks?.length) return { order: await group(opts.buildpacks, false), index, source: 'the app\'s buildpack list', env, exclude: project.exclude };
  if (project.refs.length) return { order: await group(project.refs, true), index, source: 'project.toml', env, exclude: project.exclude };
  const appJson = path.join(opts.sourceDir, 'app.json');
  if (fs.existsSync(appJson)) {
    let doc: { buildpacks?: Array<{ url?: string }> };
    try {
      doc = JSON.parse(fs.readFileSync(appJson, 'utf8'));
    } catch (err) {
      throw new SlipwayError('BUILD_FAILED', `app.json is not valid JSON: ${(err as Error).message}`, { hint: 'fix app.json or remove it', details: { phase: 'detect', file: 'app.json' } });
    }
    const urls = (doc.buildpacks ?? []).map((b) => b.url).filter((u): u is string => typeof u === 'string');
    if (urls.length) return { order: await group(urls, true), index, source: 'app.json', env, exclude: project.exclude };
  }
  const dotBuildpacks = path.join(opts.sourceDir, '.buildpacks');
  if (fs.existsSync(dotBuildpacks)) {
    const urls = fs.readFileSync(dotBuildpacks, 'utf8').split(/\s+/).filter((l) => l && !l.startsWith('#'));
    if (urls.length) return { order: await group(urls, true), index, source: '.buildpacks', env, exclude: project.exclude };
  }
  if (opts.env.BUILDPACK_URL) return { order: await group([opts.env.BUILDPACK_URL], true), index, source: 'BUILDPACK_URL', env, exclude: project.exclude };
  const orderFile = path.join(BUILTIN_DIR, 'order.toml');
  const order = fs.existsSync(orderFile) ? readOrder(orderFile) : index.all.map((bp) => [{ id: bp.id, optional: false }]);
  return { order, index, source: 'the default order', env, exclude: project.exclude };
}

function insideRepo(root: string, rel: string): string {
  let dir = path.resolve(root, rel);
  // Resolve links too: a symlink in the repo must not reach the server's own files.
  try {
    dir = fs.realpathSync(dir);
    root = fs.realpathSync(root);
  } catch {
    throw new SlipwayError('BUILD_FAILED', `buildpack path ${JSON.stringify(rel)} does not exist in the app`, { hint: 'check the uri in project.toml', details: { phase: 'detect' } });
  }
  const r = path.relative(root, dir);
  if (r.startsWith('..') || path.isAbsolute(r)) {
    throw new SlipwayError('BUILD_FAILED', `buildpack path ${JSON.stringify(rel)} points outside the app`, {
      hint: 'project.toml uri paths are relative to the app directory',
      details: { phase: 'detect' },
    });
  }
  return dir;
}

interface Project {
  refs: string[];
  env: Record<string, string>;
  exclude?: (rel: string) => boolean;
}

function readProject(sourceDir: string): Project {
  const file = path.join(sourceDir, 'project.toml');
  if (!fs.existsSync(file)) return { refs: [], env: {} };
  const doc = readToml(file, 'project.toml');
  const io = table(table(doc.io, file, 'io')?.buildpacks, file, 'io.buildpacks');
  const build = table(doc.build, file, 'build');
  const entries = [...tableArray(io?.group, file, 'io.buildpacks.group'), ...tableArray(build?.buildpacks, file, 'build.buildpacks')];
  const refs = entries.map((e) => {
    if (typeof e.uri === 'string') return e.uri.startsWith('http') || e.uri.startsWith('git') ? e.uri : e.uri.startsWith('.') || e.uri.startsWith('/') ? e.uri : `./${e.uri}`;
    const id = str(e.id, file, 'buildpacks.id');
    return typeof e.version === 'string' ? `${id}@${e.version}` : id;
  });
  const env: Record<string, string> = {};
  // Schema 0.2 ([io.buildpacks], [[io.buildpacks.build.env]]) and 0.1 ([build], [[build.env]]).
  const ioBuild = table(io?.build, file, 'io.buildpacks.build');
  for (const e of [...tableArray(ioBuild?.env, file, 'io.buildpacks.build.env'), ...tableArray(build?.env, file, 'build.env')]) {
    env[str(e.name, file, 'build.env.name')] = str(e.value, file, 'build.env.value');
  }
  const globs = (v: unknown, f: string) => (v === undefined ? undefined : Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : badField(file, f));
  const exclude = globs(io?.exclude ?? build?.exclude, 'build.exclude');
  const include = globs(io?.include ?? build?.include, 'build.include');
  let filter: Project['exclude'];
  if (include) {
    const res = include.map(globToRegExp);
    // Directories are kept while walking so included files beneath them can be reached.
    filter = (rel) => !res.some((re) => re.test(rel) || re.test(rel + '/')) && !include.some((g) => g.startsWith(rel + '/') || g.replace(/^\//, '').startsWith(rel + '/'));
  } else if (exclude) {
    const res = exclude.map(globToRegExp);
    filter = (rel) => res.some((re) => re.test(rel));
  }
  return { refs, env, exclude: filter };
}

function badField(file: string, field: string): never {
  throw new SlipwayError('BUILD_FAILED', `${file}: ${field} must be an array of strings`, { details: { phase: 'detect', file } });
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
