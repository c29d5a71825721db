import { test } from 'node:test';
import assert from 'node:assert/strict';
import { aliasTarget, aliasesEnabled, resolveAliases } from '../../buildpacks/lifecycle/aliases';
import type { BuildpackIndex } from '../../buildpacks/lifecycle/buildpacks';

// Heroku's buildpack names and the URL forms that resolve to the built-in buildpacks, and the ones
// that must keep being fetched (buildpacks/lifecycle/aliases.ts).

test('Heroku shorthands map to the slipway buildpacks', () => {
  for (const lang of ['nodejs', 'python', 'go', 'ruby', 'php', 'java', 'procfile'])
    assert.equal(aliasTarget(`heroku/${lang}`), `slipway/${lang}`);
  assert.equal(aliasTarget('heroku/scala'), undefined);
  assert.equal(aliasTarget('slipway/nodejs'), undefined);
});

test('GitHub URLs of heroku-buildpack-* map with or without .git, http(s), trailing slash; #ref and other URLs do not', () => {
  for (const url of [
    'https://github.com/heroku/heroku-buildpack-nodejs',
    'https://github.com/heroku/heroku-buildpack-nodejs.git',
    'http://github.com/heroku/heroku-buildpack-nodejs/',
    'https://github.com/heroku/heroku-buildpack-nodejs.git/',
    'https://www.github.com/Heroku/heroku-buildpack-nodejs',
    'git://github.com/heroku/heroku-buildpack-nodejs.git',
  ]) {
    assert.equal(aliasTarget(url), 'slipway/nodejs', url);
  }
  assert.equal(aliasTarget('https://github.com/heroku/heroku-buildpack-ruby'), 'slipway/ruby');
  assert.equal(aliasTarget('https://github.com/heroku/heroku-buildpack-php.git'), 'slipway/php');
  assert.equal(aliasTarget('https://github.com/heroku/heroku-buildpack-java'), 'slipway/java');
  assert.equal(aliasTarget('https://github.com/heroku/heroku-buildpack-python'), 'slipway/python');
  assert.equal(aliasTarget('https://github.com/heroku/heroku-buildpack-go'), 'slipway/go');
  for (const url of [
    'https://github.com/heroku/heroku-buildpack-nodejs#v200',
    'https://github.com/heroku/heroku-buildpack-nodejs.git#main',
    'https://github.com/someone/heroku-buildpack-nodejs',
    'https://github.com/heroku/heroku-buildpack-nodejs/tree/main',
    'https://gitlab.com/heroku/heroku-buildpack-nodejs',
    'https://github.com/heroku/heroku-buildpack-clojure',
    'https://example.com/heroku/heroku-buildpack-nodejs.tgz',
  ]) {
    assert.equal(aliasTarget(url), undefined, url);
  }
});

test('the platform setting and the app config var turn the mapping off', () => {
  assert.equal(aliasesEnabled(undefined, {}), true);
  assert.equal(aliasesEnabled(true, { BUILDPACK_ALIASES: '1' }), true);
  assert.equal(aliasesEnabled(false, {}), false);
  assert.equal(aliasesEnabled(true, { BUILDPACK_ALIASES: '0' }), false);
  assert.equal(aliasesEnabled(undefined, { BUILDPACK_ALIASES: 'false' }), false);
});

test('resolution prints one line per alias, keeps a target once, and a missing target is a clear error', () => {
  const have = new Set(['slipway/nodejs', 'slipway/procfile']);
  const index = {
    all: [],
    add: () => undefined,
    find: (e: { id: string }) => (have.has(e.id) ? ({ id: e.id } as never) : undefined),
  } as unknown as BuildpackIndex;
  const lines: string[] = [];
  const out = resolveAliases(
    ['https://github.com/heroku/heroku-buildpack-nodejs', 'slipway/nodejs', 'heroku/procfile', './bp'],
    { enabled: true, index, output: (l) => lines.push(l) },
  );
  assert.deepEqual(out, ['slipway/nodejs', 'slipway/procfile', './bp']);
  assert.deepEqual(lines, [
    '-----> https://github.com/heroku/heroku-buildpack-nodejs is provided by slipway/nodejs',
    '-----> heroku/procfile is provided by slipway/procfile',
  ]);
  assert.deepEqual(resolveAliases(['heroku/nodejs'], { enabled: false, index }), ['heroku/nodejs']);
  assert.throws(
    () => resolveAliases(['heroku/python'], { enabled: true, index }),
    (err: Error & { hint?: string }) =>
      /heroku\/python would be provided by slipway\/python, which this Slipway server does not have/.test(
        err.message,
      ) && /BUILDPACK_ALIASES=0/.test(String(err.hint)),
  );
});
