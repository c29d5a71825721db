import type Docker from 'dockerode';
import { SlipwayError } from '../../../common/errors';
import type { ImageStore } from '../../../buildpacks/oci/layout';
import { importEngineImage } from '../../images/engine-import';
import { runsAsRoot } from '../../state/repos/releases';
import type { RegistryCredential } from '../../state/repos/registry-credentials';
import { runSpecOf } from './dockerfile';
import type { Builder } from './types';

/**
 * Image deploys (`slipway deploy:image REF`): no build; the image is pulled by the engine (with
 * the app's credentials for its registry, linux/amd64 only), checked against the digest the
 * reference names, copied into the store and released like a Dockerfile build's image (its
 * ENTRYPOINT/CMD is web; USER and EXPOSE as for Dockerfile images).
 */
export interface ImageRef {
  /** As given: host[:port]/path[:tag][@sha256:…]. */
  ref: string;
  /** Registry host (docker.io when the reference names none). */
  host: string;
  digest?: string;
}

const REF_RE =
  /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?::\d{1,5})?(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;

export function parseImageRef(ref: unknown): ImageRef {
  if (typeof ref !== 'string' || ref.length > 500 || !REF_RE.test(ref)) {
    throw new SlipwayError('INVALID_INPUT', `${JSON.stringify(String(ref).slice(0, 100))} is not an image reference`, {
      hint: 'use HOST/NAME:TAG or HOST/NAME@sha256:DIGEST, for example registry.example.com/team/app:1.4',
    });
  }
  const first = ref.split('/')[0];
  const host =
    ref.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost') ? first : 'docker.io';
  const at = ref.indexOf('@');
  return { ref, host, ...(at > 0 ? { digest: ref.slice(at + 1) } : {}) };
}

export function createImageBuilder(
  deps: { docker: Docker; store: ImageStore },
  image: ImageRef,
  credential?: RegistryCredential,
): Builder {
  return {
    name: 'image',
    async build(_source, ctx) {
      const started = Date.now();
      ctx.output(`-----> Pulling ${image.ref}${credential ? ` (as ${credential.username})` : ''}`);
      await pull(deps.docker, image, credential, ctx.appName, ctx.signal, ctx.output);
      const info = await deps.docker.getImage(image.ref).inspect();
      if (info.Os !== 'linux' || info.Architecture !== 'amd64') {
        throw new SlipwayError(
          'BUILD_FAILED',
          `${image.ref} is for ${info.Os}/${info.Architecture}, and Slipway runs linux/amd64 images`,
          {
            hint: 'push a linux/amd64 build of the image (docker buildx build --platform linux/amd64)',
          },
        );
      }
      if (image.digest && !(info.RepoDigests ?? []).some((d) => d.endsWith(`@${image.digest}`))) {
        throw new SlipwayError('BUILD_FAILED', `the pulled image does not have the digest ${image.digest}`, {
          hint: 'check the digest: docker buildx imagetools inspect REF',
        });
      }
      ctx.progress({ step: 'pull', ms: Date.now() - started });
      const exportStart = Date.now();
      const { digest, config } = await importEngineImage({
        docker: deps.docker,
        store: deps.store,
        image: info.Id,
        scratchDir: ctx.workspaceDir,
        ref: ctx.imageRef,
      });
      ctx.progress({ step: 'export', ms: Date.now() - exportStart });
      const runSpec = { ...runSpecOf(config), imageProcess: 'web' };
      if (!runSpec.entrypoint.length && !runSpec.cmd.length) {
        throw new SlipwayError(
          'BUILD_FAILED',
          `${image.ref} has neither CMD nor ENTRYPOINT, so there is no web process to run`,
          { hint: 'deploy an image whose CMD starts the server' },
        );
      }
      ctx.output(
        `-----> ${image.ref} is ${(info.RepoDigests ?? [])[0] ?? info.Id}${runSpec.port ? `; web on port ${runSpec.port}, from EXPOSE` : ''}`,
      );
      if (runsAsRoot(runSpec))
        ctx.output(' !     The image runs as root. It still gets no capabilities and no-new-privileges.');
      return {
        imageRef: ctx.imageRef,
        imageDigest: digest,
        processTypes: { web: [...runSpec.entrypoint, ...runSpec.cmd].join(' ') },
        runSpec,
        metadata: { buildpacks: [], phaseTimings: {} },
      };
    },
  };
}

async function pull(
  docker: Docker,
  image: ImageRef,
  credential: RegistryCredential | undefined,
  app: string,
  signal: AbortSignal,
  output: (l: string) => void,
): Promise<void> {
  try {
    const stream = await docker.pull(image.ref, {
      platform: 'linux/amd64',
      abortSignal: signal,
      ...(credential
        ? { authconfig: { username: credential.username, password: credential.password, serveraddress: image.host } }
        : {}),
    });
    await new Promise<void>((resolve, reject) => {
      docker.modem.followProgress(
        stream,
        (err: Error | null, events: Array<{ error?: string }>) => {
          const failed = events?.find((e) => e.error);
          if (err || failed) reject(err ?? new Error(failed!.error));
          else resolve();
        },
        (e: { status?: string; id?: string; progress?: string }) => {
          if (e.status && !e.progress) output(`       ${e.id ? `${e.id}: ` : ''}${e.status}`);
        },
      );
    });
  } catch (err) {
    if (signal.aborted) throw signal.reason;
    const msg = (err as Error).message.replace(/^\(HTTP code \d+\) [a-z ]+- /, '');
    throw new SlipwayError('BUILD_FAILED', `could not pull ${image.ref}: ${msg}`, {
      hint: /unauthorized|authentication|denied|auth credentials/i.test(msg)
        ? `log in to the registry for this app: slipway registry:login ${image.host} -a ${app}`
        : /no matching manifest|platform/i.test(msg)
          ? 'the image has no linux/amd64 variant; push one (docker buildx build --platform linux/amd64)'
          : 'check the reference (and its digest), and that the registry is reachable from this server',
      cause: err,
    });
  }
}
