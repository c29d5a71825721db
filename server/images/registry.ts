import * as fs from 'node:fs';
import express, { type Request, type Response } from 'express';
import type { ImageStore } from '../../buildpacks/oci/layout';
import { checkBasicAuth, REGISTRY_USER } from './registry-auth';

/**
 * The read-only registry API (/v2/) over the image store, enough for Docker 20.10 to pull:
 * GET/HEAD /v2/, manifests by tag or digest, blobs (with Range), tags/list. Manifests are served
 * as their exact stored bytes with their own media type; every response carries
 * Docker-Content-Digest and Content-Length, which the Docker client requires.
 *
 * It answers loopback clients only unless allowRemote is set: it exists for the local dockerd,
 * which treats 127.0.0.0/8 registries as insecure and pulls over plain HTTP. Every request needs
 * HTTP Basic auth with the server's registry token (made at startup, held in memory: only the
 * server and, for the length of a pull, dockerd know it); without it the answer is a 401 with a
 * Basic challenge, which is what makes dockerd send the credential it was given for the pull.
 * A repository serves only the manifests and blobs its own tags reach, so knowing a digest of
 * another app's layer gets nothing. Mount it at the app root: it routes /v2/ itself.
 */
export interface RegistryDeps {
  store: ImageStore;
  /** The secret dockerd presents (user "slipway"). */
  token: string;
  allowRemote?: boolean;
}

const NAME_RE = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;
const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

function fail(res: Response, status: number, code: string, message: string, detail?: unknown): void {
  res.status(status).json({ errors: [{ code, message, ...(detail === undefined ? {} : { detail }) }] });
}

function isLoopback(addr: string | undefined): boolean {
  return !!addr && (addr.startsWith('127.') || addr === '::1' || addr.startsWith('::ffff:127.'));
}

