import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DIST, type TestServer } from '../helpers/server';
import { api, git, gitUrl, makeRepo } from './git-helpers';

/** Shared by the push-journey*.test.ts files (issue 14). */

export const CLI = path.join(DIST, 'cli', 'main.js');

/**
 * A Procfile-only app (no buildpack installs anything, so a build takes a second or two): a tiny
 * HTTP server in Perl (perl-base is in every Debian image) answering with marker.txt.
 */
export const WEB_PL = `use IO::Socket::INET;
die "crash requested by GREETING\n" if ($ENV{GREETING} // '') eq 'crash';
sleep($ENV{BOOT_DELAY}) if $ENV{BOOT_DELAY};
my $s = IO::Socket::INET->new(LocalAddr => '0.0.0.0', LocalPort => $ENV{PORT}, Listen => 50, ReuseAddr => 1) or die "listen: $!";
$| = 1;
print "listening on $ENV{PORT}\\n";
while (my $c = $s->accept) {
  while (my $l = <$c>) { last if $l =~ /^\\r?\\n$/ }
  open(my $f, '<', 'marker.txt'); my $b = do { local $/; <$f> }; close $f;
  $b .= " GREETING=" . ($ENV{GREETING} // '');
  print $c "HTTP/1.0 200 OK\\r\\nContent-Type: text/plain\\r\\nContent-Length: " . length($b) . "\\r\\nConnection: close\\r\\n\\r\\n$b";
  close $c;
}
`;

export async function tinyApp(marker: string, extra: Record<string, string> = {}): Promise<string> {
  return makeRepo({ Procfile: 'web: perl web.pl\n', 'web.pl': WEB_PL, 'marker.txt': marker, ...extra });
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function cli(
  srv: TestServer,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env: opts.env ?? srv.cliEnv(), cwd: opts.cwd, timeout: opts.timeoutMs ?? 240_000 },
      (err, stdout, stderr) => {
        const code = err
          ? typeof (err as { code?: unknown }).code === 'number'
            ? (err as { code: number }).code
            : 1
          : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

interface Dyno {
  name: string;
  type: string;
  state: string;
  address: string | null;
  release: number;
}

/** What web.1 answers now (its marker.txt + GREETING), straight from the dyno's published port. */
export async function webBody(srv: TestServer, app: string): Promise<string> {
  const dynos = (await api<Dyno[]>(srv, 'GET', `/apps/${app}/dynos`)).body;
  const web = dynos.find((d) => d.type === 'web' && d.state === 'up' && d.address);
  if (!web) throw new Error(`no web dyno up: ${JSON.stringify(dynos)}`);
  const res = await fetch(`http://${web.address}/`, { signal: AbortSignal.timeout(3000) });
  return res.text();
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

/** A second clone of an app's repository (its own work tree, same remote). */
export async function cloneOf(srv: TestServer, app: string, dirs: string[]): Promise<string> {
  const dir = fs.mkdtempSync(path.join(fs.realpathSync(require('node:os').tmpdir()), 'slipway-clone-'));
  dirs.push(dir);
  const r = await git(['clone', '-q', gitUrl(srv, app), dir]);
  if (r.code !== 0) throw new Error(`clone: ${r.stderr}`);
  return dir;
}
