import type Docker from 'dockerode';
import type { ImageStore } from '../oci/layout';
import type { BuildContainer } from './container';
import type { Workspace } from './workspace';
import { targetFor } from './buildpacks';

/** What every phase gets: the workspace, the container (for buildpack steps) and the output. */
export interface PhaseContext {
  appName: string;
  stack: string;
  ws: Workspace;
  store: ImageStore;
  docker: Docker;
  /** Config vars (platform env). Never written into a layer or the image config. */
  env: Record<string, string>;
  sourceVersion?: string;
  output: (line: string) => void;
  container: () => Promise<BuildContainer>;
}

/** The env every buildpack step starts from (the build image's own env plus CNB target vars). */
export function baseEnv(ctx: Pick<PhaseContext, 'stack' | 'sourceVersion'>): Record<string, string> {
  return {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: '/home/slipway',
    LANG: 'C.UTF-8',
    STACK: ctx.stack,
    CNB_STACK_ID: `io.buildpacks.stacks.${ctx.stack}`,
    CNB_TARGET_OS: 'linux',
    CNB_TARGET_ARCH: 'amd64',
    CNB_TARGET_DISTRO_NAME: 'debian',
    CNB_TARGET_DISTRO_VERSION: targetFor(ctx.stack).distro.version,
    CNB_EXEC_ENV: 'production',
    CNB_PLATFORM_DIR: '/platform',
    ...(ctx.sourceVersion ? { SOURCE_VERSION: ctx.sourceVersion } : {}),
  };
}

/**
 * Buildpack output, Heroku style: `-----> ` steps and lines the buildpack already indented pass
 * through as they are (Heroku buildpacks indent themselves); other lines get 7 spaces.
 */
export function indent(output: (l: string) => void): (line: string) => void {
  return (line) => output(/^(-----> |--|==|\s)/.test(line) || line === '' ? line : `       ${line}`);
}
