import * as fs from 'node:fs';
import * as path from 'node:path';
import TOML from '@iarna/toml';
import { SlipwayError } from '../../common/errors';
import { METADATA_MAX_BYTES, readFileIn, readUntrusted, writeFileIn } from './safe-fs';

/**
 * TOML in and out for the CNB file formats. A malformed file written by a buildpack must end in a
 * clear error naming the file (and the buildpack, via `what`), never in a crash.
 */
export function parseToml(text: string, file: string, what = 'file'): Record<string, unknown> {
  try {
    return TOML.parse(text) as Record<string, unknown>;
  } catch (err) {
    const msg = (err as Error).message.split('\n')[0];
    throw new SlipwayError('BUILD_FAILED', `${what} ${file} is not valid TOML: ${msg}`, {
      hint: 'fix the TOML syntax (https://toml.io); the build workspace is kept for inspection',
      details: { file },
    });
  }
}

/** Platform-owned TOML only (buildpacks/builtin, the workspace's own files). Untrusted: readTomlIn. */
export function readToml(file: string, what = 'file'): Record<string, unknown> {
  return parseToml(fs.readFileSync(file, 'utf8'), file, what);
}

export function readTomlIfExists(file: string, what = 'file'): Record<string, unknown> | undefined {
  return fs.existsSync(file) ? readToml(file, what) : undefined;
}

/**
 * TOML from an untrusted tree (pushed source, a fetched or in-repo buildpack) through the safe
 * reader; `label` names it in errors (a path in the tree, never the host path or the content).
 */
export function readTomlIn(root: string, rel: string, label = rel): Record<string, unknown> | undefined {
  const text = readUntrusted(root, rel, { label });
  return text === undefined ? undefined : parseToml(text, label, 'file');
}

/** readToml for files a buildpack could have written: never follows a link out of `root`. */
export function readTomlIfExistsIn(root: string, file: string, what = 'file'): Record<string, unknown> | undefined {
  try {
    fs.lstatSync(file);
  } catch {
    return undefined;
  }
  return parseToml(readFileIn(root, file, METADATA_MAX_BYTES), file, what);
}

export function writeTomlIn(root: string, file: string, value: Record<string, unknown>): void {
  writeFileIn(root, file, stringifyToml(value));
}

/** Drops undefined/null members (TOML has no null) so stringify never throws on optional fields. */
function clean(value: unknown): unknown {
  if (Array.isArray(value)) return value.filter((v) => v !== undefined && v !== null).map(clean);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined && v !== null) out[k] = clean(v);
    return out;
  }
  return value;
}

export function stringifyToml(value: Record<string, unknown>): string {
  return TOML.stringify(clean(value) as TOML.JsonMap);
}

export function writeToml(file: string, value: Record<string, unknown>): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, stringifyToml(value));
}

/** Field helpers: a wrong type in a buildpack's file is an error naming the file and the field. */
export function str(v: unknown, file: string, field: string, fallback?: string): string {
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== 'string') {
    throw new SlipwayError('BUILD_FAILED', `${file}: "${field}" must be a string`, {
      hint: `set ${field} = "..." in ${path.basename(file)}`,
      details: { file, field },
    });
  }
  return v;
}

export function bool(v: unknown, file: string, field: string): boolean {
  if (v === undefined) return false;
  if (typeof v !== 'boolean') {
    throw new SlipwayError('BUILD_FAILED', `${file}: "${field}" must be true or false`, { details: { file, field } });
  }
  return v;
}

export function tableArray(v: unknown, file: string, field: string): Record<string, unknown>[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.some((e) => !e || typeof e !== 'object' || Array.isArray(e))) {
    throw new SlipwayError('BUILD_FAILED', `${file}: "${field}" must be an array of tables ([[${field}]])`, {
      details: { file, field },
    });
  }
  return v as Record<string, unknown>[];
}

export function table(v: unknown, file: string, field: string): Record<string, unknown> | undefined {
  if (v === undefined) return undefined;
  if (!v || typeof v !== 'object' || Array.isArray(v)) {
    throw new SlipwayError('BUILD_FAILED', `${file}: "${field}" must be a table ([${field}])`, {
      details: { file, field },
    });
  }
  return v as Record<string, unknown>;
}
