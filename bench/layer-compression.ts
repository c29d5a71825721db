#!/usr/bin/env node
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { walkDir, writeTar, type TarEntry } from '../buildpacks/lifecycle/tar';

/**
 * `node dist/bench/layer-compression.js DIR [--iterations N]`
 * What storing one layer costs the exporter and dockerd on this machine, per format: the layer is
 * DIR (e.g. a Node.js runtime layer) as the exporter tars it. Per iteration, interleaved:
 * tar + sha256 (what `none` costs in total), + gzip level 1 (Node's zlib, as the store does), +
 * zstd -1 (CLI, for reference), and `docker load` of a one-layer image in each format (a marker
 * file makes each iteration's layer new to dockerd). Prints medians (ms) and sizes as JSON;
 * docs/lifecycle.md "Compression" has the results. zstd layers: docker 20.10 cannot load them.
 */
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const dir = argv[0];
  if (!dir || !fs.statSync(dir).isDirectory()) throw new Error('usage: layer-compression.js DIR [--iterations N]');
  const iterations = Number(argv[argv.indexOf('--iterations') + 1]) || 3;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-layer-bench-'));
  const t: Record<string, number[]> = { tar: [], gzip1: [], zstd1: [], load_none: [], load_gzip: [], load_zstd: [] };
  const sizes: Record<string, number> = {};
  let zstdLoad = '';
  const tag = `slipway-layer-bench:${process.pid}`;
  try {
    for (let i = 0; i < iterations; i++) {
      const marker: TarEntry = {
        path: '/layers/marker',
        type: 'file',
        mode: 0o644,
        uid: 0,
        gid: 0,
        content: Buffer.from(`${process.pid}-${i}-${Date.now()}`),
      };
      const entries = [
        { path: '/layers', type: 'directory' as const, mode: 0o755, uid: 0, gid: 0 },
        marker,
        ...walkDir(dir, '/layers/l', { uid: 1000, gid: 1000 }),
      ];
      const tarFile = path.join(tmp, 'layer.tar');
      let t0 = performance.now();
      const { diffId, size } = await writeTar(entries, tarFile);
      t.tar.push(performance.now() - t0);
      sizes.none = size;
      t0 = performance.now();
      await pipeline(fs.createReadStream(tarFile), createGzip({ level: 1 }), fs.createWriteStream(`${tarFile}.gz`));
      t.gzip1.push(performance.now() - t0);
      sizes.gzip1 = fs.statSync(`${tarFile}.gz`).size;
      t0 = performance.now();
      execFileSync('zstd', ['-1', '-T1', '-q', '-f', tarFile, '-o', `${tarFile}.zst`]);
      t.zstd1.push(performance.now() - t0);
      sizes.zstd1 = fs.statSync(`${tarFile}.zst`).size;
      for (const [fmt, file] of [
        ['none', tarFile],
        ['gzip', `${tarFile}.gz`],
        ['zstd', `${tarFile}.zst`],
      ] as const) {
        const img = path.join(tmp, `img-${fmt}`);
        fs.rmSync(img, { recursive: true, force: true });
        fs.mkdirSync(img);
        fs.linkSync(file, path.join(img, 'layer'));
        const config = {
          architecture: 'amd64',
          os: 'linux',
          config: {},
          rootfs: { type: 'layers', diff_ids: [diffId] },
          history: [{ created_by: `bench ${i} ${fmt}` }],
        };
        fs.writeFileSync(path.join(img, 'config.json'), JSON.stringify(config));
        fs.writeFileSync(
          path.join(img, 'manifest.json'),
          JSON.stringify([{ Config: 'config.json', RepoTags: [`${tag}-${fmt}`], Layers: ['layer'] }]),
        );
        const archive = path.join(tmp, `img-${fmt}.tar`);
        execFileSync('tar', ['-cf', archive, '-C', img, '.']);
        t0 = performance.now();
        const r = spawnSync('docker', ['load', '-q', '-i', archive], { encoding: 'utf8' });
        const ms = performance.now() - t0;
        if (r.status === 0) t[`load_${fmt}`].push(ms);
        else if (fmt === 'zstd') zstdLoad = (r.stderr || r.stdout).trim().split('\n').pop() ?? '';
        else throw new Error(`docker load (${fmt}) failed: ${r.stderr}`);
        spawnSync('docker', ['rmi', '-f', `${tag}-${fmt}`]);
        fs.rmSync(archive, { force: true });
      }
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const out = Object.fromEntries(
    Object.entries(t)
      .filter(([, v]) => v.length)
      .map(([k, v]) => [k, { median: Math.round(median(v)), runs: v.map(Math.round) }]),
  );
  console.log(
    JSON.stringify(
      { dir, iterations, sizes, ms: out, zstd_docker_load: zstdLoad || 'accepted', loadavg: os.loadavg() },
      null,
      2,
    ),
  );
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exit(1);
});