export function createRegistryRouter(deps: RegistryDeps): express.Router {
  const { store } = deps;
  const router = express.Router();

  router.use('/v2', (req, res, next) => {
    res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
    if (!deps.allowRemote && !isLoopback(req.socket.remoteAddress)) {
      fail(res, 403, 'DENIED', 'the registry serves the local Docker daemon only');
      return;
    }
    if (!checkBasicAuth(req.headers.authorization, deps.token)) {
      res.setHeader('WWW-Authenticate', `Basic realm="slipway-registry"`);
      fail(
        res,
        401,
        'UNAUTHORIZED',
        `authentication required (user ${REGISTRY_USER} with the server's registry token)`,
      );
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      fail(res, 405, 'UNSUPPORTED', 'this registry is read-only');
      return;
    }
    next();
  });

  router.get('/v2', (_req, res) => void res.json({}));

  // Digests a manifest (or index) reaches: itself, its config and layers, an index's children.
  // Content-addressed, so never stale; bounded so a long-running server does not grow with it.
  const refsCache = new Map<string, string[]>();
  async function refsOf(digest: string, depth = 0): Promise<string[]> {
    const hit = refsCache.get(digest);
    if (hit) return hit;
    const out = [digest];
    if (!store.hasBlob(digest)) return out;
    try {
      const doc = (await store.readJson(digest)) as {
        config?: { digest?: string };
        layers?: Array<{ digest?: string }>;
        manifests?: Array<{ digest?: string }>;
      };
      if (doc.config?.digest) out.push(doc.config.digest);
      for (const l of doc.layers ?? []) if (l.digest) out.push(l.digest);
      if (depth < 2)
        for (const m of doc.manifests ?? []) if (m.digest) out.push(...(await refsOf(m.digest, depth + 1)));
    } catch {
      /* not JSON: reaches only itself */
    }
    if (refsCache.size > 10_000) refsCache.clear();
    refsCache.set(digest, out);
    return out;
  }
  async function reachable(name: string): Promise<Set<string>> {
    const out = new Set<string>();
    for (const t of await store.listTags()) {
      if (t.ref.startsWith(`${name}:`)) for (const d of await refsOf(t.descriptor.digest)) out.add(d);
    }
    return out;
  }

  router.use('/v2', async (req: Request, res: Response, next) => {
    try {
      const p = req.path.replace(/^\/+/, '');
      let m = /^(.+)\/manifests\/([^/]+)$/.exec(p);
      if (m) return await manifest(req, res, m[1], m[2]);
      m = /^(.+)\/blobs\/([^/]+)$/.exec(p);
      if (m) return await blob(req, res, m[1], m[2]);
      m = /^(.+)\/tags\/list$/.exec(p);
      if (m) return await tags(res, m[1]);
      if (p === '') return void res.json({});
      fail(res, 404, 'NOT_FOUND', `no route for ${req.path}`);
    } catch (err) {
      next(err);
    }
  });

  async function manifest(req: Request, res: Response, name: string, ref: string): Promise<void> {
    if (!NAME_RE.test(name)) return fail(res, 400, 'NAME_INVALID', `invalid repository name ${JSON.stringify(name)}`);
    let digest: string | undefined;
    if (DIGEST_RE.test(ref)) digest = (await reachable(name)).has(ref) && store.hasBlob(ref) ? ref : undefined;
    else if (TAG_RE.test(ref)) digest = (await store.resolve(`${name}:${ref}`))?.digest;
    else return fail(res, 400, 'MANIFEST_INVALID', `invalid reference ${JSON.stringify(ref)}`);
    if (!digest) return fail(res, 404, 'MANIFEST_UNKNOWN', `manifest unknown: ${name}:${ref}`);
    const bytes = await store.readBlob(digest);
    let mediaType: unknown;
    try {
      mediaType = (JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown }).mediaType;
    } catch {
      mediaType = undefined;
    }
    if (typeof mediaType !== 'string' || !/manifest|index/.test(mediaType))
      return fail(res, 404, 'MANIFEST_UNKNOWN', `${digest} is not a manifest`);
    res.setHeader('Content-Type', mediaType);
    res.setHeader('Docker-Content-Digest', digest);
    res.setHeader('Content-Length', String(bytes.length));
    res.setHeader('ETag', `"${digest}"`);
    if (req.method === 'HEAD') return void res.status(200).end();
    res.status(200).end(bytes);
  }

  async function blob(req: Request, res: Response, name: string, digest: string): Promise<void> {
    if (!NAME_RE.test(name)) return fail(res, 400, 'NAME_INVALID', `invalid repository name ${JSON.stringify(name)}`);
    if (!DIGEST_RE.test(digest)) return fail(res, 400, 'DIGEST_INVALID', `invalid digest ${JSON.stringify(digest)}`);
    // Unknown and not-yours answer alike: a digest of another app's layer learns nothing.
    if (!(await reachable(name)).has(digest) || !store.hasBlob(digest))
      return fail(res, 404, 'BLOB_UNKNOWN', `blob unknown to ${name}: ${digest}`);
    const file = store.blobPath(digest);
    const size = (await fs.promises.stat(file)).size;
    res.setHeader('Docker-Content-Digest', digest);
    res.setHeader('Content-Type', 'application/octet-stream');
    res.setHeader('Accept-Ranges', 'bytes');
    res.setHeader('ETag', `"${digest}"`);
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    let start = 0;
    let end = size - 1;
    if (range) {
      start = Number(range[1]);
      end = range[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
      if (start > end || start >= size) {
        res.setHeader('Content-Range', `bytes */${size}`);
        return void res.status(416).end();
      }
      res.status(206).setHeader('Content-Range', `bytes ${start}-${end}/${size}`);
    } else res.status(200);
    res.setHeader('Content-Length', String(end - start + 1));
    if (req.method === 'HEAD' || size === 0) return void res.end();
    const stream = fs.createReadStream(file, { start, end });
    stream.on('error', () => res.destroy());
    stream.pipe(res);
  }

  async function tags(res: Response, name: string): Promise<void> {
    if (!NAME_RE.test(name)) return fail(res, 400, 'NAME_INVALID', `invalid repository name ${JSON.stringify(name)}`);
    const list = (await store.listTags())
      .filter((t) => t.ref.startsWith(`${name}:`))
      .map((t) => t.ref.slice(name.length + 1))
      .sort();
    if (list.length === 0) return fail(res, 404, 'NAME_UNKNOWN', `repository ${name} is not known`);
    res.json({ name, tags: list });
  }

  return router;
}
