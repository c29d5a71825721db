import * as fs from 'node:fs';
import * as path from 'node:path';
import { SlipwayError } from '../../../common/errors';
import type { BuildSettings } from '../../state/repos/apps';

/**
 * What the Dockerfile builder reads from the pushed tree before the engine sees it: which
 * builder applies, the Dockerfile's declared ARGs and EXPOSEd ports, and the root Procfile.
 */

/** Files that make the source a buildpack app: their presence next to a Dockerfile is reported. */
const BUILDPACK_MARKERS = [
  'package.json',
  'requirements.txt',
  'Pipfile',
  'pyproject.toml',
  'Gemfile',
  'go.mod',
  'composer.json',
  'pom.xml',
  'build.gradle',
  'index.html',
];

/** The Dockerfile to build, relative to the source root: setting, app.json build.dockerfile, or Dockerfile. */
export function dockerfilePathOf(sourceDir: string, settings: BuildSettings): string {
  let rel = settings.dockerfilePath;
  if (!rel) {
    try {
      const appJson = JSON.parse(fs.readFileSync(path.join(sourceDir, 'app.json'), 'utf8')) as {
        build?: { dockerfile?: unknown };
      };
      if (typeof appJson.build?.dockerfile === 'string') rel = appJson.build.dockerfile;
    } catch {
      /* no app.json, or not JSON: the default */
    }
  }
  rel = path.posix.normalize(rel || 'Dockerfile');
  if (rel.startsWith('../') || rel === '..' || path.isAbsolute(rel)) {
    throw new SlipwayError('INVALID_INPUT', `the Dockerfile path ${JSON.stringify(rel)} is outside the source`, {
      hint: 'use a path relative to the repository root, like docker/Dockerfile',
    });
  }
  return rel;
}

/** A regular file at rel inside dir, not reached through a symlink out of it. */
function regularFile(dir: string, rel: string): boolean {
  try {
    const full = path.join(dir, rel);
    return fs.lstatSync(full).isFile() && fs.realpathSync(full).startsWith(fs.realpathSync(dir) + path.sep);
  } catch {
    return false;
  }
}

/**
 * The Dockerfile builder applies when forced (builder:set dockerfile), or when nothing asks for
 * buildpacks (builder:set buildpacks, an explicit buildpack list, .buildpacks, project.toml) and
 * the Dockerfile exists.
 */
export function wantsDockerfile(sourceDir: string, settings: BuildSettings, buildpacks: string[]): boolean {
  if (settings.builder === 'dockerfile') return true;
  if (settings.builder === 'buildpacks' || buildpacks.length > 0) return false;
  if (fs.existsSync(path.join(sourceDir, '.buildpacks')) || fs.existsSync(path.join(sourceDir, 'project.toml')))
    return false;
  try {
    return regularFile(sourceDir, dockerfilePathOf(sourceDir, settings));
  } catch {
    return false;
  }
}

/** Buildpack-app marker files also present (for the "Dockerfile won" note). */
export const buildpackMarkers = (sourceDir: string) =>
  BUILDPACK_MARKERS.filter((f) => fs.existsSync(path.join(sourceDir, f)));

/** Instructions of a Dockerfile, continuation lines joined, comments dropped. */
function instructions(text: string): Array<{ op: string; args: string }> {
  const out: Array<{ op: string; args: string }> = [];
  let cur = '';
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!cur && (line.startsWith('#') || !line)) continue;
    if (line.endsWith('\\')) {
      cur += line.slice(0, -1) + ' ';
      continue;
    }
    cur += line;
    const m = /^(\w+)\s*(.*)$/s.exec(cur);
    if (m) out.push({ op: m[1].toUpperCase(), args: m[2].trim() });
    cur = '';
  }
  return out;
}

/** The names the Dockerfile declares with ARG (before or after FROM). */
export function declaredArgs(dockerfile: string): Set<string> {
  const names = new Set<string>();
  for (const { op, args } of instructions(dockerfile)) {
    if (op !== 'ARG') continue;
    for (const word of args.split(/\s+/)) {
      const m = /^([A-Za-z_][A-Za-z0-9_]*)(=|$)/.exec(word);
      if (m) names.add(m[1]);
    }
  }
  return names;
}

/** The first TCP port the Dockerfile itself EXPOSEs (order kept, unlike the image config's map). */
export function firstExposedPort(dockerfile: string): number | undefined {
  for (const { op, args } of instructions(dockerfile)) {
    if (op !== 'EXPOSE') continue;
    for (const word of args.split(/\s+/)) {
      const m = /^(\d{1,5})(?:\/(tcp|udp))?$/i.exec(word);
      if (m && (m[2] ?? 'tcp').toLowerCase() === 'tcp') return Number(m[1]);
    }
  }
  return undefined;
}

/** The first TCP port in an image config's ExposedPorts, if any. */
export function firstConfigPort(exposed: Record<string, object> | undefined): number | undefined {
  for (const key of Object.keys(exposed ?? {})) {
    const m = /^(\d{1,5})(?:\/(tcp|udp))?$/i.exec(key);
    if (m && (m[2] ?? 'tcp').toLowerCase() === 'tcp') return Number(m[1]);
  }
  return undefined;
}
