import * as fs from 'node:fs';
import * as path from 'node:path';
import * as crypto from 'node:crypto';
import { execFile, execFileSync } from 'node:child_process';
import * as http from 'node:http';
import TOML from '@iarna/toml';

/**
 * A small stand-in for the CNB platform, to test the built-in buildpacks directly: runs bin/detect
 * and bin/build inside `docker run` of the stack's build image (uid 1000, app at /app, layers at
 * /layers, host CA bundle mounted), simulates the restorer between builds, and runs the result in
 * the run image with the launch env the launcher would apply. It is deliberately not the platform
 * (buildpacks/lifecycle): it exists so the buildpacks are tested as any CNB platform would run them.
 */

export const REPO_ROOT = findRepoRoot(__dirname);
/** The built-in buildpacks as `npm run build` assembles them (scripts/copy-assets.mjs), shared files included. */
export const BUILTIN_DIR = path.resolve(__dirname, '..', '..', 'builtin-buildpacks');
export const FIXTURES_DIR = path.join(REPO_ROOT, 'test', 'fixtures', 'apps');
const BUILD_IMAGE = 'slipway/bookworm-build:latest';
const RUN_IMAGE = 'slipway/bookworm-run:latest';
const CA = '/etc/ssl/certs/ca-certificates.crt';
const BASE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const HOMES = process.env.SLIPWAY_TEST_HOMES ?? '/var/tmp/slipway-test-homes';

function findRepoRoot(dir: string): string {
  let d = dir;
  while (!fs.existsSync(path.join(d, 'buildpacks', 'builtin'))) {
    const up = path.dirname(d);
    if (up === d) throw new Error(`no buildpacks/builtin above ${dir}`);
    d = up;
  }
  return d;
}

export interface Workspace {
  /** Also the io.slipway.home label of every container started for it. */
  root: string;
  /** The pushed source; each build starts from a fresh copy of it in appDir, as on the platform. */
  srcDir: string;
  appDir: string;
  layersDir: string;
  platformDir: string;
  cleanup(): void;
}

export interface StepResult {
  code: number;
  output: string;
  ms: number;
}

/** A fresh workspace with a copy of test/fixtures/apps/FIXTURE as the app. */
export function createWorkspace(fixture: string): Workspace {
  fs.mkdirSync(HOMES, { recursive: true });
  const root = fs.mkdtempSync(path.join(HOMES, `bp-${fixture}-`));
  const ws: Workspace = {
    root,
    srcDir: path.join(root, 'src'),
    appDir: path.join(root, 'app'),
    layersDir: path.join(root, 'layers'),
    platformDir: path.join(root, 'platform'),
    cleanup: () => {
      removeContainers(root);
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
  fs.cpSync(path.join(FIXTURES_DIR, fixture), ws.srcDir, { recursive: true });
  fs.cpSync(ws.srcDir, ws.appDir, { recursive: true });
  for (const d of [ws.layersDir, path.join(ws.platformDir, 'env'), path.join(root, 'io')])
    fs.mkdirSync(d, { recursive: true });
  chownTree(root);
  return ws;
}

/** Changes a file of the pushed source (and of the current app dir, for a detect before the next build). */
export function writeAppFile(ws: Workspace, rel: string, content: string): void {
  fs.writeFileSync(path.join(ws.srcDir, rel), content);
  fs.writeFileSync(path.join(ws.appDir, rel), content);
  chownTree(ws.appDir);
}

function resetApp(ws: Workspace): void {
  fs.rmSync(ws.appDir, { recursive: true, force: true });
  fs.cpSync(ws.srcDir, ws.appDir, { recursive: true });
  chownTree(ws.appDir);
}

function chownTree(p: string): void {
  if (process.getuid?.() === 0) execFileSync('chown', ['-R', '1000:1000', p]);
}

export const escapeId = (id: string) => id.replace(/\//g, '_');
const bpId = (name: string) => `slipway/${name}`;
const bpLayers = (ws: Workspace, name: string) => path.join(ws.layersDir, escapeId(bpId(name)));

function labels(ws: Workspace): string[] {
  return [
    '--label',
    'io.slipway.managed=true',
    '--label',
    `io.slipway.home=${ws.root}`,
    '--label',
    'io.slipway.test=builtin-buildpacks',
  ];
}

function caEnv(): string[] {
  return ['SSL_CERT_FILE', 'NODE_EXTRA_CA_CERTS', 'CURL_CA_BUNDLE', 'GIT_SSL_CAINFO', 'REQUESTS_CA_BUNDLE'].flatMap(
    (n) => ['-e', `${n}=${CA}`],
  );
}

function run(cmd: string, args: string[], timeoutMs: number): Promise<StepResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { maxBuffer: 64 * 1024 * 1024, timeout: timeoutMs, encoding: 'utf8' },
      (err, stdout, stderr) => {
        const code = err
          ? typeof (err as NodeJS.ErrnoException).code === 'number'
            ? Number((err as NodeJS.ErrnoException).code)
            : 1
          : 0;
        resolve({ code, output: stdout + stderr, ms: Date.now() - started });
      },
    );
  });
}

