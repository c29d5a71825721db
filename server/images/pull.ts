import type Docker from 'dockerode';
import { SlipwayError } from '../../common/errors';
import type { ImageStore } from '../../buildpacks/oci/layout';
import { registryAuthConfig } from './registry-auth';

/**
 * Makes an image from the store available to dockerd by pulling it from the server's own
 * registry (127.0.0.1:PORT, plain HTTP: loopback registries are insecure by default), so only
 * missing layers move. The pull carries the registry token (registry-auth.ts): dockerd answers the
 * registry's 401 challenge with it. Returns the Docker image name to run: REGISTRY/REPO@sha256:...
 */
export async function ensureImageInDocker(opts: {
  docker: Docker;
  registryHost: string;
  registryToken: string;
  store: ImageStore;
  ref: string;
}): Promise<string> {
  const { docker, store, ref } = opts;
  let repo: string;
  let digest: string;
  const at = ref.indexOf('@');
  if (at > 0) {
    repo = ref.slice(0, at);
    digest = ref.slice(at + 1);
    if (!store.hasBlob(digest)) throw notFound(ref);
  } else {
    const colon = ref.lastIndexOf(':');
    if (colon <= 0)
      throw new SlipwayError('INVALID_INPUT', `${JSON.stringify(ref)} is not an image reference`, {
        hint: 'use repo:tag or repo@sha256:...',
      });
    repo = ref.slice(0, colon);
    const d = await store.resolve(ref);
    if (!d) throw notFound(ref);
    digest = d.digest;
  }
  const name = `${opts.registryHost}/${repo}@${digest}`;
  try {
    await docker.getImage(name).inspect();
    return name;
  } catch {
    /* not there yet: pull */
  }
  try {
    const stream = await docker.pull(name, { authconfig: registryAuthConfig(opts.registryHost, opts.registryToken) });
    await new Promise<void>((resolve, reject) => {
      docker.modem.followProgress(stream, (err: Error | null, events: Array<{ error?: string }>) => {
        const failed = events?.find((e) => e.error);
        if (err || failed) reject(err ?? new Error(failed!.error));
        else resolve();
      });
    });
  } catch (err) {
    throw new SlipwayError('DEPLOY_FAILED', `Docker could not pull ${name}: ${(err as Error).message}`, {
      hint: `check that the server's registry is reachable from dockerd at http://${opts.registryHost}/v2/`,
      cause: err,
    });
  }
  return name;
}

function notFound(ref: string): SlipwayError {
  return new SlipwayError('NOT_FOUND', `image ${ref} is not in the image store`, {
    hint: 'build the app again (slipway builds:create) or roll back to a release whose image exists',
  });
}
