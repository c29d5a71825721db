#!/usr/bin/env node
// The import-boundary rule: buildpacks/, stacks/, router/ and common/ never import server/;
// common/ imports nothing of ours; cli/ reaches the server over HTTP only. A TypeScript-aware
// check of every relative import (static, dynamic and require), run by `npm run lint`.
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const rules = [
  { from: 'buildpacks', forbid: ['server', 'cli', 'router'] },
  { from: 'stacks', forbid: ['server', 'cli', 'router'] },
  { from: 'router', forbid: ['server', 'cli', 'buildpacks', 'stacks'] },
  { from: 'common', forbid: ['server', 'cli', 'router', 'buildpacks', 'stacks'] },
  { from: 'cli', forbid: ['server', 'router'] },
];
const importRe = /(?:import|export)\s[^'"`]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|require\(\s*['"]([^'"]+)['"]\s*\)/g;

function* walk(dir) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'node_modules' && e.name !== 'builtin') yield* walk(p);
    } else if (/\.(ts|mts|cts)$/.test(e.name) && !e.name.endsWith('.d.ts')) yield p;
  }
}

let problems = 0;
for (const rule of rules) {
  const dir = path.join(root, rule.from);
  if (!fs.existsSync(dir)) continue;
  for (const file of walk(dir)) {
    const src = fs.readFileSync(file, 'utf8');
    for (const m of src.matchAll(importRe)) {
      const spec = m[1] ?? m[2] ?? m[3];
      if (!spec.startsWith('.')) continue;
      const target = path.relative(root, path.resolve(path.dirname(file), spec)).split(path.sep)[0];
      if (rule.forbid.includes(target)) {
        const line = src.slice(0, m.index).split('\n').length;
        console.error(`${path.relative(root, file)}:${line}: ${rule.from}/ must not import ${target}/ ("${spec}")`);
        problems++;
      }
    }
  }
}
if (problems) {
  console.error(`\n${problems} import-boundary violation(s). See docs/architecture.md (Import rule).`);
  process.exit(1);
}
console.log('import boundaries ok');
