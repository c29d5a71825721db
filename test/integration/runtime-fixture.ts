import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import Docker from 'dockerode';
import { pack } from 'tar-stream';
import { openImageStore, type ImageStore } from '../../buildpacks/oci/layout';
import type { ImageConfig, LayerRef } from '../../buildpacks/oci/media-types';
import { loadIntoDocker } from '../../stacks/builder';
import { openState, type State } from '../../server/state';
import type { AppJsonRuntime } from '../../server/state/repos/releases';
import type { LogEntry, LogSink } from '../../server/logs/types';
import {
  createDockerDriver,
  createSwarmDriver,
  createRuntime,
  type Runtime,
  type RuntimeOptions,
  type WebBackend,
} from '../../server/runtime';
import { createReleaseService } from '../../server/releases';
import { collectStoreGarbage } from '../../server/images/gc';
import { createTestHome, type TestHome } from '../helpers/home';

/**
 * A runtime over a test home with real Docker, and app images made without the build lifecycle:
 * the stack run image + the host's node binary at /opt/node/bin/node (host and run image are both
 * bookworm) + an app layer with /app/server.js, /cnb/process/<type> scripts and a minimal
 * /cnb/lifecycle/launcher, following the "Process launch" contract in docs/architecture.md.
 */
export const SERVER_JS = `
const http = require('http');
const CODE = process.env.CODE_MARK || '__CODE__';
const server = http.createServer((req, res) => {
  if (req.url === '/env') { res.setHeader('content-type', 'application/json'); return res.end(JSON.stringify(process.env)); }
  if (req.url === '/health') return res.end(process.env.HEALTH_BODY || 'ok');
  res.end(CODE + ' ' + process.env.SLIPWAY_RELEASE + ' ' + process.env.DYNO + '\\n');
});
server.listen(Number(process.env.PORT), () => console.log('listening on ' + process.env.PORT + ' code ' + CODE));
process.on('SIGTERM', () => {
  console.log('SIGTERM: closing');
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1500).unref();
});
`;

const HOMES = process.env.SLIPWAY_TEST_HOMES ?? '/var/tmp/slipway-test-homes';
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The node layer is ~100 MB: written once per machine into a cache store, then hard-linked. */
async function nodeLayer(store: ImageStore): Promise<LayerRef> {
  const cacheRoot = path.join(HOMES, `runtime-node-layer-${process.version}`);
  const cache = openImageStore(cacheRoot);
  const refFile = path.join(cacheRoot, 'layer.json');
  let ref: LayerRef;
  if (fs.existsSync(refFile)) {
    ref = JSON.parse(fs.readFileSync(refFile, 'utf8')) as LayerRef;
  } else {
    const tar = pack();
    const mtime = new Date('1980-01-01T00:00:01Z');
    for (const d of ['opt/', 'opt/node/', 'opt/node/bin/'])
      tar.entry({ name: d, type: 'directory', mode: 0o755, mtime });
    const size = fs.statSync(process.execPath).size;
    const entry = tar.entry({ name: 'opt/node/bin/node', size, mode: 0o755, mtime }, () => tar.finalize());
    fs.createReadStream(process.execPath).pipe(entry);
    ref = await cache.putLayer(Readable.from(tar));
    fs.writeFileSync(refFile, JSON.stringify(ref));
  }
  if (!store.hasBlob(ref.descriptor.digest))
    fs.linkSync(cache.blobPath(ref.descriptor.digest), store.blobPath(ref.descriptor.digest));
  return ref;
}

export interface AppImageSpec {
  /** Marker the web process prints (distinguishes code versions). */
  code?: string;
  /** Process types: type → shell command run in /app. Default web: node server.js. */
  processes?: Record<string, string>;
  releaseCommand?: string;
  appJson?: AppJsonRuntime;
}

export interface RuntimeFixture {
  home: TestHome;
  state: State;
  docker: Docker;
  runtime: Runtime;
  releases: ReturnType<typeof createReleaseService>;
  logs: LogEntry[];
  user: { id: number; email: string };
  /** Calls made to publishRoutes, with a snapshot of each app's backends. */
  publishes: number;
  onPublish: Array<(web: ReadonlyMap<string, WebBackend[]>) => Promise<void> | void>;
  createApp(name?: string): string;
  buildImage(
    app: string,
    spec?: AppImageSpec,
  ): Promise<{ buildId: string; imageRef: string; imageDigest: string; processTypes: Record<string, string> }>;
  deploy(app: string, spec?: AppImageSpec): ReturnType<ReturnType<typeof createReleaseService>['createFromBuild']>;
  /** A second runtime over the same home and state (a "server restart"). */
  newRuntime(): Runtime;
  /** Makes rt the fixture's runtime (and the releases service's). */
  use(rt: Runtime): void;
  logText(app: string): string;
  cleanup(): Promise<void>;
}

