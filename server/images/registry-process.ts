import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { promisify } from 'node:util';
import type { HomePaths, PlatformRegistryConfig } from '../../common/config';
import { SlipwayError } from '../../common/errors';
import { createLogger } from '../../common/logger';

const run = promisify(execFile);
const logger = createLogger('slipway-server');

/**
 * The platform registry process: Debian's docker-registry (the CNCF distribution registry v2),
 * a supervised child of the server. The platform writes its whole configuration:
 *
 *   SLIPWAY_HOME/registry/config.yml      (0600: holds the upload-state secret)
 *   SLIPWAY_HOME/registry/data/           the registry's storage (filesystem driver)
 *   SLIPWAY_HOME/state/registry.htpasswd  bcrypt (htpasswd -B), 0600
 *   SLIPWAY_HOME/state/registry-credentials.json  the one user and password (0600): the server
 *                                         pushes with it, nodes pull with it; never logged
 *   SLIPWAY_HOME/run/registry.pid         the child's pid, for operators; a leftover of a killed
 *                                         server is found by its command line (its config file)
 *                                         and stopped at the next start, before its port is needed
 *   SLIPWAY_HOME/log/registry.log         its output, including one access-log line a request
 *
 * TLS with the platform certificate (run/certs/platform.crt). Deleting manifests is enabled (the
 * registry's GC follows the store's, registry-gc.ts); `readOnly` restarts it in maintenance
 * read-only mode, in which pulls go on while `docker-registry garbage-collect` runs.
 */
export interface RegistryCredentials {
  username: string;
  password: string;
}

export interface RegistryProcess {
  /** Starts (or restarts) the child; resolves when it answers /v2/ with 401. */
  start(opts?: { readOnly?: boolean }): Promise<void>;
  stop(): Promise<void>;
  /** `docker-registry garbage-collect` on the config; the caller makes it read-only first. */
  garbageCollect(): Promise<{ output: string }>;
  credentials: RegistryCredentials;
  configFile: string;
  dataDir: string;
  logFile: string;
}

export const REGISTRY_BINARY = '/usr/bin/docker-registry';
const USER = 'slipway';

export function registryFiles(paths: HomePaths) {
  return {
    configFile: path.join(paths.registry, 'config.yml'),
    dataDir: path.join(paths.registry, 'data'),
    htpasswd: path.join(path.dirname(paths.db), 'registry.htpasswd'),
    credentials: path.join(path.dirname(paths.db), 'registry-credentials.json'),
    pidFile: path.join(paths.run, 'registry.pid'),
    logFile: path.join(paths.logs, 'registry.log'),
  };
}

/** The credential, made once and kept (nodes hold it); the htpasswd file is derived from it. */
async function ensureCredentials(files: ReturnType<typeof registryFiles>): Promise<RegistryCredentials> {
  let creds: RegistryCredentials | undefined;
  try {
    creds = JSON.parse(fs.readFileSync(files.credentials, 'utf8')) as RegistryCredentials;
  } catch {
    creds = undefined;
  }
  if (!creds?.password || creds.username !== USER) {
    creds = { username: USER, password: randomBytes(24).toString('base64url') };
    writePrivate(files.credentials, JSON.stringify(creds));
    fs.rmSync(files.htpasswd, { force: true });
  }
  if (!fs.existsSync(files.htpasswd)) {
    // bcrypt by htpasswd (apache2-utils), the password on stdin: never on a command line.
    const line = await new Promise<string>((resolve, reject) => {
      const child = execFile('htpasswd', ['-niB', USER], { timeout: 30_000 }, (err, stdout) =>
        err ? reject(err) : resolve(stdout.trim()),
      );
      child.stdin!.end(`${creds!.password}\n`);
    }).catch((err: Error) => {
      throw new SlipwayError('INTERNAL', `could not write the registry's htpasswd file: ${err.message}`, {
        hint: 'install apache2-utils (apt-get install apache2-utils), which provides htpasswd',
      });
    });
    if (!line.startsWith(`${USER}:$2`)) throw new SlipwayError('INTERNAL', 'htpasswd did not write a bcrypt entry');
    writePrivate(files.htpasswd, `${line}\n`);
  }
  return creds;
}

