import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { pack, type Header } from 'tar-stream';

/** Shared by the security tests: hostile archives and a victim directory to aim them at. */

export interface Entry {
  name: string;
  type?: Header['type'];
  body?: string;
  linkname?: string;
  mode?: number;
}

/** A tar (gzip-compressed when asked) holding exactly these entries, as a hostile tool would write. */
export async function makeTar(entries: Entry[], gzip = true): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  const reading = (async () => {
    for await (const d of p) chunks.push(d as Buffer);
  })();
  for (const e of entries) {
    const type = e.type ?? 'file';
    const body = Buffer.from(type === 'file' ? (e.body ?? '') : '');
    await new Promise<void>((res, rej) =>
      p.entry(
        {
          name: e.name,
          type,
          mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644),
          linkname: e.linkname,
          size: body.length,
          devmajor: 1,
          devminor: 5,
        },
        body,
        (err) => (err ? rej(err) : res()),
      ),
    );
  }
  p.finalize();
  await reading;
  const tar = Buffer.concat(chunks);
  return gzip ? zlib.gzipSync(tar) : tar;
}

/**
 * A real gzip bomb: one tar entry of `mib` MiB of zeros, built from concatenated gzip members
 * (a valid gzip stream) so the test never has to compress the whole expansion itself.
 */
export function sizeBomb(mib: number): Buffer {
  const zeros = zlib.gzipSync(Buffer.alloc(1024 * 1024), { level: 9 });
  return Buffer.concat([
    zlib.gzipSync(ustarHeader('bomb/zeros', mib * 1024 * 1024)),
    ...Array.from({ length: mib }, () => zeros),
    zlib.gzipSync(Buffer.alloc(1024)),
  ]);
}

/**
 * The start of a valid .tgz that never ends: a tar header declaring a 500 MiB file (under the
 * extraction cap), then `chunk()` as often as the reader takes it (incompressible, stored gzip
 * members), so only the download cap can stop it.
 */
export function endlessArchive(): { head: Buffer; chunk: Buffer } {
  return {
    head: zlib.gzipSync(ustarHeader('big/blob', 500 * 1024 * 1024)),
    chunk: zlib.gzipSync(randomBytes(1024 * 1024), { level: 0 }),
  };
}

/** A plain ustar header for one regular file (octal fields, checksum over the header). */
function ustarHeader(name: string, size: number): Buffer {
  const h = Buffer.alloc(512);
  const oct = (v: number, off: number, len: number) =>
    h.write(v.toString(8).padStart(len - 1, '0') + '\0', off, 'ascii');
  h.write(name, 0, 'utf8');
  oct(0o644, 100, 8);
  oct(0, 108, 8);
  oct(0, 116, 8);
  oct(size, 124, 12);
  oct(0, 136, 12);
  h.write('        ', 148, 'ascii');
  h.write('0', 156, 'ascii');
  h.write('ustar\0' + '00', 257, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
  return h;
}

/** An archive of `n` empty files (an entry-count bomb). */
export function countBomb(n: number): Promise<Buffer> {
  return makeTar(Array.from({ length: n }, (_, i) => ({ name: `many/f${i}` })));
}

/** Every path under dir with its type and content hash: equal snapshots mean nothing changed. */
export function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of fs.readdirSync(d).sort()) {
      const p = path.join(d, name);
      const st = fs.lstatSync(p);
      const what = st.isDirectory()
        ? 'dir'
        : st.isSymbolicLink()
          ? `link:${fs.readlinkSync(p)}`
          : st.isFile()
            ? `file:${createHash('sha256').update(fs.readFileSync(p)).digest('hex').slice(0, 16)}`
            : 'other';
      out.push(`${path.relative(dir, p)} ${what} ${(st.mode & 0o7777).toString(8)}`);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

/** A victim directory with a few files: hostile inputs aim at it, snapshots prove it untouched. */
export function makeVictim(base: string, secret: string): string {
  fs.mkdirSync(base, { recursive: true });
  const dir = fs.mkdtempSync(path.join(base, 'victim-'));
  fs.mkdirSync(path.join(dir, 'state'));
  fs.writeFileSync(path.join(dir, 'state', 'secret.key'), secret);
  fs.writeFileSync(path.join(dir, 'slipway.env'), `SLIPWAY_SECRET=${secret}\n`);
  return dir;
}

/**
 * The uid that owns the client end of a loopback TCP connection, read from /proc/net/tcp (the
 * kernel's socket table: local port in hex, then the owner's uid), given the port the server saw
 * the request come from. undefined when the socket is already gone.
 */
export function clientUid(remotePort: number): number | undefined {
  const hex = `:${remotePort.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const lines = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').slice(1) : [];
    for (const line of lines) {
      const f = line.trim().split(/\s+/);
      if (f.length > 7 && f[1].endsWith(hex)) return Number(f[7]);
    }
  }
  return undefined;
}
