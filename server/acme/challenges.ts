import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';

/**
 * Pending HTTP-01 challenges, published for the router in run/acme-challenges.json (temp file +
 * rename, like routes.json; format in docs/tls.md). The router answers
 * GET /.well-known/acme-challenge/TOKEN for a host listed here, before any app lookup, maintenance
 * page or https-only redirect. Only hosts with an order in progress are listed, and each token is
 * removed as soon as its challenge is settled.
 */
export interface ChallengesFile {
  version: 1;
  generatedAt: string;
  /** host → token → key authorization */
  challenges: Record<string, Record<string, string>>;
}

export interface ChallengeStore {
  add(host: string, token: string, keyAuthorization: string): void;
  remove(host: string, token: string): void;
  /**
   * Waits until the router serves the token (the router reads the file within milliseconds; a
   * 500 ms poll is its fallback), so the CA is never told to validate before the router knows.
   * Returns false if it did not within timeoutMs (the order goes on; the CA reports the outcome).
   */
  servedByRouter(host: string, token: string, keyAuthorization: string, timeoutMs?: number): Promise<boolean>;
}

function writeAtomic(file: string, content: string): void {
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  fs.writeFileSync(tmp, content, { mode: 0o644 });
  fs.renameSync(tmp, file);
}

export function createChallengeStore(opts: { file: string; routerHttpUrl: string | null }): ChallengeStore {
  const pending = new Map<string, Map<string, string>>();
  const write = () => {
    const doc: ChallengesFile = {
      version: 1,
      generatedAt: new Date().toISOString(),
      challenges: Object.fromEntries([...pending].map(([h, tokens]) => [h, Object.fromEntries(tokens)])),
    };
    fs.mkdirSync(path.dirname(opts.file), { recursive: true });
    writeAtomic(opts.file, `${JSON.stringify(doc, null, 2)}\n`);
  };
  // A restart forgets orders in flight: start from an empty file.
  write();

  const fetchToken = (host: string, token: string) =>
    new Promise<string>((resolve) => {
      const req = http.get(
        `${opts.routerHttpUrl}/.well-known/acme-challenge/${token}`,
        { headers: { host }, timeout: 1000 },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (body += d));
          res.on('end', () => resolve(res.statusCode === 200 ? body : ''));
        },
      );
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(''));
    });

  return {
    add(host, token, keyAuthorization) {
      const h = host.toLowerCase();
      if (!pending.has(h)) pending.set(h, new Map());
      pending.get(h)!.set(token, keyAuthorization);
      write();
    },
    remove(host, token) {
      const h = host.toLowerCase();
      const tokens = pending.get(h);
      if (!tokens?.delete(token)) return;
      if (tokens.size === 0) pending.delete(h);
      write();
    },
    async servedByRouter(host, token, keyAuthorization, timeoutMs = 3000) {
      if (!opts.routerHttpUrl) return false;
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if ((await fetchToken(host, token)) === keyAuthorization) return true;
        await new Promise((r) => setTimeout(r, 100));
      }
      return false;
    },
  };
}
