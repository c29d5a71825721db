import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diagnoseBoot, parseProcNetTcp } from '../../server/runtime/boot-diagnosis';

const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1388 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1 1 0000000000000000 100 0 0 10 0
   1: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 2 1 0000000000000000 100 0 0 10 0
   2: 0100007F:1388 0100007F:9C40 01 00000000:00000000 00:00000000 00000000  1000        0 3 1 0000000000000000 100 0 0 10 0
  sl  local_address                         remote_address                        st
   0: 00000000000000000000000001000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000
   1: 0000000000000000FFFF00000100007F:0051 00000000000000000000000000000000:0000 0A 00000000:00000000
`;

test('/proc/net/tcp{,6}: listening sockets only, IPv4 and IPv6 decoded', () => {
  assert.deepEqual(parseProcNetTcp(TCP), [
    { address: '127.0.0.1', port: 5000 },
    { address: '0.0.0.0', port: 8080 },
    { address: '::1', port: 80 },
    { address: '127.0.0.1', port: 81 },
  ]);
});

test('causes: not found, exited, loopback, other port, not HTTP, nothing listening, unknown', () => {
  const base = { dyno: 'web.1', port: 5000, timeoutS: 60, logs: [], reason: 'timed out' };
  assert.equal(diagnoseBoot({ ...base, exitCode: 127 }).cause, 'command-not-found');
  assert.equal(
    diagnoseBoot({ ...base, exitCode: 1, logs: ['bash: line 1: gunicorn: command not found'] }).cause,
    'command-not-found',
  );
  assert.match(diagnoseBoot({ ...base, exitCode: 3 }).message, /exited with status 3/);
  assert.equal(diagnoseBoot({ ...base, listening: [{ address: '127.0.0.1', port: 5000 }] }).cause, 'loopback');
  assert.equal(
    diagnoseBoot({
      ...base,
      listening: [
        { address: '127.0.0.1', port: 5000 },
        { address: '0.0.0.0', port: 5000 },
      ],
    }).cause,
    'not-http',
  );
  assert.match(
    diagnoseBoot({ ...base, listening: [{ address: '0.0.0.0', port: 3000 }] }).message,
    /listens on port 3000, not on \$PORT \(5000\)/,
  );
  assert.equal(diagnoseBoot({ ...base, listening: [] }).cause, 'not-listening');
  // Docker's embedded DNS (user-defined networks) is not the app.
  assert.equal(diagnoseBoot({ ...base, listening: [{ address: '127.0.0.11', port: 41893 }] }).cause, 'not-listening');
  assert.match(
    diagnoseBoot({
      ...base,
      listening: [
        { address: '127.0.0.11', port: 41893 },
        { address: '0.0.0.0', port: 8080 },
      ],
    }).message,
    /listens on port 8080, not/,
  );
  assert.equal(diagnoseBoot(base).cause, 'no-answer');
});
