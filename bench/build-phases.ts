#!/usr/bin/env node
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Docker from 'dockerode';
import { build, type BuildResult } from '../buildpacks/lifecycle';
import { createTestHome } from '../test/helpers/home';

/**
 * `node dist/bench/build-phases.js [--iterations N] [--json] [--with-node]`
 * Per-phase timings of a no-change rebuild of small apps (after one cold build), and the
 * platform overhead: everything except the buildpacks' own run time (recorded by the step
 * runner inside the build container). Reference: a bare `docker run --rm` of the build image.
 * Writes bench/results/build-phases.json.
 */
const ROOT = path.resolve(__dirname, '..', '..');
const FIX = path.join(ROOT, 'test', 'fixtures');

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const iterations = Number(argv[argv.indexOf('--iterations') + 1]) || 5;
  const json = argv.includes('--json');
  const home = await createTestHome('bench-phases');
  const docker = new Docker();
  const apps = [
    {
      name: 'procfile',
      sourceDir: path.join(FIX, 'apps', 'lifecycle-procfile'),
      buildpacks: undefined as string[] | undefined,
      note: 'default order (built-in buildpacks), 1 buildpack builds',
    },
    {
      name: 'mixed-4',
      sourceDir: path.join(FIX, 'apps', 'lifecycle-hello'),
      buildpacks: ['cnb-greeter', 'legacy-hello', 'cnb-consumer', 'legacy-second'].map((b) =>
        path.join(FIX, 'buildpacks', b),
      ),
      note: '2 CNB + 2 legacy buildpacks, cache + launch layer reuse',
    },
  ];
  // --with-node: also the reference Express app with the built-in Node.js buildpack (downloads
  // Node.js and npm packages from the npm registry on the cold build).
  if (argv.includes('--with-node')) {
    apps.push({
      name: 'express',
      sourceDir: path.join(ROOT, 'bench', 'apps', 'express'),
      buildpacks: undefined,
      note: 'Express app, built-in Node.js buildpack (npm ci cached)',
    });
  }
  const results: Record<string, unknown> = {};
  try {
    const t0 = Date.now();
    for (let i = 0; i < 3; i++)
      execFileSync('docker', [
        'run',
        '--rm',
        '--label',
        `io.slipway.home=${home.home}`,
        'slipway/bookworm-build:latest',
        'true',
      ]);
    const dockerRunMs = Math.round((Date.now() - t0) / 3);
    results.reference = { docker_run_true_ms: dockerRunMs };
    for (const app of apps) {
      let n = 0;
      const once = (previous?: string): Promise<BuildResult> =>
        build({
          appName: `bench-${app.name}`,
          sourceDir: app.sourceDir,
          workspaceDir: path.join(home.builds, `${app.name}-${n}`),
          cacheDir: path.join(home.caches, app.name),
          store: home.store,
          docker,
          stack: 'bookworm',
          imageRef: `apps/bench-${app.name}:b${n++}`,
          previousImageRef: previous,
          buildpacks: app.buildpacks,
          env: {},
          caBundle: '/etc/ssl/certs/ca-certificates.crt',
          labels: { 'io.slipway.home': home.home },
          output: () => {},
          allowHostPaths: true,
        });
      const cold = await once();
      const runs: BuildResult[] = [];
      let prev = cold.imageRef;
      for (let i = 0; i < iterations; i++) {
        const r = await once(prev);
        if (r.layersWritten !== 0) throw new Error(`no-change rebuild of ${app.name} wrote ${r.layersWritten} layers`);
        runs.push(r);
        prev = r.imageRef;
      }
      const phases = Object.keys(runs[0].phaseTimings);
      const med = Object.fromEntries(phases.map((p) => [p, median(runs.map((r) => r.phaseTimings[p]))]));
      results[app.name] = { note: app.note, cold_ms: cold.phaseTimings.total, rebuild_median_ms: med, iterations };
      if (!json) {
        console.log(
          `${app.name} (${app.note}): cold ${cold.phaseTimings.total} ms; no-change rebuild median of ${iterations}:`,
        );
        console.log('  ' + phases.map((p) => `${p} ${med[p]}`).join(', ') + ' (ms)');
      }
    }
    if (!json) console.log(`reference: docker run --rm build-image true: ${dockerRunMs} ms`);
    const out = {
      suite: 'build-phases',
      date: new Date().toISOString(),
      machine: { cpus: os.cpus().length, load1: os.loadavg()[0], node: process.version },
      results,
    };
    fs.mkdirSync(path.join(ROOT, 'bench', 'results'), { recursive: true });
    fs.writeFileSync(path.join(ROOT, 'bench', 'results', 'build-phases.json'), JSON.stringify(out, null, 2) + '\n');
    if (json) console.log(JSON.stringify(out));
  } finally {
    home.cleanup();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