function writePrivate(file: string, text: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text, { mode: 0o600 });
  fs.chmodSync(tmp, 0o600);
  fs.renameSync(tmp, file);
}

function configText(o: {
  addr: string;
  dataDir: string;
  htpasswd: string;
  certFile: string;
  keyFile: string;
  secret: string;
  readOnly: boolean;
}): string {
  // JSON is YAML: no quoting surprises in paths.
  const q = (s: string) => JSON.stringify(s);
  return [
    '# Written by slipway-server at each start (server/images/registry-process.ts); edits are lost.',
    'version: 0.1',
    'log: { level: info, formatter: text, accesslog: { disabled: false } }',
    'storage:',
    `  filesystem: { rootdirectory: ${q(o.dataDir)} }`,
    '  delete: { enabled: true }',
    '  cache: { blobdescriptor: inmemory }',
    '  maintenance:',
    '    uploadpurging: { enabled: true, age: 24h, interval: 6h, dryrun: false }',
    `    readonly: { enabled: ${o.readOnly} }`,
    'http:',
    `  addr: ${q(o.addr)}`,
    `  secret: ${q(o.secret)}`,
    // A restart (GC's read-only window, a server stop) lets pulls in flight finish.
    '  draintimeout: 10s',
    `  tls: { certificate: ${q(o.certFile)}, key: ${q(o.keyFile)} }`,
    '  headers: { X-Content-Type-Options: [nosniff] }',
    `auth: { htpasswd: { realm: slipway-registry, path: ${q(o.htpasswd)} } }`,
    '',
  ].join('\n');
}

/** Whether PID is a docker-registry serving our config (a leftover of a killed server). */
function isOurRegistry(pid: number, configFile: string): boolean {
  try {
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return argv.some((a) => a.endsWith('docker-registry')) && argv.includes(configFile);
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function stopPid(pid: number, isAlive: () => boolean): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  for (let i = 0; i < 100 && isAlive(); i++) await sleep(50);
  if (isAlive()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
    for (let i = 0; i < 40 && isAlive(); i++) await sleep(50);
  }
}

function portInUse(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.setTimeout(1000);
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('timeout', () => (s.destroy(), resolve(false)));
    s.once('error', () => resolve(false));
  });
}

/** host and port of host:port ([v6]:port); 0.0.0.0 / [::] are dialled on loopback. */
export function dialAddress(addr: string): { host: string; port: number } {
  const i = addr.lastIndexOf(':');
  let host = addr.slice(0, i).replace(/^\[|\]$/g, '');
  if (host === '0.0.0.0') host = '127.0.0.1';
  if (host === '::') host = '::1';
  return { host, port: Number(addr.slice(i + 1)) };
}

