import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Docker from 'dockerode';
import { loadConfig, homePaths } from '../../common/config';
import { isSlipwayError, SlipwayError } from '../../common/errors';
import { CONFIG_KEY_RE } from '../../common/names';
import { build } from '../../buildpacks/lifecycle';
import { stripControls } from '../terminal-text';
import { openImageStore } from '../../buildpacks/oci/layout';
import { dockerArchive } from '../../buildpacks/oci/docker-archive';
import { BUILD_USAGE } from './build-usage';

/**
 * `slipway build DIR --tag NAME`: the whole lifecycle on a local directory, without the server
 * (like `pack build`). The image lands in the store (SLIPWAY_HOME/images, as local/<name>:latest,
 * so the next build reuses its layers) and in Docker as NAME.
 */
const USAGE = BUILD_USAGE;

interface Args {
  dir: string;
  tag: string;
  buildpacks: string[];
  env: Record<string, string>;
  clearCache: boolean;
}

function parse(argv: string[]): Args {
  const out: Partial<Args> & { buildpacks: string[]; env: Record<string, string>; clearCache: boolean } = {
    buildpacks: [],
    env: {},
    clearCache: false,
  };
  const value = (i: number, flag: string) => {
    if (i >= argv.length) throw new SlipwayError('INVALID_INPUT', `${flag} needs a value`, { hint: USAGE });
    return argv[i];
  };
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    let inline: string | undefined;
    const eq = a.startsWith('--') ? a.indexOf('=') : -1;
    if (eq > 0) [a, inline] = [a.slice(0, eq), a.slice(eq + 1)];
    const next = () => inline ?? value(++i, a);
    if (a === '--tag' || a === '-t') out.tag = next();
    else if (a === '--buildpack' || a === '-b') out.buildpacks.push(next());
    else if (a === '--env' || a === '-e') {
      const kv = next();
      const k = kv.split('=', 1)[0];
      if (!CONFIG_KEY_RE.test(k) || !kv.includes('='))
        throw new SlipwayError('INVALID_INPUT', `--env ${JSON.stringify(kv)} is not KEY=VALUE`, {
          hint: 'for example --env NODE_ENV=production',
        });
      out.env[k] = kv.slice(k.length + 1);
    } else if (a === '--clear-cache') out.clearCache = true;
    else if (a === '--help' || a === '-h') throw new SlipwayError('INVALID_INPUT', 'help', { hint: USAGE });
    else if (a.startsWith('-')) throw new SlipwayError('INVALID_INPUT', `unknown option ${a}`, { hint: USAGE });
    else if (!out.dir) out.dir = a;
    else throw new SlipwayError('INVALID_INPUT', `unexpected argument ${JSON.stringify(a)}`, { hint: USAGE });
  }
  if (!out.dir || !out.tag)
    throw new SlipwayError('INVALID_INPUT', 'slipway build needs DIR and --tag NAME', { hint: USAGE });
  if (!/^[a-z0-9]+(?:[._\/-][a-z0-9]+)*(?::[A-Za-z0-9_][A-Za-z0-9._-]{0,127})?$/.test(out.tag)) {
    throw new SlipwayError('INVALID_INPUT', `${JSON.stringify(out.tag)} is not a valid image name`, {
      hint: 'use lowercase letters, digits, ".", "_", "-" and "/", optionally :tag',
    });
  }
  return out as Args;
}

/** An app name (for labels and the cache dir) derived from the image name. */
function appNameFor(tag: string): string {
  const base = tag
    .split(':')[0]
    .split('/')
    .pop()!
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^[^a-z]+/, '')
    .replace(/-+$/, '');
  const name = base.slice(0, 30).replace(/-+$/, '');
  return name.length >= 3 ? name : `local-${name || 'app'}`.slice(0, 30);
}

export async function runLocalBuild(argv: string[]): Promise<number> {
  try {
    const args = parse(argv);
    const config = loadConfig();
    const paths = homePaths(config.home);
    const store = openImageStore(paths.images);
    const docker = new Docker();
    const appName = appNameFor(args.tag);
    const storeRef = `local/${appName}:latest`;
    const cacheDir = path.join(paths.caches, `local-${appName}`);
    if (args.clearCache) fs.rmSync(cacheDir, { recursive: true, force: true });
    const previous = !args.clearCache && (await store.resolve(storeRef)) ? storeRef : undefined;
    const result = await build({
      appName,
      sourceDir: path.resolve(args.dir),
      workspaceDir: path.join(paths.builds, `local-${appName}-${process.pid}`),
      cacheDir,
      store,
      docker,
      stack: config.stack,
      imageRef: storeRef,
      previousImageRef: previous,
      buildpacks: args.buildpacks.length
        ? args.buildpacks.map((b) => (b.startsWith('.') ? path.resolve(b) : b))
        : undefined,
      env: args.env,
      caBundle: config.caBundle,
      labels: { 'io.slipway.home': config.home },
      // Buildpack output is untrusted (a fetched buildpack, the app's own scripts): no control sequences.
      output: (line) => process.stdout.write(stripControls(line) + '\n'),
      // The same wall-clock limit as a push (SLIPWAY_BUILD_TIMEOUT_S).
      signal: AbortSignal.timeout(config.buildTimeoutMs),
      allowHostPaths: true,
      buildpackCacheDir: path.join(paths.buildpacks, 'fetched'),
    });
    const dockerName = args.tag.includes(':') ? args.tag : `${args.tag}:latest`;
    const t0 = Date.now();
    const res = await docker.loadImage(await dockerArchive(store, result.manifestDigest, [dockerName]), {
      quiet: true,
    });
    await new Promise<void>((resolve, reject) => {
      let out = '';
      res.on('data', (d: Buffer) => (out += d));
      res.on('end', () =>
        /"error"/.test(out) ? reject(new SlipwayError('DOCKER_UNAVAILABLE', `docker load failed: ${out}`)) : resolve(),
      );
      res.on('error', reject);
    });
    process.stdout.write(`-----> Loaded into Docker as ${dockerName} (${Date.now() - t0} ms)\n`);
    process.stdout.write(
      `       image ${result.manifestDigest}\n       run it: docker run --rm -p 127.0.0.1:5000:5000 -e PORT=5000 ${dockerName}\n`,
    );
    return 0;
  } catch (err) {
    if (isSlipwayError(err)) {
      if (err.message !== 'help')
        process.stderr.write(`${os.EOL}!     ${err.message.split('\n').join(`${os.EOL}!     `)}${os.EOL}`);
      if (err.hint) process.stderr.write(`${err.message === 'help' ? '' : 'hint: '}${err.hint}${os.EOL}`);
      return err.message === 'help' ? 0 : 1;
    }
    process.stderr.write(`!     ${(err as Error).message}${os.EOL}`);
    return 1;
  }
}
