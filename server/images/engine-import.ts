import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type Docker from 'dockerode';
import { SlipwayError } from '../../common/errors';
import { importDockerArchive } from '../../buildpacks/oci/docker-archive';
import type { ImageStore } from '../../buildpacks/oci/layout';
import type { ImageConfig } from '../../buildpacks/oci/media-types';

/**
 * An image the engine holds (a Dockerfile build, a pulled image) copied into the store under a
 * tag, so releases, rollback, GC and the registry treat it like a buildpack image: `docker save`
 * unpacked into a scratch directory, then imported layer by layer (buildpacks/oci/docker-archive.ts).
 */
export async function importEngineImage(opts: {
  docker: Docker;
  store: ImageStore;
  image: string;
  scratchDir: string;
  ref: string;
}): Promise<{ digest: string; config: ImageConfig }> {
  const dir = path.join(opts.scratchDir, `image-${Date.now()}`);
  fs.mkdirSync(dir, { recursive: true });
  try {
    const archive = await opts.docker.getImage(opts.image).get();
    await untar(archive, dir);
    const { manifest, config } = await importDockerArchive(opts.store, dir);
    await opts.store.tag(opts.ref, manifest);
    return { digest: manifest.digest, config };
  } catch (err) {
    if (err instanceof SlipwayError) throw err;
    throw new SlipwayError('BUILD_FAILED', `copying the image into the store failed: ${(err as Error).message}`, {
      hint: 'check free disk space in SLIPWAY_HOME and that dockerd is running',
      cause: err,
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function untar(stream: NodeJS.ReadableStream, dir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const tar = spawn('tar', ['-x', '-f', '-', '-C', dir, '--no-same-owner', '--no-same-permissions'], {
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    let stderr = '';
    tar.stderr.on('data', (d: Buffer) => (stderr += d.toString().slice(0, 2000)));
    tar.on('error', reject);
    stream.on('error', (e: Error) => {
      tar.kill();
      reject(e);
    });
    tar.stdin.on('error', () => undefined);
    stream.pipe(tar.stdin);
    tar.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`unpacking the image archive failed: ${stderr.trim() || code}`)),
    );
  });
}
