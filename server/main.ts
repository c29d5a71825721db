import * as fs from 'node:fs';
import * as path from 'node:path';
import { createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { ensurePlatformCertificate } from '../common/platform-cert';
import { createDockerClient } from './runtime/docker/client';
import { loadConfig, homePaths } from '../common/config';
import { createLogger, setLogLevel } from '../common/logger';
import { onShutdown } from '../common/shutdown';
import { openState } from './state';
import { createHttpApp } from './http-app';
import { createLogHub } from './logs/hub';
import { openImageStore } from '../buildpacks/oci/layout';
import type * as PoolModule from '../buildpacks/lifecycle/pool';
import { createBuildQueue } from './builds/queue';
import { createGitService, createAppRepository, removeAppRepository } from './git';
import { createBuildsRoutes } from './api/builds';
import { purgeBuildCache } from './builds/cache';
import { createDockerDriver, createRuntime, createSwarmDriver } from './runtime';
import { createCluster } from './runtime/swarm/cluster';
import { installFirewall } from './runtime/docker/firewall';
import { createReleaseService } from './releases';
import { createRoutesPublisher } from './routes/publish';
import { createDeployPipeline } from './deploys/pipeline';
import { createAppDestroyer } from './apps/destroy';
import { createStackService } from './images/stacks';
import { createStackUpdateSchedule } from './images/stack-check';
import { createConfigVarsService } from './apps/config-vars';
import { createBuildpacksBuilder } from './deploys/builders/buildpacks';
import { createDockerfileBuilder } from './deploys/builders/dockerfile';
import { createDeploysRoutes } from './api/deploys';
import { ensureImageInDocker } from './images/pull';
import { newRegistryToken } from './images/registry-auth';
import { collectStoreGarbage } from './images/gc';
import { createPlatformRegistry, pushSummary } from './images/platform-registry';
import { createChallengeStore } from './acme/challenges';
import { createAcmeIssuer } from './acme/issuer';
import { createAcmeManager } from './acme/manager';
import { recordAs } from './api/context';
import { createAuthBackoff } from './auth/backoff';
import { createStackProvider } from '../stacks/on-demand';
import { createAddons } from './addons';
import { createMetrics } from './metrics';
import { createMetricsRepo } from './state/repos/metrics';

/**
 * slipway-server: the composition root. It reads the config once, opens the state, builds each
 * service with its dependencies passed in, and starts listening. No logic lives here.
 */
const log = createLogger('slipway-server');

async function main(): Promise<void> {
  const config = loadConfig();
  setLogLevel(config.logLevel);
  const paths = homePaths(config.home);
  for (const dir of [paths.repos, paths.images, paths.caches, paths.builds, paths.logs, paths.run, paths.certsDir]) {
    fs.mkdirSync(dir, { recursive: true });
  }
  const state = openState({ dbFile: paths.db, keyFile: paths.keyFile });
  const docker = createDockerClient();
  // App metrics from the router lines the log hub already reads, and dyno samples from Docker.
  const metrics = createMetrics({
    repo: createMetricsRepo(state.db),
    appId: (n) => state.apps.get(n)?.id,
    docker,
    settings: config.metrics,
  });
  const logs = createLogHub({ paths, onRouterLine: config.metrics.enabled ? metrics.recordRouterLine : undefined });

  const store = openImageStore(paths.images);
  // Before any dyno or build starts: keep containers off the host's ports and cloud metadata.
  if (config.firewall)
    await installFirewall({
      routerPorts: [config.httpPort, config.httpsPort],
      // Swarm: tasks on overlay networks reach the host and beyond through docker_gwbridge.
      extraBridges: config.runtime === 'swarm' ? ['docker_gwbridge'] : [],
      log: (l) => log.warn(l.replace(/^slipway-server: /, '')),
    });
  else
    log.warn(
      "warning: SLIPWAY_FIREWALL=off: dynos and builds can reach 169.254.0.0/16 and the host's public ports (docs/security.md)",
    );
  // Only this process and dockerd (per pull) ever hold it; a restart makes a new one.
  const registryToken = newRegistryToken();
  // The platform registry (multi-node): a supervised docker-registry child with the platform
  // certificate; every release's image is pushed to it before its rollout (docs/scale-out.md).
  const platformRegistry = config.platformRegistry
    ? await createPlatformRegistry({
        paths,
        config: config.platformRegistry,
        store,
        cert: await ensurePlatformCertificate(paths, config.domain),
      })
    : undefined;
  await platformRegistry?.start();
  if (platformRegistry) {
    // A registry that lost its storage is refilled with what runs now (present ones cost a HEAD).
    void (async () => {
      for (const a of state.apps.list()) {
        const rel = a.currentReleaseId ? state.releases.getById(a.currentReleaseId) : undefined;
        if (!rel?.imageRef) continue;
        await platformRegistry
          .pushReleaseImage(a.name, rel.imageRef, { tag: `v${rel.version}` })
          .catch((err: Error) => log.warn(`could not push ${a.name} v${rel.version} to the registry: ${err.message}`));
      }
    })();
  }

  // The runtime hands its healthy web dynos to the publisher after every swap/scale/stop.
  const routes = createRoutesPublisher({
    state,
    paths,
    config,
    httpsOnly: (a) => state.apps.get(a)?.httpsOnly ?? false,
  });
  // SLIPWAY_RUNTIME=swarm: a service per dyno on this manager's swarm (docs/scale-out.md "Swarm").
  const cluster = config.runtime === 'swarm' ? createCluster({ docker, home: config.home }) : undefined;
  await cluster?.assertManager();
  const runtime = createRuntime({
    state,
    paths,
    logs,
    store,
    driver: cluster
      ? createSwarmDriver({
          docker,
          home: config.home,
          caBundle: config.caBundle,
          // Sent with each service so the nodes can pull from the platform registry.
          registryAuth: platformRegistry
            ? () => ({ ...platformRegistry.credentials, serveraddress: platformRegistry.name })
            : undefined,
        })
      : createDockerDriver({
          docker,
          home: config.home,
          caBundle: config.caBundle,
          networkPool: config.networkPool,
        }),
    // On swarm with the platform registry (on by default there), tasks run the registry's
    // reference (REGISTRY/apps/APP@sha256:..., pushed if missing), which every node can pull;
    // otherwise the image this engine pulls from the server's own registry (one node only).
    ensureImage:
      cluster && platformRegistry
        ? (ref) => platformRegistry.ensureImage(ref)
        : (ref) => ensureImageInDocker({ docker, registryHost: config.registryHost, registryToken, store, ref }),
    publishRoutes: (web) => routes.publish(web),
    collectStoreGarbage: async (keepRefs) => {
      const result = await collectStoreGarbage(store, keepRefs);
      // The registry keeps what the store keeps: the manifests of its remaining app tags.
      if (platformRegistry) {
        const keep = new Set((await store.listTags()).map((t) => t.descriptor.digest));
        for (const r of keepRefs) if (r.includes('@')) keep.add(r.split('@')[1]);
        await platformRegistry
          .collectGarbage(keep)
          .catch((err: Error) => log.error(`registry GC failed: ${err.message}`));
      }
      return result;
    },
    options: {
      bootTimeoutMs: config.bootTimeoutMs,
      bootTimeoutMaxMs: config.bootTimeoutMaxMs,
      keepReleases: config.gc.keepReleases,
      gcAfterDeployMs: config.gc.afterDeployMs,
    },
  });
  const releases = createReleaseService({
    state,
    runtime,
    logs,
    limits: config.limits,
    publishImage: platformRegistry
      ? async (r, output) => {
          const pushed = await platformRegistry.pushReleaseImage(r.app, r.imageRef, { tag: `v${r.version}` });
          output(`-----> Pushing image to the registry (${pushSummary(pushed)})`);
        }
      : undefined,
  });
  const addons = createAddons({ config, paths, state, docker, store, releases });

  // Pre-started build containers (buildpacks/lifecycle/pool.ts); slots left by a crash go first
  // (their containers are removed by the start-up sweep).
  const poolDir = path.join(paths.builds, '.pool');
  fs.rmSync(poolDir, { recursive: true, force: true });
  // Made at the first build (an idle server loads none of the lifecycle's modules).
  let buildPool: PoolModule.ContainerPool | undefined;
  const getBuildPool = () =>
    (buildPool ??= (require('../buildpacks/lifecycle/pool') as typeof PoolModule).createContainerPool({
      docker,
      dir: poolDir,
      caBundle: config.caBundle,
      downloadCacheDir: path.join(paths.caches, '.downloads'),
      labels: { 'io.slipway.managed': 'true', 'io.slipway.home': config.home },
      size: config.buildPool,
      onError: (err) => console.error(`slipway-server: could not pre-start a build container: ${err.message}`),
    }));
  const builds = createDeployPipeline({
    state,
    paths,
    config,
    docker,
    logs,
    store,
    releases,
    queue: createBuildQueue({ concurrency: config.buildConcurrency, maxWaitMs: config.buildQueueWaitMs }),
    // A Dockerfile (when nothing asks for buildpacks) first; buildpacks build everything else.
    builders: [
      createDockerfileBuilder({ docker, store }),
      createBuildpacksBuilder({
        docker,
        store,
        caBundle: config.caBundle,
        buildpackFetchAllow: config.buildpackFetchAllow,
        buildpackAliases: config.buildpackAliases,
        layerCompression: config.layerCompression,
        downloadCacheDir: path.join(paths.caches, '.downloads'),
        pool: getBuildPool,
      }),
    ],
    stacks: createStackProvider({ store, docker, stacksDir: paths.stacks, stackCache: config.stackCache }),
  });
  // One back-off for the API and the git endpoint: guessing through either counts for both.
  const authBackoff = createAuthBackoff({
    limit: config.api.authFailureLimit,
    windowMs: config.api.authFailureWindowMs,
  });
  const git = createGitService({ state, paths, builds, authBackoff, limits: config.limits });
  await git.start();

  // Automatic certificates: HTTP-01 challenges go to the router through run/acme-challenges.json.
  const routerHost = config.bindHost === '0.0.0.0' || config.bindHost === '::' ? '127.0.0.1' : config.bindHost;
  const challenges = createChallengeStore({
    file: paths.challengesFile,
    routerHttpUrl: `http://${routerHost.includes(':') ? `[${routerHost}]` : routerHost}:${config.httpPort}`,
  });
  const acme = createAcmeManager({
    state,
    config: config.acme,
    issuer: config.acme ? createAcmeIssuer({ config: config.acme, repo: state.acme, challenges }) : null,
    publishRoutes: () => routes.publish(),
    event: (e) =>
      recordAs({ state, logs }, 'slipway', {
        app: state.apps.getById(e.appId) ?? null,
        appName: e.appName,
        action: e.action,
        message: e.message,
        data: e.data,
      }),
  });

  const stacks = createStackService({
    state,
    store,
    docker,
    paths,
    config,
    releases,
    event: (actor, e) => recordAs({ state, logs }, actor, e),
  });
  // SLIPWAY_STACK_UPDATE_CHECK=daily (server/images/stack-check.ts).
  const stackSchedule = createStackUpdateSchedule({
    config,
    run: (o) => stacks.checkNow({ ...o, actor: null }),
  });

  const destroyApp = createAppDestroyer({
    state,
    routes,
    parts: [
      // Services leave the app's network before the runtime removes it (server/addons/).
      { name: 'addons', removeApp: (a) => addons.service.appDestroyed(a) },
      { name: 'runtime', removeApp: (a) => runtime.destroyApp(a.name) },
      { name: 'builds', removeApp: (a) => builds.removeApp(a) },
      { name: 'git', removeApp: (a) => removeAppRepository(paths, a.name) },
      { name: 'logs', removeApp: (a) => logs.forget(a.name) },
    ],
  });
  const app = createHttpApp({
    config,
    paths,
    state,
    docker,
    logs,
    git,
    registryToken,
    store,
    api: {
      createAppRepository,
      buildsRoutes: createBuildsRoutes({
        state,
        builds,
        rebuild: (a, u) => git.rebuild(a, u),
        purgeCache: (a) => purgeBuildCache({ state, paths }, a),
      }),
      deploysRoutes: createDeploysRoutes({ state, paths, config, docker, store, builds }),
      cancelBuildsOf: (id, by) => builds.cancelByUser(id, by),
      runtime,
      releases,
      publishRoutes: () => routes.publish(),
      acme,
      authBackoff,
      addons,
      destroyApp,
      metrics: config.metrics.enabled ? metrics : undefined,
      stacks,
      cluster,
      configVars: createConfigVarsService({ state, releases }),
    },
  });
  // How often Node checks the header/request timeouts: often enough that they mean what they say.
  const connectionsCheckingInterval = Math.min(30_000, Math.max(250, Math.floor(config.api.headersTimeoutMs / 4)));
  const server = createServer({ connectionsCheckingInterval }, app);
  applyListenerLimits(server, config);
  server.on('upgrade', app.locals.onUpgrade);
  // The same API and git endpoint over HTTPS with the platform certificate (made at install, or
  // here when missing), so `git push` can use https://HOST:SLIPWAY_API_HTTPS_PORT/APP.git.
  const servers = [server];
  if (config.apiHttpsPort) {
    const cert = await ensurePlatformCertificate(paths, config.domain);
    const tls = createHttpsServer(
      { cert: fs.readFileSync(cert.certFile), key: fs.readFileSync(cert.keyFile), connectionsCheckingInterval },
      app,
    );
    applyListenerLimits(tls, config);
    tls.on('upgrade', app.locals.onUpgrade);
    await new Promise<void>((resolve, reject) =>
      tls.once('error', reject).listen(config.apiHttpsPort, config.bindHost, resolve),
    );
    servers.push(tls as unknown as typeof server);
  }
  // HTTP last: /healthz answering means every listener is up.
  await new Promise<void>((resolve) => server.listen(config.apiPort, config.bindHost, resolve));
  // After listening: dyno images are pulled from this server's own registry (/v2/).
  await runtime.start();
  // Services start with the platform (adopted when running) and are supervised from here on.
  await addons.start().catch((err: Error) => console.error(`slipway-server: add-ons could not start: ${err.message}`));
  // Orders due certificates now and checks for renewals daily (server/acme/manager.ts).
  acme.start();
  metrics.start();
  stackSchedule.start();
  console.log(
    `slipway-server listening on http://${config.bindHost}:${config.apiPort}` +
      (config.apiHttpsPort ? ` and https://${config.bindHost}:${config.apiHttpsPort}` : '') +
      ` (home ${config.home})`,
  );

  onShutdown('slipway-server', servers, [
    () => acme.stop(),
    () => metrics.stop(),
    () => stackSchedule.stop(),
    () => git.stop(),
    () => runtime.stop(),
    () => buildPool?.close(),
    () => addons.stop(),
    () => platformRegistry?.stop(),
    () => {
      logs.close();
    },
    () => {
      state.db.close();
    },
  ]);
}

/**
 * Limits against slow and numerous clients on every API/git listener: a client that dribbles its
 * headers (slowloris) is cut off with 408 after headersTimeoutMs, a request body must arrive
 * within requestTimeoutMs, and connections past maxConnections are closed at once. Responses
 * (log streams, `slipway run`, build output) are not limited by these.
 */
function applyListenerLimits(server: import('node:http').Server, config: ReturnType<typeof loadConfig>): void {
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = config.api.headersTimeoutMs;
  server.requestTimeout = config.api.requestTimeoutMs;
  server.maxConnections = config.api.maxConnections;
}

main().catch((err) => {
  console.error(`slipway-server: ${err.message}`);
  if (err.hint) console.error(`hint: ${err.hint}`);
  process.exit(1);
});
