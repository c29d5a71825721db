#!/usr/bin/env node
// Assets tsc does not produce, run by `npm run build` after tsc: `node scripts/copy-assets.mjs [OUT]`
// (OUT defaults to dist).
//
// Built-in buildpacks: buildpacks/builtin/<bp>/ is copied to OUT/builtin-buildpacks/<bp>/, the
// directory the lifecycle reads them from. Files several buildpacks need (apt.sh) live once in
// buildpacks/builtin/_shared/ and are copied into each buildpack that declares them in its
// buildpack.toml:
//
//   [metadata.slipway]
//   shared = ["lib/apt.sh"]
//
// A buildpack that keeps its own byte-identical copy of a shared file gets a warning: declare it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const TOML = createRequire(import.meta.url)('@iarna/toml');
const out = path.resolve(root, process.argv[2] ?? 'dist');
const src = path.join(root, 'buildpacks', 'builtin');
const shared = path.join(src, '_shared');
const dest = path.join(out, 'builtin-buildpacks');

const sharedFiles = new Map();
const listShared = (dir, rel = '') => {
  for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const r = path.join(rel, e.name);
    if (e.isDirectory()) listShared(dir, r);
    else
      sharedFiles.set(r, {
        body: fs.readFileSync(path.join(dir, r)),
        mode: fs.statSync(path.join(dir, r)).mode & 0o777,
      });
  }
};
if (fs.existsSync(shared)) listShared(shared);

fs.rmSync(dest, { recursive: true, force: true });
fs.mkdirSync(dest, { recursive: true });
let problems = 0;
for (const e of fs.readdirSync(src, { withFileTypes: true })) {
  if (e.name === '_shared') continue;
  const from = path.join(src, e.name);
  const to = path.join(dest, e.name);
  fs.cpSync(from, to, { recursive: true, verbatimSymlinks: true });
  if (!e.isDirectory()) continue;
  const tomlFile = path.join(from, 'buildpack.toml');
  const declared = fs.existsSync(tomlFile)
    ? (TOML.parse(fs.readFileSync(tomlFile, 'utf8')).metadata?.slipway?.shared ?? [])
    : [];
  for (const rel of declared) {
    const file = sharedFiles.get(path.normalize(rel));
    if (!file) {
      console.error(
        `copy-assets: ${e.name}/buildpack.toml declares shared file ${rel}, which is not in buildpacks/builtin/_shared/`,
      );
      problems++;
      continue;
    }
    fs.mkdirSync(path.dirname(path.join(to, rel)), { recursive: true });
    fs.writeFileSync(path.join(to, rel), file.body, { mode: file.mode });
  }
  for (const [rel, file] of sharedFiles) {
    const own = path.join(from, rel);
    if (!declared.includes(rel) && fs.existsSync(own) && fs.readFileSync(own).equals(file.body)) {
      console.error(
        `copy-assets: warning: ${e.name}/${rel} is a copy of _shared/${rel}; delete it and declare it in buildpack.toml ([metadata.slipway] shared)`,
      );
    }
  }
}
if (problems) process.exit(1);
