/**
 * The pre-receive hook's body (run by hooks/pre-receive as `node hook-client.js`, inside the git
 * receive-pack the server spawned). It asks the server what the push means, streams
 * `git archive <rev>` of the commit to build, and relays the build's output to stdout, which git
 * shows the pushing client as `remote:` lines. Exit 0 lets git update the ref; anything else
 * rejects the push and leaves the ref alone.
 *
 * Everything it needs comes from the environment the server set (SLIPWAY_HOOK_SOCKET, a Unix
 * socket under SLIPWAY_HOME/run; SLIPWAY_HOOK_SECRET, the server's per-process secret). The
 * server knows which push this is by the hook's parent process: the receive-pack it spawned.
 * Nothing from the push reaches a shell.
 */
import { spawn } from 'node:child_process';
import * as http from 'node:http';

export const EXIT_MARK = '\x1eslipway-exit:';

const socketPath = process.env.SLIPWAY_HOOK_SOCKET ?? '';
const secret = process.env.SLIPWAY_HOOK_SECRET ?? '';

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

function request(
  pathname: string,
  opts: { json?: unknown; body?: NodeJS.ReadableStream; headers?: Record<string, string> },
): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      socketPath,
      path: pathname,
      method: 'POST',
      headers: {
        'x-slipway-secret': secret,
        'x-slipway-push-pid': String(process.ppid),
        'content-type': opts.json !== undefined ? 'application/json' : 'application/x-tar',
        ...opts.headers,
      },
    });
    req.on('response', resolve);
    req.on('error', reject);
    if (opts.body) opts.body.pipe(req);
    else req.end(JSON.stringify(opts.json));
  });
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  let s = '';
  for await (const chunk of stream) s += chunk.toString();
  return s;
}

async function main(): Promise<number> {
  const updates = await readAll(process.stdin);
  const planRes = await request('/plan', { json: { updates } });
  const plan = JSON.parse(await readAll(planRes)) as { ok: boolean; lines?: string[]; build?: { rev: string } };
  for (const line of plan.lines ?? []) say(line);
  if (planRes.statusCode !== 200 || !plan.ok) return 1;
  if (!plan.build) return 0;

  // The commit's subject names the build and release (read here: the pushed objects are only
  // visible inside the push's quarantine, which this hook runs in).
  const subject = await commitSubject(plan.build.rev);
  const archive = spawn('git', ['archive', '--format=tar', plan.build.rev], { stdio: ['ignore', 'pipe', 'inherit'] });
  const res = await request(`/build?rev=${encodeURIComponent(plan.build.rev)}`, {
    body: archive.stdout,
    headers: { 'x-slipway-subject': encodeURIComponent(subject) },
  });
  let exit = 1;
  let buffered = '';
  let seenExit = false;
  for await (const chunk of res) {
    buffered += chunk.toString();
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (line.startsWith(EXIT_MARK)) {
        seenExit = true;
        exit = Number(line.slice(EXIT_MARK.length)) === 0 ? 0 : 1;
      } else {
        say(line);
      }
    }
  }
  if (buffered) say(buffered);
  if (!seenExit) {
    say(' !     Lost the connection to the Slipway build server; nothing was deployed.');
    return 1;
  }
  return exit;
}

function commitSubject(rev: string): Promise<string> {
  return new Promise((resolve) => {
    const git = spawn('git', ['log', '-1', '--format=%s', rev], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    git.stdout.on('data', (d: Buffer) => (out += d.toString()));
    git.on('error', () => resolve(''));
    git.on('close', () => resolve(out.trim().slice(0, 500)));
  });
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err: Error) => {
      say(` !     Slipway could not run this push: ${err.message}`);
      process.exit(1);
    },
  );
}
