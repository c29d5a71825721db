// Builds the web dashboard (dashboard/src, Preact + uPlot) into dist/dashboard: content-hashed,
// minified assets under assets/ and an index.html that names them. Run by `npm run build`.
// Fails when the JavaScript grows past the budget (150 KB gzipped, issue 21).
import * as esbuild from 'esbuild';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const out = path.join(root, 'dist', 'dashboard');
const BUDGET_GZ = 150 * 1024;

fs.rmSync(out, { recursive: true, force: true });
const result = await esbuild.build({
  entryPoints: { app: path.join(root, 'dashboard', 'src', 'main.tsx') },
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2020'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  outdir: path.join(out, 'assets'),
  entryNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  metafile: true,
  legalComments: 'none',
  logLevel: 'warning',
});

const outputs = Object.keys(result.metafile.outputs).map((f) =>
  path.relative(path.join(out, 'assets'), path.resolve(root, f)),
);
const js = outputs.filter((f) => f.endsWith('.js'));
const css = outputs.filter((f) => f.endsWith('.css'));
let gz = 0;
for (const f of js) gz += zlib.gzipSync(fs.readFileSync(path.join(out, 'assets', f)), { level: 9 }).length;
if (gz > BUDGET_GZ) {
  console.error(
    `build-dashboard: JavaScript is ${(gz / 1024).toFixed(1)} KB gzipped, over the ${BUDGET_GZ / 1024} KB budget`,
  );
  process.exit(1);
}
const template = fs.readFileSync(path.join(root, 'dashboard', 'index.html'), 'utf8');
const html = template
  .replace('<!--css-->', css.map((f) => `<link rel="stylesheet" href="/assets/${f}">`).join(''))
  .replace('<!--js-->', js.map((f) => `<script type="module" src="/assets/${f}"></script>`).join(''));
fs.writeFileSync(path.join(out, 'index.html'), html);
fs.writeFileSync(path.join(out, 'sizes.json'), JSON.stringify({ jsGzipBytes: gz, files: outputs }, null, 2));
console.log(`dashboard: ${outputs.join(', ')} (JS ${(gz / 1024).toFixed(1)} KB gzipped)`);
