import type { ReleaseRow } from '../state/repos/releases';

/**
 * What a container of a release runs: the one place that knows the two kinds of release image.
 * A buildpack image has the CNB launcher (`/cnb/process/TYPE`, `/cnb/lifecycle/launcher CMD`)
 * and runs as the build user 1000. An image without a launcher (Dockerfile or image deploy)
 * carries a run spec: its own ENTRYPOINT/CMD for the image's process (web by default), any other
 * command (Procfile entries, one-offs, the release command) through the ENTRYPOINT as `sh -c`, as
 * Dokku does, as the image's USER, with PORT its first EXPOSEd port.
 */
export interface ProcessCommand {
  entrypoint: string[];
  cmd: string[];
  user: string;
  workdir?: string;
}

/** A long-running process type of the release. */
export function processCommand(release: ReleaseRow, type: string): ProcessCommand {
  const spec = release.runSpec;
  if (!spec) return { entrypoint: [`/cnb/process/${type}`], cmd: [], user: '1000:1000' };
  if (spec.imageProcess === type)
    return { entrypoint: spec.entrypoint, cmd: spec.cmd, user: spec.user, workdir: spec.workdir };
  return commandLine(release, release.processTypes[type] ?? '');
}

/** A shell command line (one-off, release command) in the release's image. */
export function commandLine(release: ReleaseRow, command: string): ProcessCommand {
  const spec = release.runSpec;
  if (!spec) return { entrypoint: ['/cnb/lifecycle/launcher'], cmd: [command], user: '1000:1000' };
  const shell = ['/bin/sh', '-c', command];
  return spec.entrypoint.length > 0
    ? { entrypoint: spec.entrypoint, cmd: shell, user: spec.user, workdir: spec.workdir }
    : { entrypoint: shell, cmd: [], user: spec.user, workdir: spec.workdir };
}

/** $PORT inside the release's containers (and the web port published): EXPOSE, else the platform's. */
export const portOf = (release: ReleaseRow, platformPort: number): number => release.runSpec?.port ?? platformPort;