interface PhaseOptions {
  /** Config vars: written to <platform>/env and set in the env (a platform without clear-env). */
  env?: Record<string, string>;
  /** Buildpacks that built before this one in the group (their build layers feed its env). */
  before?: string[];
  timeoutMs?: number;
}

function phaseArgs(ws: Workspace, name: string, opts: PhaseOptions): string[] {
  const bpDir = `/cnb/buildpacks/${escapeId(bpId(name))}`;
  for (const [k, v] of Object.entries(opts.env ?? {})) fs.writeFileSync(path.join(ws.platformDir, 'env', k), v);
  const env = buildEnv(ws, opts.before ?? []);
  for (const [k, v] of Object.entries(opts.env ?? {}))
    env[k] =
      ['PATH', 'LD_LIBRARY_PATH', 'LIBRARY_PATH', 'CPATH', 'PKG_CONFIG_PATH'].includes(k) && env[k]
        ? `${v}:${env[k]}`
        : v;
  return [
    'run',
    '--rm',
    ...labels(ws),
    '-u',
    '1000:1000',
    '-w',
    '/app',
    '-v',
    `${ws.appDir}:/app`,
    '-v',
    `${ws.layersDir}:/layers`,
    '-v',
    `${ws.platformDir}:/platform:ro`,
    '-v',
    `${path.join(ws.root, 'io')}:/cnb-io`,
    '-v',
    `${path.join(BUILTIN_DIR, name)}:${bpDir}:ro`,
    '-v',
    `${CA}:${CA}:ro`,
    ...caEnv(),
    '-e',
    `CNB_BUILDPACK_DIR=${bpDir}`,
    '-e',
    'CNB_PLATFORM_DIR=/platform',
    '-e',
    'CNB_TARGET_OS=linux',
    '-e',
    'CNB_TARGET_ARCH=amd64',
    '-e',
    'CNB_TARGET_DISTRO_NAME=debian',
    '-e',
    'CNB_TARGET_DISTRO_VERSION=12',
    ...Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]),
    BUILD_IMAGE,
  ];
}

/** bin/detect; `plan` is what it wrote to CNB_BUILD_PLAN_PATH. */
export async function detect(
  ws: Workspace,
  name: string,
  opts: PhaseOptions = {},
): Promise<StepResult & { plan: string }> {
  const planFile = path.join(ws.root, 'io', `${escapeId(name)}-detect-plan.toml`);
  fs.writeFileSync(planFile, '');
  chownTree(planFile);
  const args = phaseArgs(ws, name, opts);
  args.splice(args.indexOf(BUILD_IMAGE), 0, '-e', `CNB_BUILD_PLAN_PATH=/cnb-io/${path.basename(planFile)}`);
  const res = await run(
    'docker',
    [...args, `/cnb/buildpacks/${escapeId(bpId(name))}/bin/detect`, '/platform', `/cnb-io/${path.basename(planFile)}`],
    opts.timeoutMs ?? 60_000,
  );
  return { ...res, plan: fs.readFileSync(planFile, 'utf8') };
}