export const uniqueApp = (prefix: string) => `${prefix}-${randomBytes(3).toString('hex')}`;

/** Which ContainerDriver the fixture's runtimes use (the shared suite runs once per driver). */
export type DriverKind = 'docker' | 'swarm';

export async function createRuntimeFixture(
  prefix: string,
  options: Partial<RuntimeOptions> = {},
  storeGc = false,
  driverKind: DriverKind = 'docker',
): Promise<RuntimeFixture> {
  const home = await createTestHome(prefix);
  const state = openState({ dbFile: home.db, keyFile: home.keyFile });
  const docker = new Docker();
  const logs: LogEntry[] = [];
  const apps: string[] = [];
  const runtimes: Runtime[] = [];
  const user = state.users.create(`${prefix}-${randomBytes(3).toString('hex')}@example.com`);
  const opts: Partial<RuntimeOptions> = {
    bootTimeoutMs: 20_000, // generous: the machine is shared and often loaded
    drainGraceMs: 2000,
    routeSettleMs: 300,
    reconcileIntervalMs: 2000,
    backoff: { baseMs: 500, capMs: 4000, resetAfterMs: 60_000 },
    gcAfterDeployMs: 0,
    ...options,
  };
  const loaded = new Map<string, string>();
  const sink: LogSink = {
    write: (app, e) => logs.push({ time: new Date().toISOString(), app, source: e.source, dyno: e.dyno, line: e.line }),
  };

  const fx = {} as RuntimeFixture;
  const makeRuntime = () => {
    const rt = createRuntime({
      state,
      driver:
        driverKind === 'swarm'
          ? createSwarmDriver({
              docker,
              home: home.home,
              caBundle: '/etc/ssl/certs/ca-certificates.crt',
              stopGraceMs: opts.drainGraceMs,
            })
          : createDockerDriver({ docker, home: home.home, caBundle: '/etc/ssl/certs/ca-certificates.crt' }),
      paths: home,
      store: home.store,
      logs: sink,
      async ensureImage(ref) {
        const hit = loaded.get(ref);
        if (
          hit &&
          (await docker
            .getImage(hit)
            .inspect()
            .then(
              () => true,
              () => false,
            ))
        )
          return hit;
        const d = await home.store.resolve(ref);
        if (!d) throw new Error(`no image ${ref} in the store`);
        // Named like production pulls (REGISTRY/apps/APP@...): the repository proves the app.
        const name = `slipway-test-registry/${ref}`;
        await loadIntoDocker(docker, home.store, d.digest, [name]);
        loaded.set(ref, name);
        return name;
      },
      async publishRoutes(web) {
        fx.publishes++;
        for (const f of fx.onPublish) await f(web);
      },
      // Without storeGc the store keeps everything (tests that count blobs or tags of their own).
      collectStoreGarbage: storeGc
        ? (keep) => collectStoreGarbage(home.store, keep, { graceMs: 0 })
        : async () => undefined,
      options: opts,
    });
    runtimes.push(rt);
    return rt;
  };

  const runRef = await home.store.resolve('stacks/bookworm-run:latest');
  if (!runRef) throw new Error('the test home has no run image');
  const runManifest = await home.store.readManifest(runRef.digest);
  const runConfig = await home.store.readJson<ImageConfig>(runManifest.config.digest);

  Object.assign(fx, {
    home,
    state,
    docker,
    logs,
    user: { id: user.id, email: user.email },
    publishes: 0,
    onPublish: [],
    createApp(name = uniqueApp(prefix)) {
      state.apps.create({ name, ownerId: user.id, stack: 'bookworm' });
      apps.push(name);
      return name;
    },
    async buildImage(app: string, spec: AppImageSpec = {}) {
      const processes = spec.processes ?? { web: 'exec node server.js' };
      const tar = pack();
      const mtime = new Date('1980-01-01T00:00:01Z');
      const file = (name: string, body: string, mode = 0o755, uid = 0) =>
        tar.entry({ name, mode, mtime, uid, gid: uid }, body);
      for (const d of ['cnb/', 'cnb/process/', 'cnb/lifecycle/'])
        tar.entry({ name: d, type: 'directory', mode: 0o755, mtime });
      tar.entry({ name: 'app/', type: 'directory', mode: 0o755, mtime, uid: 1000, gid: 1000 });
      file('app/server.js', SERVER_JS.replace('__CODE__', spec.code ?? 'code-1'), 0o644, 1000);
      for (const [type, cmd] of Object.entries(processes))
        file(`cnb/process/${type}`, `#!/bin/bash\ncd /app\nexec bash -c ${q(cmd)}\n`);
      file('cnb/lifecycle/launcher', '#!/bin/bash\ncd /app\nexec bash -c "$1"\n');
      tar.finalize();
      const appLayer = await home.store.putLayer(Readable.from(tar));
      const base = runManifest.layers.map((descriptor, i) => ({ descriptor, diffId: runConfig.rootfs.diff_ids[i] }));
      const env = (runConfig.config.Env ?? []).map((e) =>
        e.startsWith('PATH=') ? `PATH=/opt/node/bin:${e.slice(5)}` : e,
      );
      const config: ImageConfig = {
        architecture: 'amd64',
        os: 'linux',
        config: {
          ...runConfig.config,
          Env: env,
          Entrypoint: ['/cnb/process/web'],
          Cmd: [],
          Labels: { ...runConfig.config.Labels, 'io.slipway.managed': 'true', 'io.slipway.app': app },
        },
        rootfs: { type: 'layers', diff_ids: [] },
      };
      const written = await home.store.writeImage(config, [...base, await nodeLayer(home.store), appLayer]);
      const buildId = `b-${randomBytes(6).toString('hex')}`;
      state.builds.create({
        id: buildId,
        appId: state.apps.require(app).id,
        sourceVersion: null,
        userId: user.id,
        logPath: '/dev/null',
      });
      const imageRef = `apps/${app}:${buildId}`;
      await home.store.tag(imageRef, written.manifest);
      state.builds.finish(buildId, { status: 'succeeded', imageDigest: written.manifest.digest });
      return { buildId, imageRef, imageDigest: written.manifest.digest, processTypes: processes };
    },
    async deploy(app: string, spec: AppImageSpec = {}) {
      const img = await fx.buildImage(app, spec);
      return fx.releases.createFromBuild({
        appName: app,
        ...img,
        releaseCommand: spec.releaseCommand,
        appJson: spec.appJson,
        user: fx.user,
      });
    },
    newRuntime: makeRuntime,
    use(rt: Runtime) {
      fx.runtime = rt;
      fx.releases = createReleaseService({ state, runtime: rt, logs: sink });
    },
    logText(app: string) {
      return logs
        .filter((l) => l.app === app)
        .map((l) => `${l.source}[${l.dyno}]: ${l.line}`)
        .join('\n');
    },
    async cleanup() {
      for (const rt of runtimes) await rt.stop().catch(() => {});
      // Swarm driver: the services first (their tasks' containers go with them).
      if (driverKind === 'swarm') {
        const services = await docker
          .listServices({ filters: { label: [`io.slipway.home=${home.home}`] } })
          .catch(() => []);
        for (const s of services)
          await docker
            .getService(s.ID)
            .remove()
            .catch(() => {});
        const deadline = Date.now() + 20_000;
        while (
          Date.now() < deadline &&
          (await docker.listContainers({ all: true, filters: { label: [`io.slipway.home=${home.home}`] } })).length > 0
        )
          await new Promise((r) => setTimeout(r, 250));
      }
      // Everything this test home made, by label: containers, then the apps' images.
      const containers = await docker.listContainers({
        all: true,
        filters: { label: [`io.slipway.home=${home.home}`] },
      });
      for (const c of containers)
        await docker
          .getContainer(c.Id)
          .remove({ force: true })
          .catch(() => {});
      // The apps' networks (one per app, made by the driver), once their containers are gone.
      for (const n of await docker.listNetworks({ filters: { label: [`io.slipway.home=${home.home}`] } }))
        await docker
          .getNetwork(n.Id)
          .remove()
          .catch(() => {});
      for (const app of apps) {
        const byLabel = await docker.listImages({
          filters: { label: ['io.slipway.managed=true', `io.slipway.app=${app}`] },
        });
        const byName = await docker.listImages({ filters: { reference: [`slipway-test-registry/apps/${app}`] } });
        for (const i of [...byLabel, ...byName])
          await docker
            .getImage(i.Id)
            .remove({ force: true })
            .catch(() => {});
      }
      state.db.close();
      home.cleanup();
    },
  });
  fx.use(makeRuntime());
  return fx;
}

export { sleep, waitFor } from '../helpers/wait';
