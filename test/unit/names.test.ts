import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertAppName, isValidAppName, assertDomain } from '../../common/names';
import { SlipwayError } from '../../common/errors';

const cases: Array<[string, boolean]> = [
  ['my-app', true],
  ['abc', true],
  ['a1-2b', true],
  ['a'.repeat(30), true],
  ['a'.repeat(31), false],
  ['ab', false],
  ['../x', false],
  ['..%2fx', false],
  ['a;rm -rf /', false],
  ['$(reboot)', false],
  ['A', false],
  ['Abc', false],
  ['-x', false],
  ['-abc', false],
  ['abc-', false],
  ['1abc', false],
  ['app.git', false],
  ['app/x', false],
  ['/etc/passwd', false],
  ['héllo', false],
  ['аpp', false], // Cyrillic "а"
  ['app\n', false],
  ['', false],
];

for (const [name, ok] of cases) {
  test(`app name ${JSON.stringify(name)} is ${ok ? 'accepted' : 'refused'}`, () => {
    assert.equal(isValidAppName(name), ok);
    if (!ok) {
      assert.throws(
        () => assertAppName(name),
        (err: unknown) => {
          assert.ok(err instanceof SlipwayError);
          assert.equal(err.code, 'INVALID_NAME');
          assert.match(err.hint ?? '', /lowercase letter first/);
          return true;
        },
      );
    }
  });
}

test('non-strings are refused', () => {
  assert.equal(isValidAppName(undefined), false);
  assert.equal(isValidAppName(123), false);
});

test('domains: exact names and explicit wildcards only', () => {
  assert.equal(assertDomain('WWW.Example.com'), 'www.example.com');
  assert.equal(assertDomain('*.example.com'), '*.example.com');
  for (const bad of ['example', 'a..b.com', 'ex ample.com', 'a.*.com', '*example.com', '-a.com', 'a.com/x']) {
    assert.throws(() => assertDomain(bad), /not a valid domain/);
  }
});
