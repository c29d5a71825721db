import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildGroup,
  createWorkspace,
  detect,
  layerDigest,
  listLayers,
  prepareNextBuild,
  runCommand,
  writeAppFile,
} from '../helpers/run-buildpack';

// The Aptfile buildpack: Debian packages into a layer without root, used at launch in the run image.

test('Aptfile packages (by name with dependencies, and a .deb URL) run in the app at launch', async (t) => {
  const ws = createWorkspace('aptfile');
  try {
    assert.equal((await detect(ws, 'apt')).code, 0);
    const b = await buildGroup(ws, ['apt', 'procfile']);
    assert.equal(b.code, 0, b.output);
    t.diagnostic(`apt cold build ${b.ms} ms`);
    assert.match(b.output, /Installing jq /);
    assert.match(
      b.output,
      /Installing libonig5 /,
      'a dependency the run image lacks (the build image has it) is installed too',
    );
    assert.match(b.output, /Installing tree 2\.1\.0-1/);
    assert.deepEqual(listLayers(ws, 'apt').packages, { launch: true, build: true, cache: true });

    // The run image has neither jq nor tree nor libonig.
    const r = await runCommand(
      ws,
      ['apt', 'procfile'],
      ['bash', '-c', 'echo \'{"answer": 42}\' | jq .answer && tree --version && command -v jq'],
    );
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /^42\ntree v2\.1\.0/);
    assert.match(r.output, /\/layers\/slipway_apt\/packages\/usr\/bin\/jq/);
    const bare = await runCommand(ws, [], ['bash', '-c', 'command -v jq || echo none']);
    assert.equal(bare.output.trim(), 'none', 'jq comes from the layer, not the run image');

    const digest = layerDigest(ws, 'apt', 'packages');
    prepareNextBuild(ws);
    const warm = await buildGroup(ws, ['apt', 'procfile']);
    assert.equal(warm.code, 0, warm.output);
    t.diagnostic(`apt warm build ${warm.ms} ms`);
    assert.match(warm.output, /Reusing the packages: Aptfile unchanged/);
    assert.equal(layerDigest(ws, 'apt', 'packages'), digest);

    prepareNextBuild(ws);
    writeAppFile(ws, 'Aptfile', 'jq\nno_such_package!\n');
    const bad = await buildGroup(ws, ['apt', 'procfile']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.output, /Aptfile line 2 is not a Debian package name or a \.deb URL: no_such_package!/);
  } finally {
    ws.cleanup();
  }
});
