import * as fs from 'node:fs';
import * as path from 'node:path';
import type { SuiteContext } from '../suites';
import { openImageStore } from '../../buildpacks/oci/layout';
import { ratio, summarize } from '../lib/stats';
import { EXPRESS_DIR, TINY_DIR, editOneLine, get, loadavg, startBenchPlatform, waitForNew200 } from '../lib/platform';
import { freePort } from '../../test/helpers/server';

/**
 * `registry-push` (issue 23): what moves into the platform registry (SLIPWAY_REGISTRY=on,
 * Debian's docker-registry on loopback) when an app is pushed, read from the registry's own
 * access log (log/registry.log: the completed blob uploads and manifest PUTs) with each blob's
 * size from the store. Cold: a new app (an empty registry repository; the run image moves once
 * per registry, later apps mount it). One-line change: the goal is the changed layer plus config
 * and manifest. Also push-to-live warm (git push → first 200 of the new release) with the
 * registry on against a second platform with it off, same run: the push's cost in the deploy.
 * Full mode: the Express reference app; quick mode: the tiny perl app.
 */
type Rel = { version: number; current: boolean; imageDigest: string };

export async function runRegistryPushSuite(ctx: SuiteContext): Promise<Record<string, unknown>> {
  const src = ctx.quick ? TINY_DIR : EXPRESS_DIR;
  const regPort = await freePort();
  // No image GC during the suite: the apps of earlier iterations stay in the registry, so the
  // first cold push fills a fresh registry and later ones mount the run image from them.
  const noGc = { SLIPWAY_GC_AFTER_DEPLOY_S: '86400' };
  const on = await startBenchPlatform({
    env: { ...noGc, SLIPWAY_REGISTRY: 'on', SLIPWAY_REGISTRY_ADDR: `127.0.0.1:${regPort}` },
  });
  const off = await startBenchPlatform({ env: noGc });
  const store = openImageStore(on.server.paths.images);
  const logFile = path.join(on.server.paths.logs, 'registry.log');
  const since = (from: number) => {
    const text = fs.readFileSync(logFile).subarray(from).toString('utf8');
    const uploads: string[] = [];
    let manifests = 0;
    for (const m of text.matchAll(/"(PUT) (\S+) HTTP\/[\d.]+" 201 /g)) {
      const uri = decodeURIComponent(m[2]);
      const d = /\/blobs\/uploads\/.*digest=(sha256:[a-f0-9]{64})/.exec(uri);
      if (d) uploads.push(d[1]);
      else if (uri.includes('/manifests/')) manifests++;
    }
    return { uploads, manifests };
  };
  const current = async (app: string) =>
    (await on.api<Rel[]>('GET', `/apps/${app}/releases`)).find((r) => r.current)!.imageDigest;
  const sizes = async (digest: string) => {
    const m = await store.readManifest(digest);
    const bytes = new Map([...m.layers, m.config].map((d) => [d.digest, d.size]));
    return { m, bytes, manifestBytes: fs.statSync(store.blobPath(digest)).size };
  };

  const cold: number[] = [];
  const warmBytes: number[] = [];
  const warmOn: number[] = [];
  const warmOff: number[] = [];
  const load: number[] = [];
  let detail: Record<string, unknown> = {};
  try {
    for (let i = 0; i < ctx.iterations; i++) {
      const app = `bench-reg-${i}-${process.pid % 10000}`;
      load.push(loadavg());
      const repos = { on: '', off: '' };
      for (const [k, p] of [
        ['on', on],
        ['off', off],
      ] as const) {
        await p.createApp(app);
        repos[k] = await p.initRepo(app, src);
      }
      let from = fs.statSync(logFile).size;
      await on.push(repos.on, app);
      await off.push(repos.off, app);
      const d1 = await current(app);
      const s1 = await sizes(d1);
      const c = since(from);
      cold.push(c.uploads.reduce((n, d) => n + (s1.bytes.get(d) ?? 0), 0) + s1.manifestBytes);
      await waitForNew200(on.server.httpPort, on.host(app), undefined, 5 * 60_000);
      await waitForNew200(off.server.httpPort, off.host(app), undefined, 5 * 60_000);

      for (const [k, p, times] of [
        ['on', on, warmOn],
        ['off', off, warmOff],
      ] as const) {
        editOneLine(repos[k], i + 1);
        await p.commitAll(repos[k], `edit ${i + 1}`);
        const before = (await get(p.server.httpPort, p.host(app))).body;
        from = fs.statSync(logFile).size;
        const t = Date.now();
        await p.push(repos[k], app);
        await waitForNew200(p.server.httpPort, p.host(app), before, 5 * 60_000);
        times.push(Date.now() - t);
        if (k !== 'on') continue;
        const d2 = await current(app);
        const s2 = await sizes(d2);
        const w = since(from);
        const moved = w.uploads.reduce((n, d) => n + (s2.bytes.get(d) ?? 0), 0) + s2.manifestBytes;
        warmBytes.push(moved);
        const changed = s2.m.layers.filter((l) => !s1.bytes.has(l.digest));
        const layersUploaded = w.uploads.filter((d) => d !== s2.m.config.digest);
        detail = {
          image_bytes: [...s2.bytes.values()].reduce((a, b) => a + b, 0),
          layers: s2.m.layers.length,
          layers_changed: changed.length,
          layers_uploaded: layersUploaded.length,
          changed_layer_bytes: changed.reduce((n, l) => n + l.size, 0),
          config_bytes: s2.m.config.size,
          manifest_bytes: s2.manifestBytes,
          manifest_puts: w.manifests,
          only_changed_layer_config_manifest:
            layersUploaded.length === changed.length &&
            changed.every((l) => layersUploaded.includes(l.digest)) &&
            w.uploads.includes(s2.m.config.digest),
        };
      }
      ctx.log(
        `iteration ${i + 1}: cold ${cold[i]} B, one-line change ${warmBytes[i]} B into the registry (${JSON.stringify(detail)}); warm push-to-live ${warmOn[i]} ms (registry on) vs ${warmOff[i]} ms (off)`,
      );
      await on.api('DELETE', `/apps/${app}`).catch(() => undefined);
      await off.api('DELETE', `/apps/${app}`).catch(() => undefined);
    }
  } finally {
    await on.stop();
    await off.stop();
  }
  const warm = { registry_on_ms: summarize(warmOn), registry_off_ms: summarize(warmOff) };
  return {
    app: ctx.quick ? 'bench/apps/tiny' : 'bench/apps/express',
    // [0]: a fresh registry (the run image is uploaded); then: the run image mounted from earlier apps.
    cold_bytes_into_registry: cold,
    one_line_change_bytes_into_registry: summarize(warmBytes),
    one_line_change: detail,
    warm,
    warm_registry_ratio: ratio(warm.registry_on_ms.median, warm.registry_off_ms.median),
    loadavg_1m: load,
  };
}
