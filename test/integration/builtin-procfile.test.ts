import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  build,
  buildGroup,
  createWorkspace,
  detect,
  httpGet,
  processes,
  runCommand,
  startApp,
  writeAppFile,
} from '../helpers/run-buildpack';

// The Procfile buildpack after the Node.js one (the default order's first group) and on its own.

test('a Procfile with web, worker and release types plus an inline comment', async () => {
  const ws = createWorkspace('node-procfile');
  try {
    const b = await buildGroup(ws, ['nodejs', 'procfile']);
    assert.equal(b.code, 0, b.output);
    assert.match(b.output, /release \(release phase\): echo "release phase ran"/);
    const procs = processes(ws, ['nodejs', 'procfile']);
    assert.deepEqual(Object.keys(procs).sort(), ['release', 'web', 'worker']);
    assert.equal(procs.web.default, true);
    assert.equal(procs.worker.default, false);
    assert.deepEqual(procs.web.command, [
      'bash',
      '-c',
      'node web.js --greeting "from procfile" # an inline comment bash ignores',
    ]);

    // web answers on $PORT; the inline comment never reached node (argv: node, web.js, --greeting, value).
    const app = await startApp(ws, ['nodejs', 'procfile']);
    try {
      assert.equal((await httpGet(app.url)).body, 'web from procfile argc=4');
    } finally {
      app.stop();
    }
    const worker = await runCommand(ws, ['nodejs', 'procfile'], procs.worker.command, { DYNO: 'worker.1' });
    assert.equal(worker.code, 0, worker.output);
    assert.equal(worker.output.trim(), 'worker worker.1');
    const release = await runCommand(ws, ['nodejs', 'procfile'], procs.release.command);
    assert.equal(release.output.trim(), 'release phase ran');
  } finally {
    ws.cleanup();
  }
});

test('a malformed Procfile fails the build with the line number', async () => {
  const ws = createWorkspace('procfile-malformed');
  try {
    assert.equal((await detect(ws, 'procfile')).code, 0);
    const b = await build(ws, 'procfile');
    assert.notEqual(b.code, 0);
    assert.match(b.output, /Procfile line 4 is malformed: worker = \.\/work\.sh/);
    assert.match(b.output, /Hint: Each line is "name: command"/);
  } finally {
    ws.cleanup();
  }
});

test('Procfile alone: commands run through bash at launch, so $PORT and pipes work', async () => {
  const ws = createWorkspace('procfile-malformed');
  try {
    writeAppFile(
      ws,
      'Procfile',
      'web: echo "serving on $PORT" | tr a-z A-Z   # shell features\r\n\r\n  # indented comment\nclock:echo tick\n',
    );
    assert.equal((await detect(ws, 'nodejs')).code, 100, 'no package.json: not a Node.js app');
    const b = await build(ws, 'procfile');
    assert.equal(b.code, 0, b.output);
    const procs = processes(ws, ['procfile']);
    assert.deepEqual(Object.keys(procs).sort(), ['clock', 'web']);
    const web = await runCommand(ws, ['procfile'], procs.web.command, { PORT: '5123' });
    assert.equal(web.output.trim(), 'SERVING ON 5123');
    assert.equal((await runCommand(ws, ['procfile'], procs.clock.command)).output.trim(), 'tick');
  } finally {
    ws.cleanup();
  }
});
