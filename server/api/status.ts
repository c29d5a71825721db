import { execFile } from 'node:child_process';
import * as http from 'node:http';
import * as fs from 'node:fs';
import { promisify } from 'node:util';
import { Router } from 'express';
import { VERSION } from '../../common/version';
import { auth, type ApiDeps } from './context';

const run = promisify(execFile);
const DISK_TTL_MS = 30_000;
/** The router answers /healthz only for this Host (no app host lacks a dot): docs/router.md. */
export const ROUTER_HEALTH_HOST = 'slipway-router';

/** GET with an explicit Host header (fetch cannot set one). */
export function getWithHost(url: string, host: string, timeoutMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { host }, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d.length + body.length > 65536 ? '' : d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

interface Health {
  status: 'ok' | 'down' | 'unknown';
  [k: string]: unknown;
}

/** Bytes used under each folder (`du -sb`, hard links counted once per folder). */
async function du(dirs: Record<string, string>): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  await Promise.all(
    Object.entries(dirs).map(async ([k, dir]) => {
      if (!fs.existsSync(dir)) return void (out[k] = 0);
      try {
        const { stdout } = await run('du', ['-sb', dir], { timeout: 20_000 });
        out[k] = Number(stdout.split('\t')[0]) || 0;
      } catch {
        out[k] = -1;
      }
    }),
  );
  return out;
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>(
        (_, reject) => (t = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms)),
      ),
    ]);
  } finally {
    clearTimeout(t);
  }
}

/**
 * `slipway status`: versions; health of the server, the router (its /healthz) and dockerd; URLs
 * and ports; the domain; disk used by images, caches, repositories, builds and logs (cached for
 * 30 s: du over a large store takes a while); per app, dynos and disk when the runtime reports it.
 */
export function createStatusRoutes(
  deps: Pick<ApiDeps, 'state' | 'config' | 'paths' | 'acme' | 'docker' | 'routerHealthUrl' | 'runtime'>,
): Router {
  const r = Router();
  const { config, paths } = deps;
  const host = config.bindHost === '0.0.0.0' || config.bindHost === '::' ? '127.0.0.1' : config.bindHost;
  const routerUrl = deps.routerHealthUrl ?? `http://${host}:${config.httpPort}/healthz`;
  let disk: { at: number; value: Promise<Record<string, number>> } | undefined;
  const started = Date.now();

  async function routerHealth(): Promise<Health> {
    try {
      const { status, body } = await getWithHost(routerUrl, ROUTER_HEALTH_HOST, 1500);
      let j: Record<string, unknown> = {};
      try {
        j = JSON.parse(body) as Record<string, unknown>;
      } catch {
        // not JSON: reported by status code alone
      }
      return {
        ...j,
        status: status === 200 ? 'ok' : 'down',
        url: routerUrl,
        ...(status === 200 ? {} : { error: `HTTP ${status}` }),
      };
    } catch (err) {
      return { status: 'down', url: routerUrl, error: (err as NodeJS.ErrnoException).code ?? (err as Error).message };
    }
  }

  async function dockerHealth(): Promise<Health> {
    try {
      const v = await withTimeout(deps.docker.version(), 3000, 'dockerd');
      return { status: 'ok', version: v.Version, apiVersion: v.ApiVersion };
    } catch (err) {
      return { status: 'down', error: (err as Error).message };
    }
  }

  r.get('/status', async (_req, res) => {
    const { user } = auth(res);
    if (!disk || Date.now() - disk.at > DISK_TTL_MS) {
      disk = {
        at: Date.now(),
        value: du({
          images: paths.images,
          caches: paths.caches,
          repos: paths.repos,
          builds: paths.builds,
          logs: paths.logs,
        }),
      };
    }
    const [router, docker, diskUse] = await Promise.all([routerHealth(), dockerHealth(), disk.value]);
    const visible = user.isAdmin ? deps.state.apps.list() : deps.state.apps.listForUser(user.id);
    const apps = await Promise.all(
      visible.map(async (a) => {
        const row: Record<string, unknown> = { name: a.name };
        try {
          const dynos = await deps.runtime.listDynos(a.name);
          row.dynos = dynos.length;
          row.dynosUp = dynos.filter((d) => d.state === 'up').length;
          const u = await withTimeout(deps.runtime.diskUsage(a.name), 5000, 'disk usage');
          Object.assign(row, { imageBytes: u.images, cacheBytes: u.cache, repoBytes: u.repo });
        } catch (err) {
          row.error = (err as Error).message;
        }
        return row;
      }),
    );
    const portSuffix = config.httpPort === 80 ? '' : `:${config.httpPort}`;
    res.json({
      version: VERSION,
      server: {
        status: 'ok',
        version: VERSION,
        pid: process.pid,
        node: process.version,
        uptimeS: Math.round((Date.now() - started) / 1000),
      },
      router,
      docker,
      domain: config.domain,
      urls: {
        api: `http://${host}:${config.apiPort}`,
        git: `http://${host}:${config.apiPort}/APP.git`,
        apps: `http://APP.${config.domain}${portSuffix}/`,
      },
      ports: { api: config.apiPort, http: config.httpPort, https: config.httpsPort },
      home: user.isAdmin ? config.home : undefined,
      disk: diskUse,
      apps,
      // Certificates that expire without a renewal in sight (failed ACME renewals, uploaded ones near expiry).
      certificates: {
        acme: config.acme
          ? { directoryUrl: config.acme.directoryUrl, email: user.isAdmin ? config.acme.email : undefined }
          : null,
        expiring: deps.acme
          .expiring()
          .filter((c) => user.isAdmin || (c.app !== null && visible.some((a) => a.name === c.app))),
      },
    });
  });

  // Stacks: read for everyone; rebuilding is for admins (stacks:update, wired when the stack service is).
  return r;
}
