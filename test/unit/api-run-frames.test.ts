import { test } from 'node:test';
import assert from 'node:assert/strict';
import { frame, FRAME } from '../../server/api/run';
import { createFrameReader, FRAME as CLI_FRAME } from '../../cli/run-frames';

test('run frames: the server writer and the CLI reader agree, across arbitrary chunk boundaries', () => {
  assert.deepEqual(FRAME, CLI_FRAME);
  const wire = Buffer.concat([
    frame(FRAME.stdout, 'hello '),
    frame(FRAME.stderr, Buffer.from([0xe2, 0x9c, 0x93])),
    frame(FRAME.stdout, ''),
    frame(FRAME.stdout, 'x'.repeat(70_000)),
    frame(FRAME.exit, '3'),
  ]);
  for (const size of [1, 2, 5, 7, 4096, wire.length]) {
    const got: Array<[number, string]> = [];
    const read = createFrameReader((kind, payload) => got.push([kind, payload.toString('utf8')]));
    for (let i = 0; i < wire.length; i += size) read(wire.subarray(i, i + size));
    assert.deepEqual(
      got.map(([k, p]) => [k, p.length > 20 ? `${p.length}` : p]),
      [
        [1, 'hello '],
        [2, '✓'],
        [1, ''],
        [1, '70000'],
        [3, '3'],
      ],
      `chunk size ${size}`,
    );
  }
});
