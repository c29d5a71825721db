import { SlipwayError } from '../../common/errors';
import { BUILTIN_DIR, indexBuildpacks } from '../../buildpacks/lifecycle/buildpacks';
import { aliasTarget } from '../../buildpacks/lifecycle/aliases';
import { isUrl } from '../../buildpacks/lifecycle/fetch';
import { isBuildpackId, isBuildpackVersion } from '../../buildpacks/lifecycle/types';

/**
 * buildpacks:set/add checks what it can at once instead of failing at the next push (issue 14):
 * an id must name a buildpack this platform has (builtin, optionally @version), a URL must parse
 * and use http(s) (the only schemes the fetcher allows), with a valid #ref. Whether the URL
 * answers is known only when the build fetches it.
 */
export function validateBuildpackRef(ref: string): string {
  // Heroku's names (heroku/ruby, its GitHub URLs) stand for builtin buildpacks: aliases.ts checks them.
  if (aliasTarget(ref)) return ref;
  if (isUrl(ref)) {
    const [url, gitRef] = ref.split('#', 2);
    let parsed: URL | undefined;
    try {
      parsed = new URL(url);
    } catch {
      parsed = undefined;
    }
    if (!parsed || !/^https?:$/.test(parsed.protocol) || !parsed.hostname) {
      throw new SlipwayError(
        'INVALID_INPUT',
        `${JSON.stringify(ref.slice(0, 120))} is not a buildpack URL Slipway can fetch`,
        {
          hint: 'use an https:// URL: a git repository (optionally #branch, tag or commit) or a .tgz archive',
        },
      );
    }
    if (gitRef !== undefined && !/^[A-Za-z0-9._/-]{1,200}$/.test(gitRef)) {
      throw new SlipwayError('INVALID_INPUT', `${JSON.stringify(gitRef.slice(0, 40))} is not a branch, tag or commit`, {
        hint: 'write the URL as https://host/repo.git#v1.2.3',
      });
    }
    return ref;
  }
  const at = ref.lastIndexOf('@');
  const id = at > 0 ? ref.slice(0, at) : ref;
  const version = at > 0 ? ref.slice(at + 1) : undefined;
  if (!isBuildpackId(id) || (version !== undefined && !isBuildpackVersion(version))) {
    throw new SlipwayError('INVALID_INPUT', `${JSON.stringify(ref.slice(0, 80))} is not a buildpack id or URL`, {
      hint: 'use a buildpack id such as slipway/nodejs (see slipway buildpacks) or an https:// URL',
    });
  }
  const all = indexBuildpacks([BUILTIN_DIR]).all;
  if (!all.some((b) => b.id === id && (!version || b.version === version))) {
    const same = all.filter((b) => b.id === id).map((b) => `${b.id}@${b.version}`);
    throw new SlipwayError('NOT_FOUND', `this platform has no buildpack ${ref.slice(0, 80)}`, {
      hint: same.length
        ? `versions available: ${same.join(', ')}`
        : `builtin buildpacks: ${all.map((b) => b.id).join(', ')}; or give an https:// URL`,
    });
  }
  return ref;
}
