import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import TOML from '@iarna/toml';
import { BUILTIN_DIR } from '../helpers/run-buildpack';

// The Procfile buildpack's parser is plain bash: run its bin/build on the host against a temp app.

function buildProcfile(procfile: string): {
  code: number;
  stderr: string;
  stdout: string;
  processes: Array<Record<string, unknown>>;
} {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'procfile-'));
  try {
    fs.writeFileSync(path.join(dir, 'Procfile'), procfile);
    fs.mkdirSync(path.join(dir, 'layers'));
    const r = spawnSync(
      'bash',
      [path.join(BUILTIN_DIR, 'procfile', 'bin', 'build'), path.join(dir, 'layers'), '/platform', '/plan'],
      { cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH } },
    );
    const launch = path.join(dir, 'layers', 'launch.toml');
    const processes = fs.existsSync(launch)
      ? (TOML.parse(fs.readFileSync(launch, 'utf8')).processes as Array<Record<string, unknown>>)
      : [];
    return { code: r.status ?? -1, stderr: r.stderr, stdout: r.stdout, processes };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('every line becomes a bash process; web is the default; release is kept for the platform', () => {
  const r = buildProcfile(
    '# comment\n\nweb: node server.js --port $PORT # inline\r\n  worker:   bundle exec "sidekiq" \t\nrelease: ./migrate.sh\n',
  );
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.processes, [
    { type: 'web', command: ['bash', '-c', 'node server.js --port $PORT # inline'], default: true },
    { type: 'worker', command: ['bash', '-c', 'bundle exec "sidekiq"'], default: false },
    { type: 'release', command: ['bash', '-c', './migrate.sh'], default: false },
  ]);
  assert.match(r.stdout, /release \(release phase\): \.\/migrate\.sh/);
});

test('backslashes, quotes and tabs survive into launch.toml unchanged', () => {
  const cmd = `printf 'a\\tb\\n' | sed "s/\\\\t/ /"\tx`;
  const r = buildProcfile(`clock: ${cmd}\n`);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.processes[0].command, ['bash', '-c', cmd]);
});

test('a file without a trailing newline still yields its last line', () => {
  assert.deepEqual(
    buildProcfile('web: a\nworker: b').processes.map((p) => p.type),
    ['web', 'worker'],
  );
});

test('malformed lines fail with their line number', () => {
  for (const [procfile, line] of [
    ['web: ok\n\nbad line\n', 3],
    ['web:\n', 1],
    ['we b: x\n', 1],
    ['web.1: x\n', 1],
    ['# c\n: x\n', 2],
  ] as const) {
    const r = buildProcfile(procfile);
    assert.notEqual(r.code, 0, procfile);
    assert.match(r.stderr, new RegExp(`Procfile line ${line} is malformed`), procfile);
  }
});

test('a type defined twice and an empty Procfile are errors', () => {
  assert.match(buildProcfile('web: a\nweb: b\n').stderr, /Procfile line 2 defines "web" again \(first on line 1\)/);
  assert.match(buildProcfile('# nothing\n\n').stderr, /Procfile defines no process types/);
});
