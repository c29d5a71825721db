import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { dockerignore, gitignore } from '../../common/ignore-rules';
import {
  declaredArgs,
  firstConfigPort,
  firstExposedPort,
  wantsDockerfile,
} from '../../server/deploys/builders/dockerfile-source';
import { listKept } from '../../server/deploys/builders/context-tar';

test('.dockerignore: anchored patterns, ** across directories, a directory excludes its contents, ! re-includes, last match wins', () => {
  const m = dockerignore('# comment\n/node_modules\n**/*.log\nsecret*\ndocs\n!docs/keep.md\ntmp/?\n');
  assert.equal(m('node_modules', true), true);
  assert.equal(m('node_modules/x/index.js', false), true);
  assert.equal(m('src/node_modules', true), false); // anchored at the root
  assert.equal(m('a/b/c.log', false), true);
  assert.equal(m('top.log', false), true);
  assert.equal(m('secret.txt', false), true);
  assert.equal(m('src/secret.txt', false), false);
  assert.equal(m('docs/a.md', false), true);
  assert.equal(m('docs/keep.md', false), false);
  assert.equal(m('tmp/a', false), true);
  assert.equal(m('tmp/ab', false), false);
  assert.equal(m('server.js', false), false);
});

test('.gitignore: unanchored names match at any depth, a trailing / only directories, undefined when no rule matches', () => {
  const m = gitignore('*.tmp\nbuild/\n/root-only\n!keep.tmp\n');
  assert.equal(m('a/b/x.tmp', false), true);
  assert.equal(m('a/keep.tmp', false), false);
  assert.equal(m('sub/build', true), true);
  assert.equal(m('sub/build', false), undefined);
  assert.equal(m('root-only', false), true);
  assert.equal(m('x/root-only', false), undefined);
});

test('Dockerfile reading: declared ARGs (with defaults, continuations), the first EXPOSEd TCP port, the image config port', () => {
  const text =
    'ARG BASE=x\nFROM slipway/bookworm-run\nARG A \\\n  B=2\n# ARG COMMENTED\narg lower\nEXPOSE 53/udp 8080/tcp 9000\n';
  assert.deepEqual([...declaredArgs(text)].sort(), ['A', 'B', 'BASE', 'lower']);
  assert.equal(firstExposedPort(text), 8080);
  assert.equal(firstExposedPort('FROM x\n'), undefined);
  assert.equal(firstConfigPort({ '53/udp': {}, '3000/tcp': {} }), 3000);
});

test('choosing: a root Dockerfile wins unless buildpacks are asked for (setting, list, .buildpacks, project.toml); forced dockerfile always', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'df-detect-'));
  try {
    assert.equal(wantsDockerfile(dir, {}, []), false);
    fs.writeFileSync(path.join(dir, 'Dockerfile'), 'FROM x\n');
    assert.equal(wantsDockerfile(dir, {}, []), true);
    assert.equal(wantsDockerfile(dir, { builder: 'buildpacks' }, []), false);
    assert.equal(wantsDockerfile(dir, {}, ['slipway/nodejs']), false);
    fs.writeFileSync(path.join(dir, 'project.toml'), '');
    assert.equal(wantsDockerfile(dir, {}, []), false);
    assert.equal(wantsDockerfile(dir, { builder: 'dockerfile' }, []), true);
    fs.rmSync(path.join(dir, 'project.toml'));
    fs.mkdirSync(path.join(dir, 'docker'));
    fs.writeFileSync(path.join(dir, 'docker', 'web.Dockerfile'), 'FROM x\n');
    fs.rmSync(path.join(dir, 'Dockerfile'));
    assert.equal(wantsDockerfile(dir, { dockerfilePath: 'docker/web.Dockerfile' }, []), true);
    fs.writeFileSync(path.join(dir, 'app.json'), JSON.stringify({ build: { dockerfile: 'docker/web.Dockerfile' } }));
    assert.equal(wantsDockerfile(dir, {}, []), true);
    // A path out of the source is never followed.
    assert.equal(wantsDockerfile(dir, { dockerfilePath: '../etc/passwd' }, []), false);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the build context keeps what .dockerignore keeps, and always the Dockerfile and .dockerignore', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'df-ctx-'));
  try {
    for (const f of ['Dockerfile', '.dockerignore', 'a.txt', 'logs/x.log', 'logs/keep.log']) {
      fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
      fs.writeFileSync(path.join(dir, f), 'x');
    }
    const kept = listKept(dir, dockerignore('Dockerfile\n.dockerignore\nlogs\n!logs/keep.log\n'), [
      'Dockerfile',
      '.dockerignore',
    ]).sort();
    assert.deepEqual(kept, ['.dockerignore', 'Dockerfile', 'a.txt', 'logs/keep.log']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
