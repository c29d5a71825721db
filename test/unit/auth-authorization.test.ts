import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tokenFromAuthorization } from '../../server/auth/authorization';

test('one Authorization parser: Bearer, or Basic with the token as password; each caller picks its schemes', () => {
  const basic = (s: string) => `Basic ${Buffer.from(s).toString('base64')}`;
  assert.equal(tokenFromAuthorization('Bearer slw_abc'), 'slw_abc');
  assert.equal(tokenFromAuthorization('bearer slw_abc'), 'slw_abc');
  assert.equal(tokenFromAuthorization(basic('anyone:slw_abc')), 'slw_abc');
  assert.equal(tokenFromAuthorization(basic(':slw_a:b')), 'slw_a:b', 'only the first colon separates');
  assert.equal(tokenFromAuthorization(basic('no-colon')), undefined);
  assert.equal(tokenFromAuthorization('Basic not*base64'), undefined);
  assert.equal(tokenFromAuthorization('Bearer slw_abc', ['basic']), undefined, 'the git endpoint takes Basic only');
  assert.equal(tokenFromAuthorization(basic('u:slw_abc'), ['bearer']), undefined);
  for (const h of [undefined, '', 'Bearer', 'Token slw_abc', 'Bearer a b'])
    assert.equal(tokenFromAuthorization(h), undefined, String(h));
});
