'use strict';
// Semver decisions for the Node.js buildpack. bash cannot evaluate npm's ranges, so bin/build runs
// this with whatever node it already has (the cached runtime or a bootstrap download) and the
// `semver` package fetched from the registry (the same code npm uses, so "any range npm accepts").
//
//   node resolve.js SEMVER_DIR node RANGE PACKUMENT   -> newest stable version satisfying RANGE
//   node resolve.js SEMVER_DIR npm RANGE NODE_VERSION PACKUMENT
//                                                      -> newest npm satisfying RANGE whose
//                                                         engines.node accepts NODE_VERSION
// Exit 2: RANGE is not a valid range; exit 3: nothing satisfies it.
const fs = require('fs');

const [semverDir, kind, range, ...rest] = process.argv.slice(2);
const semver = require(semverDir);

if (semver.validRange(range) === null) process.exit(2);
const packument = JSON.parse(fs.readFileSync(rest[rest.length - 1], 'utf8'));
const versions = Object.keys(packument.versions || {}).filter((v) => semver.valid(v) && !semver.prerelease(v));

let candidates = versions;
if (kind === 'npm') {
  const nodeVersion = rest[0];
  candidates = versions.filter((v) => {
    const engines = (packument.versions[v].engines || {}).node;
    return !engines || semver.satisfies(nodeVersion, engines);
  });
}
const best = semver.maxSatisfying(candidates, range);
if (!best) process.exit(3);
process.stdout.write(best + '\n');
