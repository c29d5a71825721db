import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * The peers' containers and images: `docker run -p 127.0.0.1:PORT` of the Dockerfile image (or
 * of the run image with the tiny app mounted), labelled io.slipway.bench=1 plus a per-run label
 * so cleanup removes exactly what this benchmark run created and nothing of anyone else's.
 */
// BENCH_RUN_ID lets scripts/bench-quick.sh clean up after a run it had to kill.
export const RUN_LABEL = `io.slipway.bench.run=${process.env.BENCH_RUN_ID ?? `${process.pid}-${Date.now()}`}`;

/** Where the suites put temporary directories: the test homes dir when set (cleaned by the scripts). */
export function benchTmpDir(prefix: string): string {
  const base = process.env.SLIPWAY_TEST_HOMES ?? os.tmpdir();
  fs.mkdirSync(base, { recursive: true });
  return fs.mkdtempSync(path.join(base, prefix));
}

export function docker(...args: string[]): Promise<string> {
  return run('docker', args, { maxBuffer: 16 << 20, timeout: 10 * 60_000 }).then((r) => r.stdout.trim());
}

export interface PeerRunOptions {
  image: string;
  hostPort: number;
  env?: Record<string, string>;
  /** Bind mounts, host:container:ro. */
  volumes?: string[];
  cmd?: string[];
  workdir?: string;
}

/** Starts a peer container publishing PORT 5000 on 127.0.0.1:hostPort; returns its id. */
export async function peerRun(o: PeerRunOptions): Promise<string> {
  const args = [
    'run',
    '-d',
    '--label',
    'io.slipway.bench=1',
    '--label',
    RUN_LABEL,
    '-p',
    `127.0.0.1:${o.hostPort}:5000`,
    '-e',
    'PORT=5000',
  ];
  for (const [k, v] of Object.entries(o.env ?? {})) args.push('-e', `${k}=${v}`);
  for (const v of o.volumes ?? []) args.push('-v', v);
  if (o.workdir) args.push('-w', o.workdir);
  args.push(o.image, ...(o.cmd ?? []));
  return docker(...args);
}

/** The naive redeploy: `docker stop` (default 10 s grace) then `docker rm`. */
export async function peerStop(id: string): Promise<void> {
  await docker('stop', id);
  await docker('rm', '-f', id);
}

/** Removes every container and image this run labelled (never anything else). */
export async function cleanupPeers(): Promise<void> {
  const quiet = (p: Promise<unknown>) => p.catch(() => undefined);
  const containers = (await quiet(docker('ps', '-aq', '--filter', `label=${RUN_LABEL}`))) as string | undefined;
  if (containers) await quiet(docker('rm', '-f', ...containers.split('\n').filter(Boolean)));
  const images = (await quiet(docker('images', '-q', '--filter', `label=${RUN_LABEL}`))) as string | undefined;
  if (images) await quiet(docker('rmi', '-f', ...new Set(images.split('\n').filter(Boolean))));
}

/** docker build of the peer context with this run's labels (BuildKit off: docker 20.10 default builder). */
export async function peerBuild(ctxDir: string, tag: string, noCache: boolean): Promise<void> {
  await run(
    'docker',
    [
      'build',
      ...(noCache ? ['--no-cache'] : []),
      '--label',
      'io.slipway.bench=1',
      '--label',
      RUN_LABEL,
      '-q',
      '-t',
      tag,
      ctxDir,
    ],
    {
      maxBuffer: 16 << 20,
      timeout: 15 * 60_000,
      env: { ...process.env, DOCKER_BUILDKIT: '0' },
    },
  );
}
