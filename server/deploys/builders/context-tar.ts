import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import type { IgnoreMatcher } from '../../../common/ignore-rules';

/**
 * A build context: the files under dir that the matcher keeps, as a tar stream (GNU tar reading
 * a NUL-separated list, so names with any characters survive). Symlinks are sent as links, never
 * followed; `always` (the Dockerfile, .dockerignore) go in whatever the rules say.
 */
export function listKept(dir: string, ignored: IgnoreMatcher, always: string[] = []): string[] {
  const kept: string[] = [];
  const walk = (rel: string) => {
    for (const entry of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const p = rel ? `${rel}/${entry.name}` : entry.name;
      const isDir = entry.isDirectory();
      if (ignored(p, isDir)) {
        // Docker: an ignored directory may still hold re-included (!) files; look inside.
        if (isDir) walk(p);
        continue;
      }
      kept.push(p);
      if (isDir) walk(p);
    }
  };
  walk('');
  for (const a of always) if (!kept.includes(a) && fs.existsSync(path.join(dir, a))) kept.push(a);
  return kept;
}

export function tarOf(dir: string, files: string[]): Readable {
  const tar = spawn(
    'tar',
    ['-c', '-f', '-', '-C', dir, '--no-recursion', '--null', '-T', '-', '--owner=0', '--group=0', '--numeric-owner'],
    {
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  tar.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  tar.stdin.on('error', () => undefined);
  tar.stdin.end(files.map((f) => `${f}\0`).join(''));
  // A tar that failed must not look like a short context: the stream errors instead.
  tar.on('close', (code) => {
    if (code !== 0)
      tar.stdout.destroy(new Error(`packing the build context failed: ${stderr.trim() || `tar exited with ${code}`}`));
  });
  return tar.stdout;
}