/** bin/build with CNB_LAYERS_DIR=/layers/slipway_NAME; the plan is the detect plan's requires. */
export async function build(ws: Workspace, name: string, opts: PhaseOptions = {}): Promise<StepResult> {
  const layers = bpLayers(ws, name);
  fs.mkdirSync(layers, { recursive: true });
  chownTree(layers);
  const detectPlan = path.join(ws.root, 'io', `${escapeId(name)}-detect-plan.toml`);
  const requires = fs.existsSync(detectPlan)
    ? ((TOML.parse(fs.readFileSync(detectPlan, 'utf8')).requires ?? []) as TOML.JsonMap[])
    : [];
  const planFile = path.join(ws.root, 'io', `${escapeId(name)}-plan.toml`);
  fs.writeFileSync(planFile, TOML.stringify({ entries: requires } as TOML.JsonMap));
  const args = phaseArgs(ws, name, opts);
  const inLayers = `/layers/${escapeId(bpId(name))}`;
  args.splice(
    args.indexOf(BUILD_IMAGE),
    0,
    '-e',
    `CNB_LAYERS_DIR=${inLayers}`,
    '-e',
    `CNB_BP_PLAN_PATH=/cnb-io/${path.basename(planFile)}`,
  );
  return run(
    'docker',
    [
      ...args,
      `/cnb/buildpacks/${escapeId(bpId(name))}/bin/build`,
      inLayers,
      '/platform',
      `/cnb-io/${path.basename(planFile)}`,
    ],
    opts.timeoutMs ?? 600_000,
  );
}

/** detect + build of each buildpack in order, as one group (all must pass detect). */
export async function buildGroup(ws: Workspace, names: string[], opts: PhaseOptions = {}): Promise<StepResult> {
  let output = '';
  let ms = 0;
  for (const [i, name] of names.entries()) {
    const d = await detect(ws, name, opts);
    output += d.output;
    ms += d.ms;
    if (d.code !== 0) return { code: d.code, output: output + `\n[harness] ${name} detect exited ${d.code}\n`, ms };
    const b = await build(ws, name, { ...opts, before: names.slice(0, i) });
    output += b.output;
    ms += b.ms;
    if (b.code !== 0) return { code: b.code, output, ms };
  }
  return { code: 0, output, ms };
}

interface LayerTypes {
  launch: boolean;
  build: boolean;
  cache: boolean;
}

function layerTypes(tomlFile: string): LayerTypes {
  const t = (TOML.parse(fs.readFileSync(tomlFile, 'utf8')).types ?? {}) as Partial<LayerTypes>;
  return { launch: !!t.launch, build: !!t.build, cache: !!t.cache };
}

/** Layer names of a buildpack with their types, from the <layer>.toml files of the last build. */
export function listLayers(ws: Workspace, name: string): Record<string, LayerTypes> {
  const dir = bpLayers(ws, name);
  const out: Record<string, LayerTypes> = {};
  if (!fs.existsSync(dir)) return out;
  for (const f of fs.readdirSync(dir)) {
    if (!f.endsWith('.toml') || ['launch.toml', 'build.toml', 'store.toml'].includes(f)) continue;
    out[f.slice(0, -5)] = layerTypes(path.join(dir, f));
  }
  return out;
}

/**
 * What the restorer leaves for the next build (spec table in specs.md 2.6): cached layers come back
 * with contents, launch-only layers only as metadata, and no .toml keeps its [types]. The app dir
 * starts again from the pushed source.
 */
export function prepareNextBuild(ws: Workspace): void {
  resetApp(ws);
  for (const bp of fs.readdirSync(ws.layersDir)) {
    const dir = path.join(ws.layersDir, bp);
    for (const f of ['launch.toml', 'build.toml']) fs.rmSync(path.join(dir, f), { force: true });
    for (const f of fs.readdirSync(dir)) {
      if (!f.endsWith('.toml') || f === 'store.toml') continue;
      const file = path.join(dir, f);
      const layer = path.join(dir, f.slice(0, -5));
      const types = layerTypes(file);
      if (!types.cache) fs.rmSync(layer, { recursive: true, force: true });
      if (!types.cache && !types.launch) {
        fs.rmSync(file);
        continue;
      }
      const doc = TOML.parse(fs.readFileSync(file, 'utf8'));
      delete doc.types;
      fs.writeFileSync(file, TOML.stringify(doc));
    }
    for (const f of fs.readdirSync(dir)) {
      const p = path.join(dir, f);
      if (fs.statSync(p).isDirectory() && !fs.existsSync(`${p}.toml`)) fs.rmSync(p, { recursive: true, force: true });
    }
  }
}

/**
 * Copies (hard links) cached layers of one buildpack from another workspace, as if this app had
 * built before with them: tests of other behaviour skip downloading the same Node again.
 */
