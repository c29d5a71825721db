import * as fs from 'node:fs';
import * as path from 'node:path';
import type YAML from 'yaml';
import { SlipwayError } from '../../common/errors';
import { CONFIG_KEY_RE } from '../../common/names';
import { shQuote } from './env-files';
import { writeFileIn } from './safe-fs';
import type { BuildContainer } from './container';
import type { Buildpack, ProcessDef } from './types';
import { BUILD_UID, bpHostDir, bpImageDir, STEP, type Workspace } from './workspace';

/**
 * The legacy shim: a Heroku buildpack (bin/compile BUILD_DIR CACHE_DIR ENV_DIR, optional
 * bin/release) or a Cloud Foundry one (bin/supply / bin/finalize) runs as a member of a group.
 * BUILD_DIR is /app (built in place), CACHE_DIR the per-app /cache, ENV_DIR /platform/env (config
 * vars as files, never exported into compile's env). Its `export` file is sourced before every
 * later step; release YAML becomes processes and launch-time defaults.
 */
export const CACHE_DIR = '/cache';
export const ENV_DIR = '/platform/env';
export const DEPS_DIR = '/app/.cloudfoundry/deps';

export interface LegacyResult {
  processes: ProcessDef[];
  configVars: Record<string, string>;
  exportFile?: string;
  /** CF deps dir of this buildpack (bin/ and lib/ feed later buildpacks), when supply ran. */
  depsDir?: string;
}

export async function runLegacy(opts: {
  container: BuildContainer;
  ws: Workspace;
  bp: Buildpack;
  index: number;
  total: number;
  env: Record<string, string>;
  onLine: (line: string) => void;
}): Promise<LegacyResult> {
  const { container, bp, ws } = opts;
  const dir = bpImageDir(bp);
  const host = bpHostDir(ws, bp);
  const has = (n: string) => fs.existsSync(path.join(host, 'bin', n));
  const idx = String(opts.index).padStart(String(opts.total).length, '0');
  const env = { ...opts.env, BUILD_DIR: '/app', CACHE_DIR, ENV_DIR, HOME: '/app', APP_DIR: '/app', DEPS_DIR };
  const step = async (script: string, args: string[]) => {
    const r = await container.exec({
      cmd: [STEP, `${dir}/bin/${script}`, ...args],
      env,
      onLine: opts.onLine,
      keepRunning: true,
    });
    if (r.code !== 0) {
      throw new SlipwayError('BUILD_FAILED', `buildpack ${bp.id} failed: bin/${script} exited with ${r.code}`, {
        hint: 'see the buildpack output above; the build workspace is kept for inspection',
        details: { phase: 'build', buildpack: bp.id, exitCode: r.code, script },
      });
    }
  };
  let depsDir: string | undefined;
  if (has('supply') && !has('compile')) {
    await container.exec({ cmd: ['mkdir', '-p', `${DEPS_DIR}/${idx}`], env, keepRunning: true });
    await step('supply', ['/app', CACHE_DIR, DEPS_DIR, idx]);
    depsDir = `${DEPS_DIR}/${idx}`;
    if (has('finalize')) await step('finalize', ['/app', CACHE_DIR, DEPS_DIR, idx, '/app/.profile.d']);
  } else if (has('compile')) {
    await step('compile', ['/app', CACHE_DIR, ENV_DIR]);
  } else if (has('finalize')) {
    await step('finalize', ['/app', CACHE_DIR, DEPS_DIR, idx, '/app/.profile.d']);
  }
  let processes: ProcessDef[] = [];
  let configVars: Record<string, string> = {};
  if (has('release')) {
    const r = await container.exec({
      cmd: [STEP, `${dir}/bin/release`, '/app'],
      env,
      captureStdout: true,
      onLine: opts.onLine,
      keepRunning: true,
    });
    if (r.code !== 0) {
      throw new SlipwayError('BUILD_FAILED', `buildpack ${bp.id} failed: bin/release exited with ${r.code}`, {
        details: { phase: 'build', buildpack: bp.id, exitCode: r.code, script: 'release' },
      });
    }
    ({ processes, configVars } = parseRelease(r.stdout, bp.id));
  }
  await container.freeze();
  const exportFile = fs.existsSync(path.join(host, 'export')) ? `${dir}/export` : undefined;
  return { processes, configVars, exportFile, depsDir };
}

/** bin/release YAML: default_process_types (type -> shell command) and config_vars. */
export function parseRelease(
  text: string,
  bpId: string,
): { processes: ProcessDef[]; configVars: Record<string, string> } {
  let doc: unknown;
  try {
    // yaml is loaded here, not at start: the server imports this file for parseProcfile.
    doc = text.trim() ? (require('yaml') as typeof YAML).parse(text) : {};
  } catch (err) {
    throw releaseError(bpId, `is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) doc = {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw releaseError(bpId, 'must be a YAML mapping');
  const d = doc as Record<string, unknown>;
  const map = (v: unknown, field: string): Record<string, string> => {
    if (v === undefined || v === null) return {};
    if (typeof v !== 'object' || Array.isArray(v)) throw releaseError(bpId, `${field} must be a mapping`);
    const out: Record<string, string> = {};
    for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
      if (typeof val !== 'string' && typeof val !== 'number' && typeof val !== 'boolean')
        throw releaseError(bpId, `${field}.${k} must be a string`);
      out[k] = String(val);
    }
    return out;
  };
  const types = map(d.default_process_types, 'default_process_types');
  const configVars = map(d.config_vars, 'config_vars');
  for (const k of Object.keys(configVars))
    if (!CONFIG_KEY_RE.test(k))
      throw releaseError(bpId, `config_vars key ${JSON.stringify(k)} is not a valid variable name`);
  for (const t of Object.keys(types))
    if (!/^[A-Za-z0-9._-]+$/.test(t)) throw releaseError(bpId, `process type ${JSON.stringify(t)} is not valid`);
  const processes = Object.entries(types).map(([type, cmd]) => ({
    type,
    command: [cmd],
    args: [],
    direct: false,
    default: false,
    buildpackId: bpId,
  }));
  return { processes, configVars };
}

function releaseError(bpId: string, msg: string): SlipwayError {
  return new SlipwayError('BUILD_FAILED', `the bin/release output of buildpack ${bpId} ${msg}`, {
    hint: 'bin/release must print YAML such as: default_process_types: { web: "node server.js" }',
    details: { phase: 'build', buildpack: bpId },
  });
}

/** release config_vars become launch-time defaults: they never override a config var. */
export function writeConfigVarDefaults(root: string, appDir: string, vars: Record<string, string>): void {
  const keys = Object.keys(vars);
  if (keys.length === 0) return;
  const dir = path.join(appDir, '.profile.d');
  const body = keys.map((k) => `[ -n "\${${k}:-}" ] || export ${k}=${shQuote(vars[k])}`).join('\n') + '\n';
  writeFileIn(root, path.join(dir, '00_config_vars.sh'), body, { append: true });
  // Later buildpacks (uid 1000) may add to .profile.d too.
  if (process.getuid?.() === 0)
    for (const p of [dir, path.join(dir, '00_config_vars.sh')]) fs.lchownSync(p, BUILD_UID, BUILD_UID);
}

/** Procfile: `type: command` lines; `#` comments. */
export function parseProcfile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const m = /^([A-Za-z0-9_-]+):\s*(.+?)\s*$/.exec(line);
    if (m && !line.startsWith('#')) out[m[1]] = m[2];
  }
  return out;
}
