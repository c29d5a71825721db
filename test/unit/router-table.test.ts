import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatRouterLine } from '../../router/access-log';
import { createPools } from '../../router/balancer';
import { absoluteTarget, clientResponseHeaders, requestIdFrom, upstreamRequestHeaders } from '../../router/headers';
import { buildRouteTable, normalizeHost, parseRoutesFile } from '../../router/route-table';
import { rawPathAvailable, requestHead } from '../../router/upstream';

const file = (apps: Record<string, unknown>) =>
  parseRoutesFile({ version: 1, generatedAt: 't', apps, certificates: [] });
const app = (hosts: string[], urls: string[] = ['http://127.0.0.1:1']) => ({
  hosts,
  maintenance: false,
  httpsOnly: false,
  webQuantity: urls.length,
  backends: urls.map((url, i) => ({ dyno: `web.${i + 1}`, url, release: 1 })),
});

test('host normalisation: case, port and trailing dot go; IP literals and junk never match', () => {
  assert.equal(normalizeHost('MyApp.Example.COM:8080'), 'myapp.example.com');
  assert.equal(normalizeHost('myapp.localhost.'), 'myapp.localhost');
  for (const bad of [
    undefined,
    '',
    '[::1]:80',
    'a b',
    'a/b',
    'host:port',
    '*.example.com',
    'a..b',
    '-a.b',
    'x'.repeat(300),
  ]) {
    assert.equal(normalizeHost(bad), '', String(bad));
  }
});

test('lookup is exact; a wildcard matches exactly one label and only when added', () => {
  const t = buildRouteTable(
    file({ shop: app(['shop.localhost', 'www.shop.test', '*.cdn.test']), api: app(['api.localhost']) }),
  );
  assert.equal(t.lookup('shop.localhost')?.app, 'shop');
  assert.equal(t.lookup('www.shop.test')?.app, 'shop');
  assert.equal(t.lookup('img.cdn.test')?.app, 'shop');
  for (const miss of [
    'shop.test',
    'shop.localhost.evil.com',
    'evilshop.localhost',
    'shop.localhos',
    'cdn.test',
    'a.img.cdn.test',
    'localhost',
    'api.localhost.',
    'www.shop.test.evil',
  ]) {
    assert.equal(t.lookup(miss), undefined, miss);
  }
  assert.equal(t.lookup('api.localhost')?.app, 'api');
});

test('routes files are validated: bad app names, hosts or backend URLs are refused', () => {
  assert.throws(() => parseRoutesFile({ version: 2, apps: {} }), /version/);
  assert.throws(() => file({ 'Bad Name': app(['x.localhost']) }), /invalid app name/);
  assert.throws(() => file({ good: app(['x y']) }), /invalid host/);
  assert.throws(() => file({ good: app(['x.localhost'], ['file:///etc/passwd']) }), /invalid backend url/);
  assert.throws(() => file({ good: app(['x.localhost'], ['http://127.0.0.1:1/path']) }), /invalid backend url/);
});

test('request headers: client-sent X-Forwarded-*/Forwarded/X-Real-IP replaced, hop-by-hop and Connection-listed names stripped', () => {
  const out = upstreamRequestHeaders(
    [
      'Host',
      'a.localhost',
      'X-Forwarded-For',
      '1.1.1.1',
      'X-Forwarded-For',
      '2.2.2.2',
      'Connection',
      'close, X-Private',
      'X-Private',
      's',
      'Keep-Alive',
      '5',
      'Transfer-Encoding',
      'chunked',
      'Upgrade',
      'h2c',
      'X-Forwarded-Proto',
      'https',
      'X-Request-Id',
      'spoof',
      'Cookie',
      'c=1',
      'Forwarded',
      'for=127.0.0.1',
      'X-Real-IP',
      '127.0.0.1',
      'X-Forwarded-Host',
      'admin.internal',
      'x-forwarded-ssl',
      'on',
    ],
    { clientIp: '10.0.0.1', proto: 'http', port: 80, requestId: 'r'.repeat(20) },
  );
  const pairs = new Map<string, string[]>();
  for (let i = 0; i < out.length; i += 2)
    pairs.set(out[i].toLowerCase(), [...(pairs.get(out[i].toLowerCase()) ?? []), out[i + 1]]);
  assert.deepEqual(pairs.get('host'), ['a.localhost']);
  assert.deepEqual(pairs.get('x-forwarded-for'), ['10.0.0.1']);
  for (const spoofable of ['forwarded', 'x-real-ip', 'x-forwarded-host', 'x-forwarded-ssl'])
    assert.equal(pairs.get(spoofable), undefined, spoofable);
  assert.deepEqual(pairs.get('x-forwarded-proto'), ['http']);
  assert.deepEqual(pairs.get('x-forwarded-port'), ['80']);
  assert.deepEqual(pairs.get('x-request-id'), ['r'.repeat(20)]);
  assert.deepEqual(pairs.get('via'), ['1.1 slipway']);
  assert.deepEqual(pairs.get('cookie'), ['c=1']);
  for (const hop of ['connection', 'x-private', 'keep-alive', 'transfer-encoding', 'upgrade'])
    assert.equal(pairs.get(hop), undefined, hop);
});

