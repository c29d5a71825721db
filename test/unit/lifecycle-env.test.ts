import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  applyEnvOps,
  envOpToBash,
  layerEnvOps,
  platformEnvOps,
  readEnvDir,
  type EnvOp,
} from '../../buildpacks/lifecycle/env-files';
import { globToRegExp } from '../../buildpacks/lifecycle/select';
import { parseProcfile, parseRelease } from '../../buildpacks/lifecycle/legacy';

function envDir(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lc-env-'));
  for (const [k, v] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, k)), { recursive: true });
    fs.writeFileSync(path.join(dir, k), v);
  }
  return dir;
}

test('env file suffixes: none/override replace, default only fills empty, prepend/append without delim concatenate', () => {
  const dir = envDir({
    A: 'new',
    'B.override': 'over',
    'C.default': 'dflt',
    'D.default': 'dflt',
    'E.prepend': 'pre',
    'F.append': 'app',
  });
  const env = applyEnvOps({ A: 'old', B: 'old', D: 'kept', E: 'x', F: 'y' }, readEnvDir(dir));
  assert.deepEqual(env, { A: 'new', B: 'over', C: 'dflt', D: 'kept', E: 'prex', F: 'yapp' });
});

test('.delim applies to prepend/append of the same variable in the same directory', () => {
  const dir = envDir({ 'P.prepend': '/a', 'P.delim': ':', 'Q.append': 'z' });
  assert.deepEqual(applyEnvOps({ P: '/b', Q: 'q' }, readEnvDir(dir)), { P: '/a:/b', Q: 'qz' });
  assert.deepEqual(applyEnvOps({}, readEnvDir(dir)), { P: '/a', Q: 'z' }, 'no delimiter when the variable was unset');
});

test('layer env: bin/lib at build and launch, include/pkgconfig at build only, env.build vs env.launch/<proc>', () => {
  const dir = envDir({
    'bin/x': '',
    'lib/y': '',
    'include/z': '',
    'env.build/B': 'b',
    'env.launch/L': 'l',
    'env.launch/web/W': 'w',
    'env/ALL': 'all',
  });
  const build = applyEnvOps({ PATH: '/usr/bin' }, layerEnvOps(dir, '/layers/bp/l', 'build'));
  assert.deepEqual(build, {
    PATH: '/layers/bp/l/bin:/usr/bin',
    LD_LIBRARY_PATH: '/layers/bp/l/lib',
    LIBRARY_PATH: '/layers/bp/l/lib',
    CPATH: '/layers/bp/l/include',
    ALL: 'all',
    B: 'b',
  });
  const launch = applyEnvOps({}, layerEnvOps(dir, '/layers/bp/l', 'launch', 'web'));
  assert.deepEqual(launch, {
    PATH: '/layers/bp/l/bin',
    LD_LIBRARY_PATH: '/layers/bp/l/lib',
    ALL: 'all',
    L: 'l',
    W: 'w',
  });
});

test('platform env: path variables are prepended with ":", others override', () => {
  assert.deepEqual(applyEnvOps({ PATH: '/usr/bin', X: 'old' }, platformEnvOps({ PATH: '/mine', X: 'new' })), {
    PATH: '/mine:/usr/bin',
    X: 'new',
  });
});

test('the bash form of env ops (used by the launcher) behaves like the TypeScript form', () => {
  const ops: EnvOp[] = [
    { name: 'A', action: 'override', value: "it's $HOME `x`", delim: '' },
    { name: 'B', action: 'default', value: 'd', delim: '' },
    { name: 'C', action: 'default', value: 'd', delim: '' },
    { name: 'D', action: 'prepend', value: '/p', delim: ':' },
    { name: 'E', action: 'append', value: 'z', delim: ',' },
    { name: 'F', action: 'prepend', value: 'only', delim: ':' },
  ];
  const start = { C: 'set', D: '/d', E: 'e' };
  const script = ops.map(envOpToBash).join('\n') + '\nfor v in A B C D E F; do printf "%s=%s\\n" "$v" "${!v}"; done';
  const out = execFileSync('bash', ['-c', script], { env: { ...start, PATH: process.env.PATH }, encoding: 'utf8' });
  const expected = applyEnvOps({ ...start }, ops);
  assert.equal(out, ['A', 'B', 'C', 'D', 'E', 'F'].map((k) => `${k}=${expected[k]}`).join('\n') + '\n');
});

test('bin/release YAML: default_process_types and config_vars; malformed output is a clear error', () => {
  const r = parseRelease('---\nconfig_vars:\n  A: "1"\ndefault_process_types:\n  web: node s.js\n', 'bp');
  assert.deepEqual(r.configVars, { A: '1' });
  assert.deepEqual(
    r.processes.map((p) => [p.type, p.command, p.direct]),
    [['web', ['node s.js'], false]],
  );
  assert.deepEqual(parseRelease('--- {}\n', 'bp').processes, []);
  assert.throws(() => parseRelease('web: [unclosed', 'bp'), /bin\/release output of buildpack bp is not valid YAML/);
  assert.throws(() => parseRelease('- a\n- b\n', 'bp'), /must be a YAML mapping/);
  assert.throws(() => parseRelease('config_vars:\n  "bad key": x\n', 'bp'), /not a valid variable name/);
});

test('Procfile lines and project.toml globs', () => {
  assert.deepEqual(parseProcfile('web: node a.js\n# c: x\nworker:  run  \n\nbad line\n'), {
    web: 'node a.js',
    worker: 'run',
  });
  assert.ok(globToRegExp('*.log').test('a/b.log'));
  assert.ok(globToRegExp('/tmp').test('tmp/x'));
  assert.ok(!globToRegExp('/tmp').test('a/tmp'));
  assert.ok(globToRegExp('docs/**').test('docs/a/b.md'));
});
