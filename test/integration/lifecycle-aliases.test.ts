import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Docker from 'dockerode';
import { build, type BuildOptions } from '../../buildpacks/lifecycle';
import { createTestHome, tmpDir, type TestHome } from '../helpers/home';

/**
 * Heroku's buildpack names through the real lifecycle: each place an app can name buildpacks
 * (.buildpacks, project.toml, BUILDPACK_URL, the app's list) resolves heroku/procfile to the
 * built-in slipway/procfile with one output line; BUILDPACK_ALIASES=0 and the platform setting
 * turn the mapping off, so the GitHub URL is really fetched (and fails: GitHub is unreachable).
 */
const docker = new Docker();
let home: TestHome;
const dirs: string[] = [];
let n = 0;

before(async () => {
  home = await createTestHome('lcalias');
});
after(() => {
  home?.cleanup();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function app(files: Record<string, string>): string {
  const dir = tmpDir('slipway-alias-');
  dirs.push(dir);
  fs.writeFileSync(path.join(dir, 'Procfile'), 'web: echo aliased $PORT\n');
  for (const [f, c] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), c);
  return dir;
}

function opts(sourceDir: string, over: Partial<BuildOptions> = {}): BuildOptions & { lines: string[] } {
  n++;
  const lines: string[] = [];
  return {
    appName: 'lc-alias',
    sourceDir,
    workspaceDir: path.join(home.builds, `a${n}`),
    cacheDir: path.join(home.caches, `lc-alias-${n}`),
    store: home.store,
    docker,
    stack: 'bookworm',
    imageRef: `apps/lc-alias:a${n}`,
    env: {},
    caBundle: '/etc/ssl/certs/ca-certificates.crt',
    labels: { 'io.slipway.home': home.home },
    output: (l) => lines.push(l),
    lines,
    ...over,
  };
}

const NODE_URL = 'https://github.com/heroku/heroku-buildpack-nodejs.git';
/** The fetcher's refusal or failure for the URL itself: proof it was tried, not mapped (GitHub is unreachable here). */
const fetched = (err: Error) =>
  new RegExp(`(could not fetch buildpack |buildpack URL ")${NODE_URL.replace(/[./]/g, '\\$&')}`).test(err.message);

test('heroku/procfile in .buildpacks, project.toml, BUILDPACK_URL and the app list builds with slipway/procfile and says so once', async () => {
  const cases: Array<[string, Partial<BuildOptions>, Record<string, string>]> = [
    ['.buildpacks', {}, { '.buildpacks': '# Heroku style\nheroku/procfile\n' }],
    [
      'project.toml',
      {},
      { 'project.toml': '[_]\nschema-version = "0.2"\n\n[[io.buildpacks.group]]\nid = "heroku/procfile"\n' },
    ],
    ['BUILDPACK_URL', { env: { BUILDPACK_URL: 'heroku/procfile' } }, {}],
    ["the app's buildpack list", { buildpacks: ['heroku/procfile'] }, {}],
  ];
  for (const [where, over, files] of cases) {
    const o = opts(app(files), over);
    const r = await build(o);
    assert.deepEqual(
      r.buildpacks.map((b) => b.id),
      ['slipway/procfile'],
      where,
    );
    assert.equal(
      o.lines.filter((l) => l === '-----> heroku/procfile is provided by slipway/procfile').length,
      1,
      `${where}:\n${o.lines.join('\n')}`,
    );
    assert.match(r.processTypes.web, /echo aliased \$PORT/, where);
  }
});

test('BUILDPACK_ALIASES=0 (app) and SLIPWAY_BUILDPACK_ALIASES=0 (platform) fetch the Heroku URL itself', async () => {
  const src = app({ '.buildpacks': `${NODE_URL}\n` });
  for (const over of [{ env: { BUILDPACK_ALIASES: '0' } }, { buildpackAliases: false }]) {
    const o = opts(src, over);
    await assert.rejects(build(o), fetched, JSON.stringify(over));
    assert.ok(!o.lines.some((l) => /is provided by/.test(l)), o.lines.join('\n'));
  }
  // With the mapping on, the same URL needs no network at all (nodejs then fails detection: no package.json).
  const o = opts(src);
  await assert.rejects(build(o), (err: Error) => !fetched(err));
  assert.ok(o.lines.includes(`-----> ${NODE_URL} is provided by slipway/nodejs`), o.lines.join('\n'));
});

test('a URL with #ref is fetched as before', async () => {
  const o = opts(app({ '.buildpacks': `${NODE_URL}#v250\n` }));
  await assert.rejects(build(o), fetched);
  assert.ok(!o.lines.some((l) => /is provided by/.test(l)), o.lines.join('\n'));
});
