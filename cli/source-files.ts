import { execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { gitignore } from '../common/ignore-rules';

/**
 * The files of a directory that `slipway deploy DIR` uploads: in a git work tree, what git would
 * commit (`git ls-files --cached --others --exclude-standard`, so .gitignore'd files stay home);
 * elsewhere a walk that honours every .gitignore on the way down. .git itself never goes.
 */
const run = promisify(execFile);

export async function sourceFiles(dir: string): Promise<string[]> {
  try {
    const top = (await run('git', ['-C', dir, 'rev-parse', '--show-toplevel'])).stdout.trim();
    if (top && path.resolve(top) === fs.realpathSync(dir)) {
      const out = (
        await run('git', ['-C', dir, 'ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
          maxBuffer: 256 * 1024 * 1024,
        })
      ).stdout;
      return [...new Set(out.split('\0').filter(Boolean))].filter(
        (f) => fs.existsSync(path.join(dir, f)) || isLink(path.join(dir, f)),
      );
    }
  } catch {
    // not a git work tree (or no git): walk it
  }
  return walk(dir);
}

const isLink = (p: string) => {
  try {
    return fs.lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
};

function walk(root: string): string[] {
  const out: string[] = [];
  type Rules = Array<{ base: string; match: ReturnType<typeof gitignore> }>;
  const visit = (rel: string, rules: Rules) => {
    const here = path.join(root, rel);
    const own = path.join(here, '.gitignore');
    const all = fs.existsSync(own) ? [...rules, { base: rel, match: gitignore(fs.readFileSync(own, 'utf8')) }] : rules;
    for (const e of fs.readdirSync(here, { withFileTypes: true })) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.name === '.git') continue;
      const isDir = e.isDirectory();
      let ignored = false;
      // The deepest .gitignore with an opinion decides (git's precedence).
      for (const r of all) {
        const v = r.match(r.base ? p.slice(r.base.length + 1) : p, isDir);
        if (v !== undefined) ignored = v;
      }
      if (ignored) continue;
      if (isDir) visit(p, all);
      else out.push(p);
    }
  };
  visit('', []);
  return out;
}

/** A gzip'd tar of files under dir (GNU tar, names NUL-separated: any character survives); stop() ends it early. */
export function tarGz(dir: string, files: string[]): { stream: Readable; stop: () => void } {
  const tar = spawn('tar', ['-c', '-z', '-f', '-', '-C', dir, '--null', '--no-recursion', '-T', '-'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  tar.stdin.on('error', () => undefined);
  tar.stdin.end(files.map((f) => `${f}\0`).join(''));
  return {
    stream: tar.stdout,
    // A refused upload leaves tar blocked on a full pipe; it must not keep the CLI alive.
    stop: () => {
      tar.stdout.destroy();
      if (tar.exitCode === null) tar.kill();
    },
  };
}
