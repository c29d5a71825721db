#!/usr/bin/env node
// The import-boundary rule: buildpacks/, stacks/, router/ and common/ never import server/;
// server/ never imports router/ (shared contracts live in common/); common/ imports nothing of
// ours; cli/ reaches the server over HTTP only. A TypeScript-aware check of every relative import
// (static, type-only, re-exports, dynamic import() with a quoted or template string, and
// require), run by `npm run lint`.
//
// The settings rule: settings are read from the environment only in common/config.ts. Anywhere
// else (tests and bench excepted) a read of a SLIPWAY_* variable, or of process.env as a whole,
// fails the lint; assigning to it (the git hook's socket, handed to child processes) is allowed. cli/ is a separate program whose per-user
// settings come in as an `env` parameter; server/git/hook-client.ts reads what the server handed
// its git child processes (docs/git-push.md), not settings.
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const rules = [
  { from: 'buildpacks', forbid: ['server', 'cli', 'router'] },
  { from: 'stacks', forbid: ['server', 'cli', 'router'] },
  { from: 'router', forbid: ['server', 'cli', 'buildpacks', 'stacks'] },
  { from: 'server', forbid: ['router', 'cli'] },
  { from: 'common', forbid: ['server', 'cli', 'router', 'buildpacks', 'stacks'] },
  { from: 'cli', forbid: ['server', 'router'] },
];
const importRe =
  /(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|import\(\s*(?:['"]([^'"]+)['"]|`([^`$]+)`)\s*[,)]|require\(\s*['"]([^'"]+)['"]\s*\)/g;
const envDirs = ['server', 'router', 'common', 'buildpacks', 'stacks'];
const envAllowed = new Set(['common/config.ts', 'server/git/hook-client.ts']);
// A read of a SLIPWAY_* setting (not an assignment), or the environment as a whole / by a computed
// key (process.env[key], f(process.env)). Named reads of the system's variables (PATH, HOME) for a
// child process's environment are not settings and are allowed.
const envReadRe = /process\.env\b(?:\.SLIPWAY_\w+\b(?!\s*=(?!=))|(?!\.[A-Za-z_$]))/g;

function* walk(dir) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'node_modules' && e.name !== 'builtin') yield* walk(p);
    } else if (/\.(ts|mts|cts)$/.test(e.name) && !e.name.endsWith('.d.ts')) yield p;
  }
}

/** The source without comments, same length (so offsets still give line numbers). */
function stripComments(src) {
  return src.replace(
    /\/\*[\s\S]*?\*\/|(^|[^:'"`\\])\/\/[^\n]*/g,
    (m, pre = '') => pre + m.slice(pre.length).replace(/[^\n]/g, ' '),
  );
}

let problems = 0;
const report = (file, src, index, message) => {
  const line = src.slice(0, index).split('\n').length;
  console.error(`${path.relative(root, file)}:${line}: ${message}`);
  problems++;
};

for (const rule of rules) {
  const dir = path.join(root, rule.from);
  if (!fs.existsSync(dir)) continue;
  for (const file of walk(dir)) {
    const src = stripComments(fs.readFileSync(file, 'utf8'));
    for (const m of src.matchAll(importRe)) {
      const spec = m[1] ?? m[2] ?? m[3] ?? m[4];
      if (!spec.startsWith('.')) continue;
      const target = path.relative(root, path.resolve(path.dirname(file), spec)).split(path.sep)[0];
      if (rule.forbid.includes(target))
        report(file, src, m.index, `${rule.from}/ must not import ${target}/ ("${spec}")`);
    }
  }
}

for (const d of envDirs) {
  const dir = path.join(root, d);
  if (!fs.existsSync(dir)) continue;
  for (const file of walk(dir)) {
    const rel = path.relative(root, file).split(path.sep).join('/');
    if (envAllowed.has(rel)) continue;
    const src = stripComments(fs.readFileSync(file, 'utf8'));
    for (const m of src.matchAll(envReadRe)) {
      report(
        file,
        src,
        m.index,
        'reads process.env: settings are read only in common/config.ts (add it to loadConfig and pass it down)',
      );
    }
  }
}

if (problems) {
  console.error(
    `\n${problems} problem(s). See docs/architecture.md (Import rule; settings are read in common/config.ts).`,
  );
  process.exit(1);
}
console.log('import boundaries ok; settings read only in common/config.ts');
