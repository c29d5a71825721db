import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgs } from '../../cli/args';
import { parseScaleArgs } from '../../cli/commands/ps';
import { commandLine } from '../../cli/commands/run';
import { appFromRemoteUrl, helperCommand } from '../../cli/git';
import { CliError } from '../../cli/errors';

const specs = { app: { short: 'a', desc: '' }, json: { boolean: true, desc: '' }, num: { short: 'n', desc: '' } };

test('parseArgs: long, short, inline values, booleans, -- and unknown options', () => {
  assert.deepEqual(parseArgs(['-a', 'my-app', '--json', 'KEY=1', '--num=5'], specs, 'u'), {
    flags: { app: 'my-app', json: true, num: '5' },
    positionals: ['KEY=1'],
  });
  assert.deepEqual(parseArgs(['--app', 'x-app', '--', '-n', 'ls'], specs, 'u').positionals, ['-n', 'ls']);
  assert.throws(
    () => parseArgs(['--nope'], specs, 'u'),
    (e: unknown) => e instanceof CliError && e.exitCode === 2 && /unknown option --nope/.test(e.message),
  );
  assert.throws(() => parseArgs(['-a'], specs, 'u'), /needs a value/);
  // run: everything from the command on is passed through untouched.
  assert.deepEqual(parseArgs(['-a', 'x-app', 'ls', '-la', '--json'], specs, 'u', { stopAtFirstPositional: true }), {
    flags: { app: 'x-app' },
    positionals: ['ls', '-la', '--json'],
  });
});

test('parseScaleArgs: absolute, relative and sized updates', () => {
  const current = [{ type: 'web', quantity: 2, size: 'standard-1x' }];
  assert.deepEqual(parseScaleArgs(['web=3', 'worker=1:standard-2x', 'web+1', 'web-5', 'clock=0'], current), [
    { type: 'web', quantity: 3 },
    { type: 'worker', quantity: 1, size: 'standard-2x' },
    { type: 'web', quantity: 3 },
    { type: 'web', quantity: 0 },
    { type: 'clock', quantity: 0 },
  ]);
  assert.throws(() => parseScaleArgs(['web'], current), /is not TYPE=N/);
  assert.throws(() => parseScaleArgs(['web=x'], current), /is not TYPE=N/);
});

test('the app comes from a remote URL ending in /APP.git; helper command quotes paths', () => {
  assert.equal(appFromRemoteUrl('http://127.0.0.1:5080/my-app.git'), 'my-app');
  assert.equal(appFromRemoteUrl('https://paas.example.com/some-app-2.git/'), 'some-app-2');
  assert.equal(appFromRemoteUrl('git@github.com:me/project.git'), 'project');
  assert.equal(appFromRemoteUrl('http://h/Bad_Name.git'), undefined);
  assert.equal(appFromRemoteUrl('http://h/x.git'), undefined);
  assert.equal(
    helperCommand('/usr/bin/node', "/opt/it's/main.js"),
    `!'/usr/bin/node' '/opt/it'\\''s/main.js' git-credential`,
  );
});

test('run: several arguments are quoted word by word, one is a shell command as typed', () => {
  assert.equal(commandLine(['ls | wc -l']), 'ls | wc -l');
  assert.equal(commandLine(['node', '-e', 'console.log("a b")']), `node -e 'console.log("a b")'`);
  assert.equal(commandLine(['echo', "it's"]), `echo 'it'\\''s'`);
});