export function seedLayers(ws: Workspace, from: Workspace, name: string, layers: string[]): void {
  const src = bpLayers(from, name);
  const dest = bpLayers(ws, name);
  fs.mkdirSync(dest, { recursive: true });
  for (const layer of layers) {
    if (!fs.existsSync(path.join(src, layer))) continue;
    execFileSync('cp', ['-al', path.join(src, layer), path.join(dest, layer)]);
    const doc = TOML.parse(fs.readFileSync(path.join(src, `${layer}.toml`), 'utf8'));
    delete doc.types;
    fs.writeFileSync(path.join(dest, `${layer}.toml`), TOML.stringify(doc));
  }
  chownTree(dest);
}

/** A digest of a layer's contents as a reproducible tar (sorted, mtime 0, numeric owner 0). */
export function layerDigest(ws: Workspace, name: string, layer: string): string {
  const tar = execFileSync(
    'tar',
    [
      '--sort=name',
      '--mtime=@0',
      '--owner=0',
      '--group=0',
      '--numeric-owner',
      '-cf',
      '-',
      '-C',
      path.join(bpLayers(ws, name), layer),
      '.',
    ],
    { maxBuffer: 1024 * 1024 * 1024 },
  );
  return 'sha256:' + crypto.createHash('sha256').update(tar).digest('hex');
}

export interface Process {
  type: string;
  command: string[];
  args?: string[];
  default?: boolean;
  'working-dir'?: string;
}

/** Processes of the given buildpacks, merged like the builder does (a later type replaces). */
export function processes(ws: Workspace, names: string[]): Record<string, Process> {
  const out: Record<string, Process> = {};
  for (const name of names) {
    const file = path.join(bpLayers(ws, name), 'launch.toml');
    if (!fs.existsSync(file)) continue;
    for (const p of (TOML.parse(fs.readFileSync(file, 'utf8')).processes ?? []) as unknown as Process[])
      out[p.type] = p;
  }
  return out;
}

function applyEnvDir(env: Record<string, string>, dir: string): void {
  if (!fs.existsSync(dir)) return;
  const files = fs
    .readdirSync(dir)
    .filter((f) => fs.statSync(path.join(dir, f)).isFile())
    .sort();
  const delim = (n: string) =>
    fs.existsSync(path.join(dir, `${n}.delim`)) ? fs.readFileSync(path.join(dir, `${n}.delim`), 'utf8') : '';
  for (const f of files) {
    const [n, suffix = 'override'] = f.split('.');
    const v = fs.readFileSync(path.join(dir, f), 'utf8');
    if (suffix === 'override') env[n] = v;
    else if (suffix === 'default') {
      if (!env[n]) env[n] = v;
    } else if (suffix === 'prepend') env[n] = env[n] ? v + delim(n) + env[n] : v;
    else if (suffix === 'append') env[n] = env[n] ? env[n] + delim(n) + v : v;
  }
}

function prependPath(env: Record<string, string>, name: string, dir: string): void {
  env[name] = env[name] ? `${dir}:${env[name]}` : dir;
}

function layerEnv(ws: Workspace, names: string[], kind: 'build' | 'launch', proc?: string): Record<string, string> {
  const env: Record<string, string> = { PATH: BASE_PATH };
  for (const name of names) {
    const dir = bpLayers(ws, name);
    if (!fs.existsSync(dir)) continue;
    for (const [layer, types] of Object.entries(listLayers(ws, name)).sort(([a], [b]) => a.localeCompare(b))) {
      if (!types[kind]) continue;
      const host = path.join(dir, layer);
      const inContainer = `/layers/${escapeId(bpId(name))}/${layer}`;
      if (fs.existsSync(path.join(host, 'bin'))) prependPath(env, 'PATH', `${inContainer}/bin`);
      if (fs.existsSync(path.join(host, 'lib'))) {
        prependPath(env, 'LD_LIBRARY_PATH', `${inContainer}/lib`);
        if (kind === 'build') prependPath(env, 'LIBRARY_PATH', `${inContainer}/lib`);
      }
      if (kind === 'build' && fs.existsSync(path.join(host, 'include')))
        prependPath(env, 'CPATH', `${inContainer}/include`);
      if (kind === 'build' && fs.existsSync(path.join(host, 'pkgconfig')))
        prependPath(env, 'PKG_CONFIG_PATH', `${inContainer}/pkgconfig`);
      applyEnvDir(env, path.join(host, 'env'));
      applyEnvDir(env, path.join(host, `env.${kind}`));
      if (proc) applyEnvDir(env, path.join(host, 'env.launch', proc));
    }
  }
  return env;
}

