import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import * as http from 'node:http';
import { freePort } from '../helpers/server';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '..', '..', '..');
const HOMES = process.env.SLIPWAY_TEST_HOMES ?? '/var/tmp/slipway-test-homes';

/** The router answers /healthz for the reserved host name "slipway-router" only. */
function routerHealth(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/healthz', headers: { host: 'slipway-router' }, timeout: 3000 }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
      .on('error', reject);
  });
}

/**
 * install.sh as an operator runs it, into a temporary SLIPWAY_HOME with non-default ports:
 * both daemons become healthy, `slipway status --json` reports them, a second run keeps the
 * state, --uninstall stops them and --purge removes the home.
 */
test('install.sh installs, re-installs in place, and uninstalls', { timeout: 15 * 60_000 }, async () => {
  fs.mkdirSync(HOMES, { recursive: true });
  const home = fs.mkdtempSync(path.join(HOMES, 'install-'));
  const binDir = path.join(home, 'bin-dir');
  const cliConfig = path.join(home, 'cli-config');
  const [apiPort, httpPort, httpsPort] = [await freePort(), await freePort(), await freePort()];
  const env = {
    ...process.env,
    SLIPWAY_HOME: home,
    SLIPWAY_API_PORT: String(apiPort),
    SLIPWAY_HTTP_PORT: String(httpPort),
    SLIPWAY_HTTPS_PORT: String(httpsPort),
    SLIPWAY_DOMAIN: 'slipway.test',
    SLIPWAY_BIN_DIR: binDir,
    SLIPWAY_CONFIG_DIR: cliConfig,
  };
  const install = (...args: string[]) => run('bash', [path.join(ROOT, 'install.sh'), ...args], { env, maxBuffer: 64 * 1024 * 1024, timeout: 10 * 60_000 });
  const slipway = (...args: string[]) => run(path.join(binDir, 'slipway'), args, { env, timeout: 60_000 });
  try {
    const first = await install();
    assert.match(first.stdout, /API token \(shown once; stored only as a hash\): slw_/);
    assert.match(first.stdout, /slipway apps:create/);
    const token = /API token[^:]*: (slw_\S+)/.exec(first.stdout)![1];
    // The token is stored only as a hash.
    assert.equal(fs.readFileSync(path.join(home, 'state', 'slipway.db')).includes(token), false);

    const status = JSON.parse((await slipway('status', '--json')).stdout);
    const text = JSON.stringify(status);
    assert.match(text, /"server"/);
    assert.match(text, /"router"/);
    assert.match(text, new RegExp(String(httpPort)));
    assert.equal((await fetch(`http://127.0.0.1:${apiPort}/healthz`)).status, 200);
    assert.equal(await routerHealth(httpPort), 200);

    // State made between the two runs survives the re-install.
    await slipway('apps:create', 'kept-app');
    const serverPid = fs.readFileSync(path.join(home, 'run', 'server.pid'), 'utf8').trim();
    const second = await install();
    assert.doesNotMatch(second.stdout, /API token/, 'a second run must not mint a new admin token');
    assert.notEqual(fs.readFileSync(path.join(home, 'run', 'server.pid'), 'utf8').trim(), serverPid, 'daemons restarted (upgrade)');
    const apps = JSON.parse((await slipway('apps', '--json')).stdout) as Array<{ name: string }>;
    assert.ok(apps.some((a) => a.name === 'kept-app'), 'the app survived the re-install');
    const res = await fetch(`http://127.0.0.1:${apiPort}/api/apps`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200, 'the first token still works after the re-install');

    await install('--uninstall');
    await assert.rejects(fetch(`http://127.0.0.1:${apiPort}/healthz`), 'server stopped');
    await assert.rejects(routerHealth(httpPort), 'router stopped');
    assert.ok(fs.existsSync(path.join(home, 'state', 'slipway.db')), 'data kept without --purge');
    assert.equal(fs.existsSync(path.join(binDir, 'slipway')), false, 'slipway command removed');
    await install('--uninstall', '--purge');
    assert.equal(fs.existsSync(home), false, '--purge removes the home');
  } finally {
    await install('--uninstall', '--purge').catch(() => {});
    fs.rmSync(home, { recursive: true, force: true });
  }
});
