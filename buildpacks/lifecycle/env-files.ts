import * as fs from 'node:fs';
import * as path from 'node:path';
import { assertInside, readFileIn } from './safe-fs';

/**
 * CNB environment files (env/, env.build/, env.launch/, env.launch/<process>/): the file name up
 * to the first "." is the variable; the suffix says what to do with the raw file content.
 * Pure data in, data out, so the same rules drive the build env (applied here in TypeScript) and
 * the launch env (turned into bash by the exporter, because the run image has no Node).
 */
export type EnvAction = 'override' | 'default' | 'prepend' | 'append';

export interface EnvOp {
  name: string;
  action: EnvAction;
  value: string;
  /** Delimiter for prepend/append; none by default, as in the CNB spec. */
  delim: string;
}

const ACTIONS: Record<string, EnvAction> = {
  override: 'override',
  default: 'default',
  prepend: 'prepend',
  append: 'append',
};

/** Reads one env directory. Files are taken in lexical order, like the reference lifecycle. */
export function readEnvDir(dir: string, noSuffix: EnvAction = 'override', root?: string): EnvOp[] {
  let names: string[];
  try {
    if (root) assertInside(root, dir);
    names = fs.readdirSync(dir).sort();
  } catch (err) {
    if ((err as { code?: string }).code === 'BUILD_FAILED') throw err;
    return [];
  }
  // Files a buildpack wrote are read without following links (see safe-fs.ts).
  const read = (f: string) => (root ? readFileIn(root, f) : fs.readFileSync(f, 'utf8'));
  const delims = new Map<string, string>();
  for (const f of names) {
    if (f.endsWith('.delim')) delims.set(f.slice(0, -'.delim'.length), read(path.join(dir, f)));
  }
  const ops: EnvOp[] = [];
  for (const f of names) {
    const full = path.join(dir, f);
    if (!fs.lstatSync(full).isFile()) continue;
    const dot = f.indexOf('.');
    const name = dot < 0 ? f : f.slice(0, dot);
    const suffix = dot < 0 ? '' : f.slice(dot + 1);
    if (suffix === 'delim' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) continue;
    const action = suffix === '' ? noSuffix : ACTIONS[suffix];
    if (!action) continue;
    ops.push({ name, action, value: read(full), delim: delims.get(name) ?? '' });
  }
  return ops;
}

export function applyEnvOp(env: Record<string, string>, op: EnvOp): void {
  const cur = env[op.name];
  switch (op.action) {
    case 'override':
      env[op.name] = op.value;
      break;
    case 'default':
      if (cur === undefined || cur === '') env[op.name] = op.value;
      break;
    case 'prepend':
      env[op.name] = cur ? op.value + op.delim + cur : op.value;
      break;
    case 'append':
      env[op.name] = cur ? cur + op.delim + op.value : op.value;
      break;
  }
}

export function applyEnvOps(env: Record<string, string>, ops: EnvOp[]): Record<string, string> {
  for (const op of ops) applyEnvOp(env, op);
  return env;
}

/** Path variables a layer's subdirectories feed: all four at build, only bin/lib at launch. */
const BUILD_PATHS: Array<[string, string[]]> = [
  ['bin', ['PATH']],
  ['lib', ['LD_LIBRARY_PATH', 'LIBRARY_PATH']],
  ['include', ['CPATH']],
  ['pkgconfig', ['PKG_CONFIG_PATH']],
];
const LAUNCH_PATHS: Array<[string, string[]]> = [
  ['bin', ['PATH']],
  ['lib', ['LD_LIBRARY_PATH']],
];

/**
 * The ops one layer contributes, in order: path dirs, env/, then env.build/ or env.launch/ (and
 * env.launch/<process>/ when a process is given). `hostDir` is where the layer is on this machine,
 * `imageDir` where the buildpack sees it (the same files, mounted at /layers/...).
 */
export function layerEnvOps(
  hostDir: string,
  imageDir: string,
  phase: 'build' | 'launch',
  processType?: string,
  root?: string,
): EnvOp[] {
  const ops: EnvOp[] = [];
  for (const [sub, vars] of phase === 'build' ? BUILD_PATHS : LAUNCH_PATHS) {
    if (isDir(path.join(hostDir, sub))) {
      for (const v of vars) ops.push({ name: v, action: 'prepend', value: `${imageDir}/${sub}`, delim: ':' });
    }
  }
  ops.push(...readEnvDir(path.join(hostDir, 'env'), 'override', root));
  if (phase === 'build') ops.push(...readEnvDir(path.join(hostDir, 'env.build'), 'override', root));
  else {
    ops.push(...readEnvDir(path.join(hostDir, 'env.launch'), 'override', root));
    if (processType) ops.push(...readEnvDir(path.join(hostDir, 'env.launch', processType), 'override', root));
  }
  return ops;
}

const POSIX_PATH_VARS = new Set(['PATH', 'LD_LIBRARY_PATH', 'LIBRARY_PATH', 'CPATH', 'PKG_CONFIG_PATH']);

/**
 * The platform env (config vars as files): path variables are prepended with ":", anything else
 * overrides. Returned as ops so the caller decides where they go (build env only; never a layer).
 */
export function platformEnvOps(vars: Record<string, string>): EnvOp[] {
  return Object.keys(vars)
    .sort()
    .map((name) =>
      POSIX_PATH_VARS.has(name)
        ? { name, action: 'prepend' as const, value: vars[name], delim: ':' }
        : { name, action: 'override' as const, value: vars[name], delim: '' },
    );
}

/** Single-quotes a value for bash: nothing inside is expanded. */
export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The same semantics as applyEnvOp, as bash, for the launcher (the run image has no Node). */
export function envOpToBash(op: EnvOp): string {
  const v = shQuote(op.value);
  const d = shQuote(op.delim);
  const n = op.name;
  switch (op.action) {
    case 'override':
      return `export ${n}=${v}`;
    case 'default':
      return `[ -n "\${${n}:-}" ] || export ${n}=${v}`;
    case 'prepend':
      return `if [ -n "\${${n}:-}" ]; then export ${n}=${v}${d}"\$${n}"; else export ${n}=${v}; fi`;
    case 'append':
      return `if [ -n "\${${n}:-}" ]; then export ${n}="\$${n}"${d}${v}; else export ${n}=${v}; fi`;
  }
}

function isDir(p: string): boolean {
  try {
    return fs.lstatSync(p).isDirectory();
  } catch {
    return false;
  }
}
