import { execFile, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { freePorts } from '../helpers/server';

const run = promisify(execFile);

/**
 * Let's Encrypt's test CA from Debian (`apt-get install pebble`) on loopback, with
 * pebble-challtestsrv as its DNS server (every name resolves to 127.0.0.1 unless told otherwise)
 * and `httpPort` set to the router's HTTP port, so HTTP-01 validation really connects to the
 * router. Debian ships no pebble test certificates: the TLS certificate of pebble's own API is
 * made here by a throwaway CA (caFile, for SLIPWAY_ACME_CA_FILE). Pids go to DIR/run/*.pid so
 * scripts/test.sh cleans up after a killed run.
 */
export interface Pebble {
  /** Known before start: the platform is configured with it, then started, then pebble (which needs the router's port). */
  directoryUrl: string;
  /** Starts pebble and its DNS; HTTP-01 validation connects to 127.0.0.1:httpPort. */
  start(httpPort: number): Promise<void>;
  /** PEM of the CA that signed pebble's API certificate (SLIPWAY_ACME_CA_FILE). */
  caFile: string;
  /** PEM of pebble's issuing root (from the management endpoint /roots/0). */
  issuingRoot(): Promise<string>;
  /** Makes the mock DNS answer `host` with these IPv4 addresses (127.0.0.2: nobody listens there). */
  resolve(host: string, addresses: string[]): Promise<void>;
  output(): string;
  stop(): Promise<void>;
}

async function waitListening(url: string, ca: string, child: ChildProcess, out: () => string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`pebble exited (${child.exitCode}):\n${out()}`);
    try {
      await get(url, ca);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`pebble did not answer at ${url}:\n${out()}`);
}

function get(url: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca, timeout: 2000 }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () =>
          res.statusCode === 200 ? resolve(body) : reject(new Error(`${url}: HTTP ${res.statusCode}`)),
        );
      })
      .on('error', reject)
      .on('timeout', function (this: { destroy(e: Error): void }) {
        this.destroy(new Error('timeout'));
      });
  });
}

export async function preparePebble(opts: { env?: Record<string, string> } = {}): Promise<Pebble> {
  const base = process.env.SLIPWAY_TEST_HOMES ?? '/var/tmp/slipway-test-homes';
  fs.mkdirSync(base, { recursive: true });
  const dir = fs.mkdtempSync(path.join(base, 'pebble-'));
  fs.mkdirSync(path.join(dir, 'run'));
  const f = (name: string) => path.join(dir, name);
  const ssl = (args: string[]) => run('openssl', args, { timeout: 60_000 });
  await ssl([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=slipway test pebble CA',
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.pem'),
  ]);
  await ssl([
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=localhost',
    '-keyout',
    f('key.pem'),
    '-out',
    f('csr.pem'),
  ]);
  fs.writeFileSync(f('ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  await ssl([
    'x509',
    '-req',
    '-in',
    f('csr.pem'),
    '-CA',
    f('ca.pem'),
    '-CAkey',
    f('ca.key'),
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    f('ext.cnf'),
    '-out',
    f('cert.pem'),
  ]);

  const [acmePort, mgmtPort, tlsPort, dnsPort, dnsMgmtPort] = await freePorts(5);
  const writeConfig = (httpPort: number) =>
    fs.writeFileSync(
      f('pebble.json'),
      JSON.stringify({
        pebble: {
          listenAddress: `127.0.0.1:${acmePort}`,
          managementListenAddress: `127.0.0.1:${mgmtPort}`,
          certificate: f('cert.pem'),
          privateKey: f('key.pem'),
          // Where pebble's validator connects for HTTP-01: the router's plain-HTTP listener.
          httpPort,
          tlsPort,
          ocspResponderURL: '',
          externalAccountBindingRequired: false,
        },
      }),
    );
  let out = '';
  const children: ChildProcess[] = [];
  const start = (name: string, cmd: string, args: string[], env: Record<string, string> = {}) => {
    const child = spawn(cmd, args, {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    fs.writeFileSync(path.join(dir, 'run', `${name}.pid`), String(child.pid));
    children.push(child);
    return child;
  };
  const stop = async () => {
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            c.once('exit', () => resolve());
            c.kill('SIGTERM');
            setTimeout(() => c.kill('SIGKILL'), 5000).unref();
          }),
      ),
    );
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const ca = fs.readFileSync(f('ca.pem'), 'utf8');
  const startAll = async (httpPort: number) => {
    writeConfig(httpPort);
    try {
      // Mock DNS only: its own challenge servers are off (the router is the HTTP-01 server); no AAAA
      // answers, so validation goes to 127.0.0.1 where the router listens.
      start('challtestsrv', 'pebble-challtestsrv', [
        '-dns01',
        `127.0.0.1:${dnsPort}`,
        '-http01',
        '',
        '-https01',
        '',
        '-tlsalpn01',
        '',
        '-management',
        `127.0.0.1:${dnsMgmtPort}`,
        '-defaultIPv4',
        '127.0.0.1',
        '-defaultIPv6',
        '',
      ]);
      // Real validation (no PEBBLE_VA_ALWAYS_VALID), without pebble's random 0-15 s validation sleeps;
      // no random nonce rejections and no authorization reuse, so every order validates anew.
      const pebble = start('pebble', 'pebble', ['-config', f('pebble.json'), '-dnsserver', `127.0.0.1:${dnsPort}`], {
        PEBBLE_VA_NOSLEEP: '1',
        PEBBLE_WFE_NONCEREJECT: '0',
        PEBBLE_AUTHZREUSE: '0',
        ...opts.env,
      });
      await waitListening(`https://127.0.0.1:${acmePort}/dir`, ca, pebble, () => out);
    } catch (err) {
      await stop();
      throw err;
    }
  };
  return {
    directoryUrl: `https://127.0.0.1:${acmePort}/dir`,
    start: startAll,
    caFile: f('ca.pem'),
    issuingRoot: () => get(`https://127.0.0.1:${mgmtPort}/roots/0`, ca),
    async resolve(host, addresses) {
      const res = await fetch(`http://127.0.0.1:${dnsMgmtPort}/add-a`, {
        method: 'POST',
        body: JSON.stringify({ host, addresses }),
      });
      if (!res.ok) throw new Error(`challtestsrv add-a: HTTP ${res.status} ${await res.text()}`);
    },
    output: () => out,
    stop,
  };
}