export async function createRegistryProcess(opts: {
  paths: HomePaths;
  config: PlatformRegistryConfig;
  cert: { certFile: string; keyFile: string };
  /** Resolves when /v2/ answers (the client's probe); rejects otherwise. */
  probe: () => Promise<boolean>;
}): Promise<RegistryProcess> {
  const files = registryFiles(opts.paths);
  fs.mkdirSync(files.dataDir, { recursive: true, mode: 0o700 });
  fs.chmodSync(opts.paths.registry, 0o700);
  const credentials = await ensureCredentials(files);
  const secret = randomBytes(32).toString('hex');
  let child: ChildProcess | undefined;
  let stopping = false;
  let restarts = 0;
  let restartTimer: NodeJS.Timeout | undefined;

  const writeConfig = (readOnly: boolean) =>
    writePrivate(
      files.configFile,
      configText({
        addr: opts.config.addr,
        dataDir: files.dataDir,
        htpasswd: files.htpasswd,
        certFile: opts.cert.certFile,
        keyFile: opts.cert.keyFile,
        secret,
        readOnly,
      }),
    );

  /**
   * A registry left by a server that was killed is stopped: found by its command line, which
   * names this installation's config file (the pid file may be stale or gone). Nothing else is.
   */
  async function stopLeftover(): Promise<void> {
    const pids = fs
      .readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .map(Number)
      .filter((pid) => pid !== child?.pid && isOurRegistry(pid, files.configFile));
    for (const pid of pids) {
      logger.warn(`stopping a leftover registry process ${pid} (from an earlier server run)`);
      await stopPid(pid, () => isOurRegistry(pid, files.configFile));
    }
    fs.rmSync(files.pidFile, { force: true });
  }

  function spawnChild(): ChildProcess {
    if (fs.existsSync(files.logFile) && fs.statSync(files.logFile).size > 20 * 1024 * 1024)
      fs.renameSync(files.logFile, `${files.logFile}.1`);
    const out = fs.openSync(files.logFile, 'a', 0o640);
    const c = spawn(REGISTRY_BINARY, ['serve', files.configFile], {
      stdio: ['ignore', out, out],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    });
    fs.closeSync(out);
    c.once('error', (err) => logger.error(`platform registry: ${err.message}`));
    fs.writeFileSync(files.pidFile, String(c.pid ?? ''));
    c.once('exit', (code, signal) => {
      if (child !== c) return;
      child = undefined;
      if (stopping) return;
      // Supervised: back off 1 s, 2 s, ... 30 s; the log says why it stopped.
      const delay = Math.min(30_000, 1000 * 2 ** Math.min(restarts++, 5));
      logger.error(
        `platform registry exited (${signal ?? `code ${code}`}); restarting in ${delay / 1000} s (see ${files.logFile})`,
      );
      restartTimer = setTimeout(restart, delay);
    });
    return c;
  }

  /** The supervisor's restart: a failed start (its port still taken) is tried again, backing off. */
  function restart(): void {
    if (stopping) return;
    start().catch((err: Error) => {
      const delay = Math.min(30_000, 1000 * 2 ** Math.min(restarts++, 5));
      logger.error(`platform registry could not start: ${err.message}; trying again in ${delay / 1000} s`);
      if (!stopping) restartTimer = setTimeout(restart, delay);
    });
  }

  async function stopChild(): Promise<void> {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGTERM');
    const t = setTimeout(() => c.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(t);
  }

  async function start(o: { readOnly?: boolean } = {}): Promise<void> {
    clearTimeout(restartTimer);
    stopping = false;
    await stopChild();
    await stopLeftover();
    const { host, port } = dialAddress(opts.config.addr);
    for (let i = 0; i < 40 && (await portInUse(host, port)); i++) await sleep(100);
    if (await portInUse(host, port)) {
      throw new SlipwayError(
        'CONFIG_INVALID',
        `the registry address ${opts.config.addr} is in use by another process`,
        {
          hint: "stop it (Debian's own service: systemctl disable --now docker-registry) or set SLIPWAY_REGISTRY_ADDR",
        },
      );
    }
    writeConfig(o.readOnly === true);
    const c = (child = spawnChild());
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (c.exitCode !== null || c.signalCode !== null || child !== c)
        throw new SlipwayError('INTERNAL', `the platform registry exited while starting (see ${files.logFile})`, {
          hint: `check ${files.logFile}; is ${REGISTRY_BINARY} installed (apt-get install docker-registry)?`,
        });
      if (await opts.probe().catch(() => false)) break;
      if (Date.now() > deadline)
        throw new SlipwayError('TIMEOUT', `the platform registry did not answer on ${opts.config.addr} within 20 s`, {
          hint: `see ${files.logFile}`,
        });
      await sleep(100);
    }
    restarts = 0;
  }

  return {
    start,
    async stop() {
      stopping = true;
      clearTimeout(restartTimer);
      await stopChild();
      fs.rmSync(files.pidFile, { force: true });
    },
    async garbageCollect() {
      const r = await run(REGISTRY_BINARY, ['garbage-collect', files.configFile], {
        timeout: 30 * 60_000,
        maxBuffer: 64 * 1024 * 1024,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      });
      return { output: `${r.stdout}${r.stderr}` };
    },
    credentials,
    configFile: files.configFile,
    dataDir: files.dataDir,
    logFile: files.logFile,
  };
}
