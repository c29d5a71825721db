import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpDir } from '../helpers/home';
import { createLangHarness, type LangHarness } from './lang-build';
import { GO_PROXY_ENV, goProxyApp, goStdlibApp, goVendoredApp, writeFiles } from './python-go-fixtures';

// slipway/go through the real lifecycle on the bookworm stack, offline: modules come from vendor/
// or from a file:// GOPROXY the test writes into the app. All builds share one app build cache
// ("go"), so the toolchain is downloaded from Debian and the standard library compiled once.
// (go.mod asking for a newer Go, then the same app on trixie, is in python-go-push.test.ts.)

let h: LangHarness;
const dirs: string[] = [];
before(async () => {
  h = await createLangHarness('go');
});
after(() => {
  h?.cleanup();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function appDir(): string {
  const d = tmpDir('slipway-go-');
  dirs.push(d);
  return d;
}

test('stdlib-only module: Go from Debian in a cache-only layer, web runs the module binary as uid 1000, only the binary ships; warm one-line change rebuilds incrementally', async (t) => {
  const dir = appDir();
  goStdlibApp(dir);
  const cold = await h.build(dir, { cache: 'go' });
  assert.ok(cold.ok, `${cold.error}\n${cold.output}`);
  t.diagnostic(`cold build ${cold.result!.phaseTimings.total} ms`);
  assert.match(cold.output, /Go app detected \(slipway\/go@1\.0\.0\)/);
  assert.match(cold.output, /Installing Go from Debian: golang-1\.19-go/);
  assert.match(cold.output, /No required modules \(standard library only\)/);
  assert.match(cold.output, /web: hello \(the module's main binary; no Procfile\)/);
  assert.equal(await h.serve(cold.result!), 'hello from go; uid 1000');
  // The toolchain and caches are cache-only layers: the image has the binary and nothing else of Go.
  assert.equal(await h.exec(cold.result!, 'ls /layers/slipway_go; command -v go || echo no-go'), 'bin\nno-go');

  fs.writeFileSync(
    path.join(dir, 'main.go'),
    fs.readFileSync(path.join(dir, 'main.go'), 'utf8').replace('hello from go', 'hello again from go'),
  );
  const warm = await h.build(dir, { cache: 'go' });
  assert.ok(warm.ok, warm.error);
  t.diagnostic(`warm build ${warm.result!.phaseTimings.total} ms`);
  assert.match(warm.output, /Using cached Go 1\.19\.\d+ \(the bookworm stack's golang-1\.19-go\)/);
  assert.doesNotMatch(warm.output, /Installing Go/);
  assert.equal(await h.serve(warm.result!), 'hello again from go; uid 1000');
});

test('vendored modules: vendor/ is used without any download', async () => {
  const dir = appDir();
  goVendoredApp(dir);
  // No proxy is reachable: a download attempt would fail the build.
  const b = await h.build(dir, { cache: 'go', env: { GOPROXY: 'off' } });
  assert.ok(b.ok, `${b.error}\n${b.output}`);
  assert.match(b.output, /Using vendor\/ \(1 modules; no downloads\)/);
  assert.match(b.output, /web: vendored/);
  assert.equal(await h.serve(b.result!), 'hello from vendored go; uid 1000; greet v1.0.0 (vendored)');
});

test('a file:// GOPROXY and GONOSUMDB from config vars; warm rebuild reuses the module cache; GO_INSTALL_PACKAGE_SPEC and a Procfile', async () => {
  const dir = appDir();
  goProxyApp(dir);
  const b = await h.build(dir, { cache: 'go', env: GO_PROXY_ENV });
  assert.ok(b.ok, `${b.error}\n${b.output}`);
  assert.match(b.output, /go mod download \(GOPROXY=file:\/\/\/app\/\.goproxy\)/);
  assert.equal(await h.serve(b.result!), 'hello from proxied go; uid 1000; greet v1.0.0 (file proxy)');

  const warm = await h.build(dir, { cache: 'go', env: GO_PROXY_ENV });
  assert.ok(warm.ok, warm.error);
  assert.match(warm.output, /Reusing the module cache: go\.mod and go\.sum unchanged \(no downloads\)/);
  assert.doesNotMatch(warm.output, /go mod download/);

  writeFiles(dir, {
    'cmd/worker/main.go': 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("worker ran") }\n',
    Procfile: 'web: proxied\nworker: worker\n',
  });
  const spec = await h.build(dir, { cache: 'go', env: { ...GO_PROXY_ENV, GO_INSTALL_PACKAGE_SPEC: '. ./cmd/worker' } });
  assert.ok(spec.ok, `${spec.error}\n${spec.output}`);
  assert.match(spec.output, /GO_INSTALL_PACKAGE_SPEC: \. \.\/cmd\/worker/);
  assert.match(spec.output, /The Procfile defines the processes/);
  assert.equal(await h.exec(spec.result!, 'worker'), 'worker ran');
});

test('go.mod asking for a newer Go than the stack has fails before downloading, naming the stack that has it', async () => {
  const dir = appDir();
  goStdlibApp(dir, '1.22');
  const b = await h.build(dir, { cache: 'go-newer' });
  assert.equal(b.ok, false);
  assert.match(
    b.output,
    /go\.mod needs Go 1\.22 \(its go line\), and the bookworm stack has Go 1\.19\. Stacks: bookworm: Go 1\.19, trixie: Go 1\.24\./,
  );
  assert.match(b.output, /Switch the app to the trixie stack: slipway stack:set trixie -a APP/);
  assert.doesNotMatch(b.output, /Installing Go/);
});
