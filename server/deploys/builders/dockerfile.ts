import * as fs from 'node:fs';
import * as path from 'node:path';
import type Docker from 'dockerode';
import { SlipwayError } from '../../../common/errors';
import type { ImageStore } from '../../../buildpacks/oci/layout';
import { parseProcfile } from '../../../buildpacks/lifecycle/legacy';
import { ensureBuildNetwork } from '../../../buildpacks/lifecycle/container';
import { importEngineImage } from '../../images/engine-import';
import { runsAsRoot, type ImageRunSpec } from '../../state/repos/releases';
import { listKept, tarOf } from './context-tar';
import {
  buildpackMarkers,
  declaredArgs,
  dockerfilePathOf,
  firstConfigPort,
  firstExposedPort,
  wantsDockerfile,
} from './dockerfile-source';
import { dockerignore } from '../../../common/ignore-rules';
import type { Builder, BuildContext, BuiltImage } from './types';

export interface DockerfileBuilderDeps {
  docker: Docker;
  store: ImageStore;
  /** The isolated network builds run on (docs/security.md); default: the buildpack builds' slipway-build bridge. */
  buildNetwork?: string;
}

/**
 * Dockerfile builds (docs/dockerfile.md): the Docker engine builds the pushed tree (minus
 * .dockerignore) with the app's declared build args, within the build limits, never privileged
 * and with no host mounts (the Engine API's /build has neither); its output streams into the push
 * as it comes. The engine keeps the layer cache between pushes (the previous image of the app is
 * still there, labelled io.slipway.app). The result is copied into the store, and its ENTRYPOINT,
 * CMD, USER and EXPOSE become the release's run spec (runtime/process-command.ts).
 */
export function createDockerfileBuilder(deps: DockerfileBuilderDeps): Builder {
  return {
    name: 'dockerfile',
    detect: (source, app) => wantsDockerfile(source.dir, app.settings, app.buildpacks),
    async build(source, ctx) {
      const started = Date.now();
      const rel = dockerfilePathOf(source.dir, ctx.settings);
      const file = path.join(source.dir, rel);
      if (!fs.existsSync(file)) {
        throw new SlipwayError('BUILD_FAILED', `no ${rel} in the pushed source, but the app builds with a Dockerfile`, {
          hint: `add ${rel}, or build with buildpacks: slipway builder:set buildpacks -a ${ctx.appName}`,
        });
      }
      const text = fs.readFileSync(file, 'utf8');
      const markers = ctx.settings.builder === 'dockerfile' ? [] : buildpackMarkers(source.dir);
      if (markers.length > 0) {
        ctx.output(`-----> Found ${rel} and ${markers.join(', ')}: the Dockerfile wins.`);
        ctx.output(`       To build with buildpacks instead: slipway builder:set buildpacks -a ${ctx.appName}`);
      }
      const buildArgs = pickBuildArgs(text, ctx);
      const imageId = await engineBuild(deps, source.dir, rel, buildArgs, ctx);
      const buildMs = Date.now() - started;
      ctx.progress({ step: 'build', ms: buildMs });

      const exportStart = Date.now();
      const { digest, config } = await importEngineImage({
        docker: deps.docker,
        store: deps.store,
        image: imageId,
        scratchDir: ctx.workspaceDir,
        ref: ctx.imageRef,
      });
      const exportMs = Date.now() - exportStart;
      ctx.progress({ step: 'export', ms: exportMs });
      const runSpec = runSpecOf(config, firstExposedPort(text));
      const procfile = readProcfile(source.dir);
      const { release, ...processes } = procfile ?? {};
      if (!procfile || !Object.keys(processes).length) {
        if (!runSpec.entrypoint.length && !runSpec.cmd.length) {
          throw new SlipwayError(
            'BUILD_FAILED',
            'the image has neither CMD nor ENTRYPOINT, and there is no Procfile, so there is no web process',
            {
              hint: 'add CMD ["your", "server"] to the Dockerfile, or a Procfile with a web: line',
            },
          );
        }
        runSpec.imageProcess = 'web';
      }
      const processTypes =
        procfile && Object.keys(processes).length
          ? processes
          : { web: [...runSpec.entrypoint, ...runSpec.cmd].join(' ') };
      ctx.output(
        `-----> Process types: ${Object.keys(processTypes).join(', ')}${runSpec.port ? ` (web on port ${runSpec.port}, from EXPOSE)` : ''}`,
      );
      if (runsAsRoot(runSpec)) {
        ctx.output(
          ' !     The image runs as root (no USER in the Dockerfile). It still gets no capabilities and no-new-privileges;',
        );
        ctx.output(' !     add a USER line to run it as an unprivileged user.');
      }
      return {
        imageRef: ctx.imageRef,
        imageDigest: digest,
        processTypes,
        releaseCommand: release,
        runSpec,
        metadata: { buildpacks: [], phaseTimings: { build: buildMs, export: exportMs } },
      } satisfies BuiltImage;
    },
  };
}

