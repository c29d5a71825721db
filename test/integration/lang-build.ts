import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import Docker from 'dockerode';
import { build, type BuildResult } from '../../buildpacks/lifecycle';
import { loadIntoDocker } from '../../stacks/builder';
import { createTestHome, type TestHome } from '../helpers/home';

/**
 * The real lifecycle (detect with the built-in order, build container, export into the OCI store)
 * for the language buildpack tests, and the resulting image run in Docker as the platform runs it
 * (/cnb/process/web, PORT set, uid from the image). One home per test file; builds that pass the
 * same cache name share an app build cache, as successive pushes of one app do.
 */
export interface LangBuild {
  ok: boolean;
  output: string;
  error?: string;
  result?: BuildResult;
}

export interface LangHarness {
  home: TestHome;
  build(sourceDir: string, opts: { cache: string; stack?: string; env?: Record<string, string> }): Promise<LangBuild>;
  /** Runs the image's web process and returns GET / (retrying until it answers). */
  serve(result: BuildResult): Promise<string>;
  /** Runs a one-off command line through the launcher (bash, the app's env applied); returns stdout. */
  exec(result: BuildResult, command: string): Promise<string>;
  cleanup(): void;
}

/** node:http GET (fetch()'s pooled sockets let the event loop drain mid-retry under node:test). */
function httpGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: 5000, agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

const sh = (...args: string[]) => execFileSync('docker', args, { encoding: 'utf8', timeout: 120_000 }).trim();

export async function createLangHarness(prefix: string): Promise<LangHarness> {
  const home = await createTestHome(prefix);
  const docker = new Docker();
  const images = new Set<string>();
  let n = 0;
  const suffix = randomBytes(3).toString('hex');

  async function dockerImage(result: BuildResult): Promise<string> {
    const name = `slipway-test-${prefix}-${suffix}:${result.manifestDigest.slice(7, 19)}`;
    if (!images.has(name)) {
      await loadIntoDocker(docker, home.store, result.manifestDigest, [name]);
      images.add(name);
    }
    return name;
  }

  return {
    home,
    async build(sourceDir, opts) {
      n++;
      if (process.getuid?.() === 0) execFileSync('chown', ['-R', '1000:1000', sourceDir]);
      const lines: string[] = [];
      try {
        const result = await build({
          appName: `${prefix}-${opts.cache}`,
          sourceDir,
          workspaceDir: path.join(home.builds, `b${n}`),
          cacheDir: path.join(home.caches, opts.cache),
          store: home.store,
          docker,
          stack: opts.stack ?? 'bookworm',
          imageRef: `apps/${prefix}:b${n}`,
          env: opts.env ?? {},
          caBundle: '/etc/ssl/certs/ca-certificates.crt',
          labels: { 'io.slipway.home': home.home },
          output: (l) => lines.push(l),
        });
        return { ok: true, output: lines.join('\n'), result };
      } catch (err) {
        const e = err as Error & { hint?: string };
        return { ok: false, output: lines.join('\n'), error: `${e.message}${e.hint ? ` (${e.hint})` : ''}` };
      }
    },
    async serve(result) {
      const image = await dockerImage(result);
      // Docker picks the host port (helpers' freePort() is unref'd: nothing else keeps the test alive here).
      const id = sh(
        'run',
        '-d',
        '--label',
        `io.slipway.home=${home.home}`,
        '-e',
        'PORT=8080',
        '-p',
        '127.0.0.1::8080',
        image,
        '/cnb/process/web',
      );
      try {
        const port = /:(\d+)$/.exec(sh('port', id, '8080/tcp').split('\n')[0])![1];
        const deadline = Date.now() + 30_000;
        let last = '';
        while (Date.now() < deadline) {
          try {
            const res = await httpGet(`http://127.0.0.1:${port}/`);
            if (res.status === 200) return res.body;
            last = `${res.status}`;
          } catch (err) {
            last = (err as Error).message;
          }
          await new Promise((r) => setTimeout(r, 250));
        }
        throw new Error(`the app did not answer: ${last}\n${sh('logs', id)}`);
      } finally {
        sh('rm', '-f', id);
      }
    },
    async exec(result, command) {
      const image = await dockerImage(result);
      return sh('run', '--rm', '--label', `io.slipway.home=${home.home}`, image, '/cnb/lifecycle/launcher', command);
    },
    cleanup() {
      for (const img of images) {
        try {
          sh('rmi', '-f', img);
        } catch {
          /* already gone */
        }
      }
      home.cleanup();
      fs.rmSync(home.home, { recursive: true, force: true });
    },
  };
}