test('absolute-form request targets: the authority becomes the host, the path goes on in origin form; others are refused', () => {
  assert.deepEqual(absoluteTarget('http://shop.localhost:8080/a?b=1'), { host: 'shop.localhost:8080', path: '/a?b=1' });
  assert.deepEqual(absoluteTarget('HTTPS://shop.localhost'), { host: 'shop.localhost', path: '/' });
  assert.deepEqual(absoluteTarget('http://shop.localhost?x'), { host: 'shop.localhost', path: '/?x' });
  for (const bad of [
    '*',
    'shop.localhost:80',
    'ftp://shop.localhost/',
    'http://user@shop.localhost/',
    'http:///x',
    'a/b',
  ]) {
    assert.equal(absoluteTarget(bad), undefined, bad);
  }
  const out = upstreamRequestHeaders(['Host', 'other.localhost', 'Accept', '*/*'], {
    clientIp: '10.0.0.1',
    proto: 'http',
    port: 80,
    requestId: 'r'.repeat(20),
    host: 'shop.localhost',
  });
  assert.deepEqual(
    out.filter((_, i) => i % 2 === 0 && out[i].toLowerCase() === 'host').map((_, i) => i),
    [0],
  );
  assert.equal(out[out.findIndex((n, i) => i % 2 === 0 && n === 'Host') + 1], 'shop.localhost');
});

test('response headers get the request id, Via and a Date; request ids are kept only when valid', () => {
  const out = clientResponseHeaders(
    ['Content-Type', 'text/plain', 'Connection', 'keep-alive', 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2'],
    'id-1',
  );
  assert.deepEqual(out.slice(0, 6), ['Content-Type', 'text/plain', 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2']);
  assert.ok(out.includes('X-Request-Id') && out.includes('id-1') && out.includes('Via') && out.includes('Date'));
  assert.equal(requestIdFrom('abcdefghijklmnopqrstuvwxyz'), 'abcdefghijklmnopqrstuvwxyz');
  for (const bad of [
    'short',
    'has spaces in it but is long enough',
    'x'.repeat(201),
    'bad"quote"char-and-long-enough',
  ]) {
    assert.match(requestIdFrom(bad), /^[0-9a-f-]{36}$/, bad);
  }
});

test("access log lines follow Heroku's router format and cannot be forged through the path", () => {
  const base = {
    app: 'shop',
    at: 'info' as const,
    method: 'GET',
    path: '/a b"c\n at=error',
    host: 'shop.localhost',
    requestId: 'rid',
    fwd: '1.2.3.4',
    dyno: 'web.2',
    connectMs: 1.4,
    serviceMs: 12,
    status: 200,
    bytes: 532,
    protocol: 'http' as const,
  };
  assert.equal(
    formatRouterLine(base),
    'at=info method=GET path="/a b%22c%0A at=error" host=shop.localhost request_id=rid fwd="1.2.3.4" dyno=web.2 connect=1ms service=12ms status=200 bytes=532 protocol=http',
  );
  assert.match(
    formatRouterLine({ ...base, at: 'error', code: 'H12', desc: 'Request timeout', status: 503 }),
    /^at=error code=H12 desc="Request timeout" method=GET .* status=503 /,
  );
});

test('balancing: round-robin ties, least outstanding wins, refusing dynos skipped, pools keep their agent', () => {
  const pools = createPools({
    strategy: 'least-outstanding',
    agentIdleMs: 1000,
    skipMs: 60_000,
    maxSocketsPerDyno: 10,
  });
  const t = buildRouteTable(
    file({ shop: app(['shop.localhost'], ['http://127.0.0.1:1', 'http://127.0.0.1:2', 'http://127.0.0.1:3']) }),
  );
  pools.update(t);
  const pool = pools.get('shop')!;
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6].map(() => pool.pick()!.dyno),
    ['web.1', 'web.2', 'web.3', 'web.1', 'web.2', 'web.3'],
  );
  pool.backends[0].outstanding = 5;
  pool.backends[1].outstanding = 1;
  assert.equal(pool.pick()!.dyno, 'web.3');
  pool.backends[2].outstanding = 2;
  assert.equal(pool.pick()!.dyno, 'web.2');
  pool.markRefused(pool.backends[1]);
  assert.equal(pool.pick()!.dyno, 'web.3');
  assert.equal(pool.pick(new Set([pool.backends[2]]))!.dyno, 'web.1');
  const agent = pool.agent;
  pools.update(buildRouteTable(file({ shop: app(['shop.localhost'], ['http://127.0.0.1:2']) })));
  assert.equal(pools.get('shop')!.agent, agent, 'agent survives a table swap');
  assert.ok(pools.get('shop')!.backends[0].skipUntil > Date.now(), 'skip state survives too');
  pools.destroy();
});

test('the raw upstream path is available on this Node (else every request falls back to http.request)', () => {
  assert.equal(rawPathAvailable, true);
  assert.equal(
    requestHead('GET', '/a?b=1', ['Host', 'x.localhost', 'X-Forwarded-For', '1.2.3.4']),
    'GET /a?b=1 HTTP/1.1\r\nHost: x.localhost\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n',
  );
});
