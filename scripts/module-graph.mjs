#!/usr/bin/env node
// Prints the module diagram of docs/architecture.md as Mermaid: one node per folder (server/ and
// buildpacks/ by subfolder), one edge per folder-to-folder import (static, type-only and dynamic).
// Regenerate with `node scripts/module-graph.mjs` after moving code between folders.
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const tops = ['common', 'server', 'router', 'buildpacks', 'stacks', 'cli'];
const importRe =
  /(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|import\(\s*(?:['"]([^'"]+)['"]|`([^`$]+)`)\s*[,)]|require\(\s*['"]([^'"]+)['"]\s*\)/g;

function* walk(dir) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'node_modules' && e.name !== 'builtin') yield* walk(p);
    } else if (/\.ts$/.test(e.name) && !e.name.endsWith('.d.ts')) yield p;
  }
}

/** server/deploys/builders/x.ts → server/deploys; common/x.ts → common. */
function moduleOf(file) {
  const parts = path.relative(root, file).split(path.sep);
  if ((parts[0] === 'server' || parts[0] === 'buildpacks') && parts.length > 2) return `${parts[0]}/${parts[1]}`;
  return parts[0];
}

const edges = new Set();
const nodes = new Set();
for (const top of tops) {
  for (const file of walk(path.join(root, top))) {
    const from = moduleOf(file);
    nodes.add(from);
    for (const m of fs.readFileSync(file, 'utf8').matchAll(importRe)) {
      const spec = m[1] ?? m[2] ?? m[3] ?? m[4];
      if (!spec.startsWith('.')) continue;
      let target = path.resolve(path.dirname(file), spec);
      if (!tops.includes(path.relative(root, target).split(path.sep)[0])) continue;
      if (fs.existsSync(target) && fs.statSync(target).isDirectory()) target = path.join(target, 'index.ts');
      const to = moduleOf(target.endsWith('.ts') ? target : `${target}.ts`);
      if (to !== from) edges.add(`${from} --> ${to}`);
    }
  }
}
const id = (n) => n.replace(/[/.-]/g, '_');
const lines = ['```mermaid', 'graph LR'];
for (const n of [...nodes].sort()) lines.push(`  ${id(n)}["${n}"]`);
for (const e of [...edges].sort()) {
  const [a, b] = e.split(' --> ');
  lines.push(`  ${id(a)} --> ${id(b)}`);
}
lines.push('```');
console.log(lines.join('\n'));
