import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Offline package sources for the Python and Go tests (only the npm registry and Debian's mirrors
 * are reachable here): pure-Python wheels built by test/fixtures/python/make-wheel.py from tiny
 * local packages, and Go modules written as a vendor/ tree or as a file:// GOPROXY directory.
 * The packages named django and gunicorn are STAND-INS (see their docstrings): they exercise the
 * buildpack's collectstatic step and default Django process, not the real projects.
 */
const FIX = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'python');

export function writeFiles(dir: string, files: Record<string, string>): void {
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), content);
  }
}

/** Builds a wheel of test/fixtures/python/pkgs/PKG into outDir; returns its path. */
export function wheel(outDir: string, pkg: string, version: string, ...extra: string[]): string {
  return execFileSync(
    'python3',
    [path.join(FIX, 'make-wheel.py'), outDir, pkg, version, path.join(FIX, 'pkgs', pkg), ...extra],
    { encoding: 'utf8' },
  ).trim();
}

export const sha256File = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

/** wheels/ with tinywsgi (a console script serving a WSGI app on $PORT) and greeting (a library). */
export function pythonWheels(appDir: string, greetingVersion = '1.0'): { greeting: string; tinywsgi: string } {
  const dir = path.join(appDir, 'wheels');
  return {
    tinywsgi: wheel(dir, 'tinywsgi', '1.0', 'console_script=tinywsgi=tinywsgi:main'),
    greeting: wheel(dir, 'greeting', greetingVersion),
  };
}

/** The WSGI app every Python fixture serves: greeting's text, the uid and the Python version. */
export const WSGI_APP = `import os, sys
import greeting

def app(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    body = '%s; uid %d; python %d.%d' % (greeting.hello('flask-style app'), os.getuid(), *sys.version_info[:2])
    return [body.encode()]
`;

/** A requirements.txt app with its own --find-links wheel directory and --no-index. */
export function flaskStyleApp(dir: string, greetingVersion = '1.0'): void {
  pythonWheels(dir, greetingVersion);
  writeFiles(dir, {
    'requirements.txt': `--no-index\n--find-links ./wheels\ntinywsgi==1.0\ngreeting==${greetingVersion}\n`,
    'app.py': WSGI_APP,
    Procfile: 'web: tinywsgi app:app\n',
  });
}

export const GO_MAIN = (text: string, imports = '', call = '') => `package main

import (
	"fmt"
	"net/http"
	"os"
${imports}
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s; uid %d%s", ${JSON.stringify(text)}, os.Getuid(), ${call || '""'})
	})
	http.ListenAndServe(":"+os.Getenv("PORT"), nil)
}
`;

const GREET_GO = (version: string) => `package greet

// Hello is the library function the test apps call.
func Hello() string { return "; greet ${version}" }
`;

/** A stdlib-only Go module (go line as given). */
export function goStdlibApp(dir: string, goLine = '1.19', text = 'hello from go'): void {
  writeFiles(dir, { 'go.mod': `module example.com/hello\n\ngo ${goLine}\n`, 'main.go': GO_MAIN(text) });
}

/** A module that requires example.com/greet v1.0.0 through vendor/. */
export function goVendoredApp(dir: string): void {
  writeFiles(dir, {
    'go.mod': 'module example.com/vendored\n\ngo 1.19\n\nrequire example.com/greet v1.0.0\n',
    'main.go': GO_MAIN('hello from vendored go', '\t"example.com/greet"', 'greet.Hello()'),
    'vendor/modules.txt': '# example.com/greet v1.0.0\n## explicit\nexample.com/greet\n',
    'vendor/example.com/greet/greet.go': GREET_GO('v1.0.0 (vendored)'),
  });
}

/** Go's dirhash "h1:" of files by name (golang.org/x/mod/sumdb/dirhash Hash1): zip entries are
 * named MODULE@VERSION/path; the go.mod line of go.sum hashes one file named just "go.mod". */
function h1(files: Record<string, string>): string {
  const summary = Object.keys(files)
    .sort()
    .map((name) => `${createHash('sha256').update(files[name]).digest('hex')}  ${name}\n`)
    .join('');
  return `h1:${createHash('sha256').update(summary).digest('base64')}`;
}

/**
 * A module that requires example.com/greet v1.0.0 from a file:// GOPROXY inside the app source
 * (.goproxy, reachable from the build container as /app/.goproxy), with a real go.sum.
 */
export function goProxyApp(dir: string): void {
  const mod = 'example.com/greet';
  const version = 'v1.0.0';
  const goMod = `module ${mod}\n\ngo 1.19\n`;
  const prefix = `${mod}@${version}`;
  const files = { [`${prefix}/go.mod`]: goMod, [`${prefix}/greet.go`]: GREET_GO(`${version} (file proxy)`) };
  const at = path.join(dir, '.goproxy', mod, '@v');
  fs.mkdirSync(at, { recursive: true });
  fs.writeFileSync(path.join(at, 'list'), `${version}\n`);
  fs.writeFileSync(
    path.join(at, `${version}.info`),
    JSON.stringify({ Version: version, Time: '2026-01-01T00:00:00Z' }),
  );
  fs.writeFileSync(path.join(at, `${version}.mod`), goMod);
  const staging = fs.mkdtempSync(path.join(dir, '.zip-'));
  writeFiles(staging, files);
  execFileSync('python3', [
    '-c',
    'import sys, zipfile, os\nz = zipfile.ZipFile(sys.argv[1], "w")\nfor n in sys.argv[3:]: z.write(os.path.join(sys.argv[2], n), n)\nz.close()',
    path.join(at, `${version}.zip`),
    staging,
    ...Object.keys(files),
  ]);
  fs.rmSync(staging, { recursive: true, force: true });
  writeFiles(dir, {
    'go.mod': `module example.com/proxied\n\ngo 1.19\n\nrequire ${mod} ${version}\n`,
    'go.sum': `${mod} ${version} ${h1(files)}\n${mod} ${version}/go.mod ${h1({ 'go.mod': goMod })}\n`,
    'main.go': GO_MAIN('hello from proxied go', `\t"${mod}"`, 'greet.Hello()'),
  });
}

/** The config vars that point Go at the app's file:// proxy (the checksum database is not reachable). */
export const GO_PROXY_ENV = { GOPROXY: 'file:///app/.goproxy', GONOSUMDB: 'example.com' };
