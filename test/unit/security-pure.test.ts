import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertCustomDomain, assertNewAppName, isIpLiteral, isReservedAppName } from '../../common/names';
import { stripControls, createLineSanitizer } from '../../cli/terminal-text';
import { createAuthBackoff } from '../../server/auth/backoff';
import { isSlipwayError } from '../../common/errors';

test('IP literals in every form a resolver or URL parser accepts are recognised; names are not', () => {
  for (const ip of [
    '127.0.0.1',
    '127.1',
    '127.0.1',
    '0x7f.0.0.1',
    '0x7f.1',
    '017700000001',
    '2130706433',
    '0x7f000001',
    '0177.0.0.01',
    '[::1]',
    '::1',
    '::ffff:127.0.0.1',
    '[::ffff:7f00:1]',
    'fe80::1%25eth0',
    '169.254.169.254',
    '1.2.3.4.',
    'www.example.0x7f',
    'a.b.123',
  ]) {
    assert.equal(isIpLiteral(ip), true, ip);
  }
  for (const name of [
    'example.com',
    'www.example.com',
    '1.example.com',
    '0x7f.example.com',
    '127.0.0.1.nip.io',
    'a1.b2',
    'x.y2k',
    '*.example.com',
  ]) {
    assert.equal(isIpLiteral(name), false, name);
  }
});

test('custom domains: IP literals, the platform domain and local-only names are refused with a reason', () => {
  const refuse = (host: string, re: RegExp) => {
    assert.throws(
      () => assertCustomDomain(host, 'apps.example.net'),
      (e: unknown) => isSlipwayError(e) && re.test(e.message) && !!e.hint,
      host,
    );
  };
  for (const ip of ['127.1', '0x7f.0.0.1', '2130706433', '[::1]', '::ffff:127.0.0.1', '10.0.0.1'])
    refuse(ip, /is an IP address/);
  for (const own of ['apps.example.net', 'x.apps.example.net', '*.apps.example.net', 'API.Apps.Example.Net'])
    refuse(own, /under the platform domain/);
  for (const local of [
    'localhost',
    'x.localhost',
    '*.localhost',
    'printer.local',
    'metadata.google.internal',
    'x.home.arpa',
    '1.0.0.127.in-addr.arpa',
  ]) {
    refuse(local, /reserved name|not a valid domain/);
  }
  refuse('slipway-router', /not a valid domain/);
  assert.equal(assertCustomDomain('WWW.Example.com', 'apps.example.net'), 'www.example.com');
  assert.equal(assertCustomDomain('*.shop.example.com', 'apps.example.net'), '*.shop.example.com');
  assert.equal(assertCustomDomain('example.net', 'apps.example.net'), 'example.net');
});

test('reserved app names are refused for new apps with a clear message; other names pass', () => {
  for (const n of [
    'api',
    'www',
    'admin',
    'git',
    'registry',
    'dashboard',
    'status',
    'slipway',
    'slipway-router',
    'slipway-anything',
  ]) {
    assert.equal(isReservedAppName(n), true, n);
    assert.throws(() => assertNewAppName(n), /is reserved for the platform/, n);
  }
  for (const n of ['my-api', 'apis', 'www2', 'gitlab-mirror', 'slipwayx', 'status-page'])
    assert.equal(assertNewAppName(n), n);
});

test('terminal control sequences are stripped; text, newlines and tabs stay', () => {
  assert.equal(stripControls('\x1b]0;pwned\x07title'), 'title');
  assert.equal(stripControls('a\x1b[2Jb\x1b[31mred\x1b[0m'), 'abred');
  assert.equal(stripControls('osc with ST \x1b]52;c;aGk=\x1b\\done'), 'osc with ST done');
  assert.equal(stripControls('unterminated \x1b]0;rest of line'), 'unterminated ');
  assert.equal(stripControls('dcs \x1bPq#0;1\x1b\\ apc \x1b_x\x1b\\ end'), 'dcs  apc  end');
  assert.equal(stripControls('8-bit \x9b2J csi \x9d0;t\x9c osc'), '8-bit  csi  osc');
  assert.equal(
    stripControls('cr\roverwrite bs\x08 bell\x07 nul\x00 del\x7f esc-c\x1bc'),
    'croverwrite bs bell nul del esc-c',
  );
  assert.equal(stripControls('tab\there\nnext — ünïcödé ✓'), 'tab\there\nnext — ünïcödé ✓');
  const out: string[] = [];
  const s = createLineSanitizer((l) => out.push(l));
  const bytes = Buffer.from('one \x1b]0;pw');
  s.push(bytes);
  s.push(Buffer.from('ned\x07two\nthree \x1b[2'));
  s.push(Buffer.from('Jfour'));
  s.end();
  assert.deepEqual(out, ['one two\n', 'three four\n']);
});

test('auth back-off: N failures per address or token prefix within the window give 429 with Retry-After, then expire', () => {
  let now = 1_000_000;
  const b = createAuthBackoff({ limit: 3, windowMs: 60_000, now: () => now });
  for (let i = 0; i < 3; i++) {
    b.check('10.0.0.1', `slw_guess${i}xxxxxxxx`);
    b.fail('10.0.0.1', `slw_guess${i}xxxxxxxx`);
    now += 1000;
  }
  assert.throws(
    () => b.check('10.0.0.1', 'slw_another-token'),
    (e: unknown) => isSlipwayError(e) && e.code === 'TOO_MANY_REQUESTS' && e.details?.retryAfterS === 57,
  );
  b.check('10.0.0.2', 'slw_another-token'); // another address is not affected
  // The same token prefix from many addresses backs off too.
  for (let i = 0; i < 3; i++) b.fail(`10.1.0.${i}`, 'slw_leakedAAAAxyz');
  assert.throws(() => b.check('10.9.9.9', 'slw_leakedAAAAother'), /with this token/);
  now += 60_000;
  b.check('10.0.0.1', 'slw_another-token');
  b.check('10.9.9.9', 'slw_leakedAAAAother');
});