/** The env a later buildpack sees from the build layers of those before it. */
export const buildEnv = (ws: Workspace, before: string[]) => layerEnv(ws, before, 'build');
/** The env the launcher builds for a process (before exec.d). */
export const launchEnv = (ws: Workspace, names: string[], proc = 'web') => layerEnv(ws, names, 'launch', proc);

function runImageArgs(ws: Workspace, names: string[], proc: string, extraEnv: Record<string, string>): string[] {
  const env = { ...launchEnv(ws, names, proc), ...extraEnv };
  return [
    ...labels(ws),
    '-u',
    '1000:1000',
    '-w',
    '/app',
    '-v',
    `${ws.appDir}:/app`,
    '-v',
    `${ws.layersDir}:/layers:ro`,
    '-v',
    `${CA}:${CA}:ro`,
    ...caEnv(),
    ...Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]),
  ];
}

/** Runs a one-off command in the run image with the launch env (like `heroku run`). */
export function runCommand(
  ws: Workspace,
  names: string[],
  command: string[],
  env: Record<string, string> = {},
): Promise<StepResult> {
  return run('docker', ['run', '--rm', ...runImageArgs(ws, names, 'web', env), RUN_IMAGE, ...command], 60_000);
}

export interface RunningApp {
  url: string;
  container: string;
  logs(): string;
  stop(): void;
}

/** Starts process `proc` in the run image on a loopback port and waits until it answers HTTP. */
export async function startApp(
  ws: Workspace,
  names: string[],
  opts: { proc?: string; env?: Record<string, string> } = {},
): Promise<RunningApp> {
  const proc = opts.proc ?? 'web';
  const p = processes(ws, names)[proc];
  if (!p) throw new Error(`no ${proc} process in ${names.join(', ')}`);
  const args = [
    'run',
    '-d',
    ...runImageArgs(ws, names, proc, { PORT: '5000', DYNO: `${proc}.1`, ...opts.env }),
    '-p',
    '127.0.0.1::5000',
  ];
  if (p['working-dir']) args.push('-w', p['working-dir']);
  const container = execFileSync(
    'docker',
    [...args, '--entrypoint', p.command[0], RUN_IMAGE, ...p.command.slice(1), ...(p.args ?? [])],
    { encoding: 'utf8' },
  ).trim();
  const logs = () => {
    try {
      return execFileSync('docker', ['logs', container], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      return String(e);
    }
  };
  const stop = () => {
    try {
      execFileSync('docker', ['rm', '-f', container], { stdio: 'ignore' });
    } catch {
      /* already gone */
    }
  };
  let port: string | undefined;
  try {
    port = execFileSync('docker', ['port', container, '5000/tcp'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    })
      .trim()
      .split('\n')[0]
      .split(':')
      .pop();
  } catch {
    await new Promise((r) => setTimeout(r, 300));
    const out = logs();
    stop();
    throw new Error(`${proc} exited at once; logs:\n${out}`);
  }
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await httpGet(url + '/');
      return { url, container, logs, stop };
    } catch {
      const state = execFileSync('docker', ['inspect', '-f', '{{.State.Running}}', container], {
        encoding: 'utf8',
      }).trim();
      if (state !== 'true' || Date.now() > deadline) {
        const out = logs();
        stop();
        throw new Error(`${proc} did not answer on $PORT (running=${state}); logs:\n${out}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export function httpGet(url: string, headers: Record<string, string> = {}): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
  });
}

/** Removes the containers this harness started for a workspace (and only those). */
export function removeContainers(root: string): void {
  try {
    const ids = execFileSync('docker', ['ps', '-aq', '--filter', `label=io.slipway.home=${root}`], {
      encoding: 'utf8',
    }).trim();
    if (ids) execFileSync('docker', ['rm', '-f', ...ids.split('\n')], { stdio: 'ignore' });
  } catch {
    /* docker unavailable: nothing to remove */
  }
}