/** Build args: the app's marked config vars that the Dockerfile declares; nothing else reaches the build. */
function pickBuildArgs(dockerfile: string, ctx: BuildContext): Record<string, string> {
  const declared = declaredArgs(dockerfile);
  const out: Record<string, string> = {};
  for (const key of ctx.settings.buildArgs ?? []) {
    if (declared.has(key) && Object.hasOwn(ctx.env, key)) out[key] = ctx.env[key];
  }
  const skipped = (ctx.settings.buildArgs ?? []).filter((k) => !declared.has(k));
  if (Object.keys(out).length) ctx.output(`-----> Build args: ${Object.keys(out).join(', ')}`);
  if (skipped.length) ctx.output(`       Not passed (no ARG in the Dockerfile): ${skipped.join(', ')}`);
  return out;
}

async function engineBuild(
  deps: DockerfileBuilderDeps,
  dir: string,
  dockerfile: string,
  buildargs: Record<string, string>,
  ctx: BuildContext,
): Promise<string> {
  const ignoreFile = path.join(dir, '.dockerignore');
  const ignored = dockerignore(fs.existsSync(ignoreFile) ? fs.readFileSync(ignoreFile, 'utf8') : '');
  const files = listKept(dir, ignored, [dockerfile, '.dockerignore']);
  const memory = ctx.limits.memoryMb ? ctx.limits.memoryMb * 1024 * 1024 : undefined;
  // Stable values only: a label that changed every build (the build id) would end every build with
  // uncached steps.
  const labels = {
    'io.slipway.managed': 'true',
    'io.slipway.home': ctx.labels['io.slipway.home'],
    'io.slipway.app': ctx.appName,
  };
  let stream: NodeJS.ReadableStream;
  try {
    // RUN steps join the same isolated bridge as buildpack builds: the internet, not dynos or the host.
    const network = await ensureBuildNetwork(deps.docker, deps.buildNetwork);
    // The context stream starts here, right where the engine reads it (made earlier and left
    // waiting across the await above, the engine received an empty context).
    const context = tarOf(dir, files);
    stream = await deps.docker.buildImage(
      context as unknown as NodeJS.ReadableStream,
      {
        // One tag per app: the previous build stays the cache's starting point.
        t: `slipway-build/${ctx.appName}:latest`,
        dockerfile,
        buildargs,
        labels,
        rm: true,
        forcerm: true,
        pull: false,
        ...(memory ? { memory, memswap: memory } : {}),
        ...(ctx.limits.cpus ? { cpuperiod: 100_000, cpuquota: Math.round(ctx.limits.cpus * 100_000) } : {}),
        networkmode: network,
        abortSignal: ctx.signal,
      } as Docker.ImageBuildOptions,
    );
  } catch (err) {
    if (ctx.signal.aborted) throw ctx.signal.reason;
    throw new SlipwayError('BUILD_FAILED', `the Docker engine refused the build: ${(err as Error).message}`, {
      hint: 'check that dockerd is running (docker info)',
      cause: err,
    });
  }
  return new Promise<string>((resolve, reject) => {
    let imageId: string | undefined;
    let failure: string | undefined;
    let partial = '';
    const onAbort = () => {
      (stream as unknown as { destroy?: (e?: Error) => void }).destroy?.();
      reject(ctx.signal.reason);
    };
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    deps.docker.modem.followProgress(
      stream,
      (err: Error | null) => {
        ctx.signal.removeEventListener('abort', onAbort);
        if (partial) ctx.output(`       ${partial}`);
        if (ctx.signal.aborted) return reject(ctx.signal.reason);
        if (err || failure || !imageId) {
          return reject(
            new SlipwayError(
              'BUILD_FAILED',
              `the Dockerfile build failed: ${(failure ?? err?.message ?? 'the engine reported no image').trim()}`,
              {
                hint: 'fix the failing Dockerfile step shown above and push again',
              },
            ),
          );
        }
        resolve(imageId);
      },
      (e: { stream?: string; error?: string; aux?: { ID?: string } }) => {
        if (e.aux?.ID) imageId = e.aux.ID;
        if (e.error) failure = e.error;
        if (typeof e.stream === 'string') {
          const lines = (partial + e.stream).split('\n');
          partial = lines.pop() ?? '';
          for (const l of lines) if (l.trim()) ctx.output(`       ${l.replace(/\r/g, '')}`);
        }
      },
    );
  });
}

/** The run spec from the image config: ENTRYPOINT, CMD, USER, WORKDIR; the port from the Dockerfile's EXPOSE, else the image's. */
export function runSpecOf(
  config: {
    config?: {
      Entrypoint?: string[] | null;
      Cmd?: string[] | null;
      User?: string;
      WorkingDir?: string;
      ExposedPorts?: Record<string, object>;
    };
  },
  dockerfilePort?: number,
): ImageRunSpec {
  const c = config.config ?? {};
  const port = dockerfilePort ?? firstConfigPort(c.ExposedPorts);
  return {
    entrypoint: c.Entrypoint ?? [],
    cmd: c.Cmd ?? [],
    user: c.User ?? '',
    ...(c.WorkingDir ? { workdir: c.WorkingDir } : {}),
    ...(port ? { port } : {}),
  };
}

function readProcfile(dir: string): Record<string, string> | undefined {
  const file = path.join(dir, 'Procfile');
  try {
    if (!fs.lstatSync(file).isFile()) return undefined;
  } catch {
    return undefined;
  }
  return parseProcfile(fs.readFileSync(file, 'utf8'));
}
