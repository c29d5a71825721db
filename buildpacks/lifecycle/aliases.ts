import { SlipwayError } from '../../common/errors';
import { BUILTIN_DIR, indexBuildpacks, type BuildpackIndex } from './buildpacks';

/**
 * Heroku's and Dokku's buildpack names, resolved to the built-in buildpacks that do the same job:
 * the shorthands (`heroku/nodejs`) and the GitHub URLs of Heroku's classic buildpack repositories
 * (`https://github.com/heroku/heroku-buildpack-nodejs`, as Dokku's own test apps name them). Apps
 * written for Heroku or Dokku then build here without cloning anything from the internet. A URL
 * with an explicit `#ref` is a request for that exact code, so it is fetched as before; so is
 * everything else. Turned off by the platform setting SLIPWAY_BUILDPACK_ALIASES=0 or the app's
 * BUILDPACK_ALIASES=0 config var.
 */
const SHORTHANDS: Record<string, string> = {
  'heroku/nodejs': 'slipway/nodejs',
  'heroku/python': 'slipway/python',
  'heroku/go': 'slipway/go',
  'heroku/ruby': 'slipway/ruby',
  'heroku/php': 'slipway/php',
  'heroku/java': 'slipway/java',
  'heroku/procfile': 'slipway/procfile',
};

/** heroku/heroku-buildpack-<name> repositories and the shorthand each is known by. */
const REPOS: Record<string, string> = {
  'heroku-buildpack-nodejs': 'heroku/nodejs',
  'heroku-buildpack-python': 'heroku/python',
  'heroku-buildpack-go': 'heroku/go',
  'heroku-buildpack-ruby': 'heroku/ruby',
  'heroku-buildpack-php': 'heroku/php',
  'heroku-buildpack-java': 'heroku/java',
  'heroku-buildpack-gradle': 'heroku/java',
  'heroku-buildpack-procfile': 'heroku/procfile',
};

const GITHUB_URL_RE = /^(?:https?|git):\/\/(?:www\.)?github\.com\/heroku\/([A-Za-z0-9._-]+?)(?:\.git)?\/?$/i;

/** The built-in buildpack id a reference stands for, or undefined when it is not an alias. */
export function aliasTarget(ref: string): string | undefined {
  const short = SHORTHANDS[ref.toLowerCase()];
  if (short) return short;
  if (ref.includes('#')) return undefined;
  const m = GITHUB_URL_RE.exec(ref.trim());
  const name = m ? REPOS[m[1].toLowerCase()] : undefined;
  return name ? SHORTHANDS[name] : undefined;
}

/** On unless the platform (SLIPWAY_BUILDPACK_ALIASES=0) or the app (BUILDPACK_ALIASES=0) said no. */
export function aliasesEnabled(platform: boolean | undefined, appEnv: Record<string, string>): boolean {
  const off = (v: string | undefined) => v !== undefined && /^(0|false|no|off)$/i.test(v.trim());
  return platform !== false && !off(appEnv.BUILDPACK_ALIASES);
}

/**
 * Replaces the aliases in a list of references with their built-in ids, saying so once per
 * reference; a target listed twice (`heroku/nodejs` and `slipway/nodejs`) is kept once. A target the
 * platform doesn't have is an error that names both ways out.
 */
export function resolveAliases(
  refs: string[],
  opts: { enabled: boolean; index: BuildpackIndex; output?: (line: string) => void },
): string[] {
  if (!opts.enabled) return refs;
  const out: string[] = [];
  for (const ref of refs) {
    const to = aliasTarget(ref);
    if (!to) {
      if (!out.includes(ref)) out.push(ref);
      continue;
    }
    if (!opts.index.find({ id: to })) {
      throw new SlipwayError(
        'BUILD_FAILED',
        `${ref} would be provided by ${to}, which this Slipway server does not have`,
        {
          hint: `choose another buildpack (slipway buildpacks:set), or set BUILDPACK_ALIASES=0 on the app to fetch ${ref} itself`,
          details: { phase: 'detect', buildpack: ref },
        },
      );
    }
    opts.output?.(`-----> ${ref} is provided by ${to}`);
    if (!out.includes(to)) out.push(to);
  }
  return out;
}

/**
 * For `slipway buildpacks:set`/`:add`: the built-in id an alias stands for (undefined when it is
 * not one, or aliases are off), refused up front when this server has no such buildpack.
 */
export function checkAlias(ref: string, enabled: boolean): string | undefined {
  const to = enabled ? aliasTarget(ref) : undefined;
  if (to && !indexBuildpacks([BUILTIN_DIR]).find({ id: to })) {
    throw new SlipwayError(
      'INVALID_INPUT',
      `${ref} would be provided by ${to}, which this Slipway server does not have`,
      {
        hint: `choose another buildpack, or set BUILDPACK_ALIASES=0 on the app (slipway config:set BUILDPACK_ALIASES=0) to fetch ${ref} itself`,
      },
    );
  }
  return to;
}
