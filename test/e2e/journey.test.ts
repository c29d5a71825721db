import { waitFor } from '../helpers/wait';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { freePlatformPorts } from '../helpers/server';
import { flaskStyleApp, goStdlibApp } from '../integration/python-go-fixtures';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '..', '..', '..');
const HOMES = process.env.SLIPWAY_TEST_HOMES ?? '/var/tmp/slipway-test-homes';
const APP = 'journey-app';

/** GET through the router with a Host header (fetch cannot set Host). */
function viaRouter(port: number, host: string, pathName = '/'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: pathName, headers: { host }, timeout: 10_000 }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject)
      .on('timeout', function (this: http.ClientRequest) {
        this.destroy(new Error('timeout'));
      });
  });
}

/**
 * The new user's journey, as a person would do it: install into a temporary SLIPWAY_HOME with
 * non-default ports; create an app with the CLI; push an Express app with git; curl it through
 * the router by host name; scale web to 2 and see both dynos serve; set a config var and see it
 * served, and a config change that breaks the app refused and not kept; read the logs including a
 * router line; push a broken commit and see it rejected while the app keeps serving; push from two
 * clones at once and see one released, the other refused before building; roll back; run a
 * one-off command; re-install in place (state kept, app still serving); a Python app and a Go app
 * on the trixie stack; destroy the app and find nothing of it left; uninstall and purge.
 */
test('a new user installs Slipway, deploys, operates and destroys an app', { timeout: 30 * 60_000 }, async (t) => {
  fs.mkdirSync(HOMES, { recursive: true });
  const home = fs.mkdtempSync(path.join(HOMES, 'journey-'));
  const binDir = path.join(home, 'bin-dir');
  const repo = path.join(home, 'work', APP);
  const ports = await freePlatformPorts();
  const { apiPort, httpPort } = ports;
  const domain = 'slipway.test';
  const host = `${APP}.${domain}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    SLIPWAY_HOME: home,
    ...ports.env,
    SLIPWAY_DOMAIN: domain,
    SLIPWAY_BIN_DIR: binDir,
    SLIPWAY_CONFIG_DIR: path.join(home, 'cli-config'),
    PATH: `${binDir}:${process.env.PATH}`,
    GIT_TERMINAL_PROMPT: '0',
  };
  const install = (...args: string[]) =>
    run('bash', [path.join(ROOT, 'install.sh'), ...args], { env, maxBuffer: 64 << 20, timeout: 10 * 60_000 });
  const slipway = (...args: string[]) =>
    run('slipway', args, { env, cwd: repo, maxBuffer: 16 << 20, timeout: 120_000 });
  const git = (...args: string[]) => run('git', args, { env, cwd: repo, maxBuffer: 64 << 20, timeout: 10 * 60_000 });
  const serve = async () =>
    JSON.parse((await viaRouter(httpPort, host)).body) as { version: string; greeting: string; dyno: string };

  try {
    await t.test('install.sh installs and starts both daemons, prints a token and next steps', async () => {
      const out = (await install()).stdout;
      assert.match(out, /API token \(shown once; stored only as a hash\): slw_\S+/);
      assert.match(out, /slipway apps:create/);
      const token = /API token[^:]*: (slw_\S+)/.exec(out)![1];
      assert.equal(
        fs.readFileSync(path.join(home, 'state', 'slipway.db')).includes(token),
        false,
        'token stored only hashed',
      );
      const status = JSON.parse((await run('slipway', ['status', '--json'], { env })).stdout);
      const text = JSON.stringify(status);
      assert.match(text, /"server"/);
      assert.match(text, /"router"/);
      assert.match(text, new RegExp(`${httpPort}`));
      assert.match(text, new RegExp(domain.replace('.', '\\.')));
    });

    await t.test('apps:create adds the git remote; git push deploys; the router serves it by host', async () => {
      fs.mkdirSync(repo, { recursive: true });
      fs.cpSync(path.join(ROOT, 'test', 'fixtures', 'apps', 'journey'), repo, { recursive: true });
      await git('init', '-q', '-b', 'main');
      await git(
        '-c',
        'user.email=new@example.com',
        '-c',
        'user.name=New User',
        'commit',
        '-q',
        '--allow-empty',
        '-m',
        'empty',
      );
      await git('add', '.');
      await git('-c', 'user.email=new@example.com', '-c', 'user.name=New User', 'commit', '-q', '-m', 'first');
      await slipway('apps:create', APP);
      assert.match(
        (await git('remote', '-v')).stdout,
        new RegExp(`slipway\\s+http://127\\.0\\.0\\.1:${apiPort}/${APP}\\.git`),
      );
      const push = await git('push', 'slipway', 'main');
      const output = push.stdout + push.stderr;
      assert.match(output, /remote: -----> Building on the bookworm stack/);
      assert.match(output, /remote: .*Released v1/);
      assert.match(output, new RegExp(`remote: .*http://${host}`));
      // Waits for the router to answer 200, then checks what it serves is this push (version one).
      await waitFor(
        'the app answering through the router',
        async () => (await viaRouter(httpPort, host)).status === 200,
      );
      assert.equal((await serve()).version, 'one');
    });

    await t.test('ps:scale web=2: both dynos serve', async () => {
      await slipway('ps:scale', 'web=2');
      const seen = new Set<string>();
      await waitFor(
        'both web dynos serving',
        async () => {
          seen.add((await serve()).dyno);
          return seen.has('web.1') && seen.has('web.2') ? true : undefined;
        },
        { timeoutMs: 60_000 },
      );
      const ps = JSON.parse((await slipway('ps', '--json')).stdout) as Array<{ name?: string; type?: string }>;
      assert.equal(ps.filter((d) => (d.type ?? d.name?.split('.')[0]) === 'web').length, 2);
    });

    await t.test('config:set is served by the app', async () => {
      await slipway('config:set', 'GREETING=howdy');
      await waitFor('the new config served', async () => ((await serve()).greeting === 'howdy' ? true : undefined), {
        timeoutMs: 90_000,
      });
    });

    await t.test(
      'a config change whose release fails is not kept: config, serving release and the CLI agree',
      async () => {
        // node cannot start with this: the new web dynos exit at once and the release is refused.
        const refused = await slipway('config:set', 'NODE_OPTIONS=--require=/nonexistent.js').then(
          () => assert.fail('the failing config change was reported as done'),
          (err: { stderr: string; code: number }) => err,
        );
        assert.match(refused.stderr, /was not deployed: web\.\d exited with status \d+/);
        assert.match(refused.stderr, /The config change was not applied: NODE_OPTIONS keeps its previous value/);
        assert.equal((await slipway('config:get', 'NODE_OPTIONS')).stdout.trim(), '');
        assert.equal((await serve()).greeting, 'howdy', 'the previous release keeps serving');
      },
    );

    await t.test('logs include app and router lines', async () => {
      await serve();
      const logs = await waitFor('a router line in the logs', async () => {
        const out = (await slipway('logs', '-n', '500')).stdout;
        return /router/.test(out) && /at=info method=GET path="\/"/.test(out) && /app\[web\.\d\]/.test(out)
          ? out
          : undefined;
      });
      assert.match(logs, /serving \/ from web\.\d/);
    });

    await t.test('a second push deploys new code; a broken push is rejected and the app keeps serving', async () => {
      const server = path.join(repo, 'server.js');
      fs.writeFileSync(server, fs.readFileSync(server, 'utf8').replace("VERSION = 'one'", "VERSION = 'two'"));
      await git('-c', 'user.email=new@example.com', '-c', 'user.name=New User', 'commit', '-q', '-am', 'two');
      await git('push', 'slipway', 'main');
      await waitFor('version two served', async () => ((await serve()).version === 'two' ? true : undefined), {
        timeoutMs: 60_000,
      });
      const before = (await git('ls-remote', 'slipway', 'main')).stdout;

      const pkg = JSON.parse(fs.readFileSync(path.join(repo, 'package.json'), 'utf8'));
      pkg.scripts.build = 'echo the build script fails on purpose && exit 1';
      fs.writeFileSync(path.join(repo, 'package.json'), JSON.stringify(pkg, null, 2));
      await git('-c', 'user.email=new@example.com', '-c', 'user.name=New User', 'commit', '-q', '-am', 'broken');
      const rejected = await git('push', 'slipway', 'main').then(
        () => assert.fail('the broken push was accepted'),
        (err: { stderr: string; stdout: string }) => err.stdout + err.stderr,
      );
      assert.match(rejected, /pre-receive hook declined/);
      assert.match(rejected, /the build script fails on purpose/);
      assert.equal((await git('ls-remote', 'slipway', 'main')).stdout, before, 'the ref did not move');
      assert.equal((await serve()).version, 'two', 'the previous release keeps serving');
    });

    await t.test('two clones push at once: one is released, the other is refused before building', async () => {
      const clone = path.join(home, 'work', `${APP}-clone`);
      await slipway('git:clone', '-a', APP, clone);
      await git('reset', '-q', '--hard', 'HEAD~1'); // drop the broken commit: both start from what serves
      const commit = async (dir: string, version: string) => {
        const file = path.join(dir, 'server.js');
        fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(/VERSION = '[^']*'/, `VERSION = '${version}'`));
        await run(
          'git',
          ['-c', 'user.email=new@example.com', '-c', 'user.name=New User', 'commit', '-q', '-am', version],
          { env, cwd: dir },
        );
        return (await run('git', ['rev-parse', 'HEAD'], { env, cwd: dir })).stdout.trim();
      };
      const shas = { 'three-a': await commit(repo, 'three-a'), 'three-b': await commit(clone, 'three-b') };
      const push = (dir: string) =>
        run('git', ['push', 'slipway', 'main'], { env, cwd: dir, maxBuffer: 64 << 20, timeout: 10 * 60_000 }).then(
          (r) => ({ ok: true, out: r.stdout + r.stderr }),
          (err: { stdout: string; stderr: string }) => ({ ok: false, out: err.stdout + err.stderr }),
        );
      const [a, b] = await Promise.all([push(repo), push(clone)]);
      assert.equal([a, b].filter((r) => r.ok).length, 1, `exactly one push succeeds:\n${a.out}\n---\n${b.out}`);
      const [winner, loser] = a.ok ? ['three-a', b] : ['three-b', a];
      assert.match(loser.out, /\[rejected\]\s+main -> main \(fetch first\)/);
      assert.doesNotMatch(loser.out, /Building on the|Released v/);
      assert.equal(
        (await git('ls-remote', 'slipway', 'main')).stdout.split(/\s/)[0],
        shas[winner as 'three-a' | 'three-b'],
      );
      await waitFor(`version ${winner} served`, async () => ((await serve()).version === winner ? true : undefined), {
        timeoutMs: 60_000,
      });
      await git('fetch', '-q', 'slipway');
      await git('reset', '-q', '--hard', 'slipway/main');
    });

    await t.test('releases:rollback serves the old code', async () => {
      const releases = JSON.parse((await slipway('releases', '--json')).stdout) as Array<{
        version: number;
        description: string;
      }>;
      assert.ok(releases.length >= 3, 'v1 deploy, v2 config, v3 deploy');
      await slipway('releases:rollback', 'v2');
      await waitFor(
        'version one served after rollback',
        async () => ((await serve()).version === 'one' ? true : undefined),
        { timeoutMs: 90_000 },
      );
      assert.equal((await serve()).greeting, 'howdy', "the rollback keeps v2's config");
    });

    await t.test('run: a one-off command with the app config and its exit code', async () => {
      const out = await slipway(
        'run',
        '--no-tty',
        '--',
        'node',
        '-e',
        'console.log("greeting=" + process.env.GREETING)',
      );
      assert.match(out.stdout, /greeting=howdy/);
      await assert.rejects(
        slipway('run', '--no-tty', '--', 'bash', '-c', 'exit 3'),
        (err: { code: number }) => err.code === 3,
      );
    });

    await t.test(
      'a Python app (bookworm) and a Go app on trixie (apps:create --stack; the stack is brought in on first use) deploy with git push',
      async () => {
        const langApp = async (name: string, fill: (dir: string) => void, createArgs: string[], want: RegExp) => {
          const dir = path.join(home, 'work', name);
          fs.mkdirSync(dir, { recursive: true });
          fill(dir);
          const inDir = (cmd: string, ...args: string[]) =>
            run(cmd, args, { env, cwd: dir, maxBuffer: 64 << 20, timeout: 15 * 60_000 });
          await inDir('git', 'init', '-q', '-b', 'main');
          await inDir('git', 'add', '.');
          await inDir(
            'git',
            '-c',
            'user.email=new@example.com',
            '-c',
            'user.name=New User',
            'commit',
            '-q',
            '-m',
            'first',
          );
          await inDir('slipway', 'apps:create', name, ...createArgs);
          const push = await inDir('git', 'push', 'slipway', 'main');
          const body = await waitFor(
            `${name} answering through the router`,
            async () => {
              const r = await viaRouter(httpPort, `${name}.${domain}`);
              return r.status === 200 ? r.body : undefined;
            },
            { timeoutMs: 60_000 },
          );
          assert.match(body, want);
          return push.stdout + push.stderr;
        };
        const py = await langApp(
          'journey-py',
          (d) => flaskStyleApp(d),
          [],
          /^hello flask-style app from greeting 1\.0; uid 1000; python 3\.11$/,
        );
        assert.match(py, /remote: -----> Python app detected/);
        const go = await langApp(
          'journey-go',
          (d) => goStdlibApp(d, '1.22', 'hello from the journey'),
          ['--stack', 'trixie'],
          /^hello from the journey; uid 1000$/,
        );
        assert.match(go, /remote: -----> Building on the trixie stack/);
        assert.match(go, /remote: .*Installing Go from Debian: golang-1\.24-go/);
        const stacks = JSON.parse((await slipway('stacks', '--json')).stdout) as Array<{
          name: string;
          apps: string[];
        }>;
        assert.deepEqual(stacks.find((s) => s.name === 'trixie')?.apps, ['journey-go']);
        const set = await slipway('stack:set', 'bookworm', '-a', 'journey-go');
        assert.match(set.stdout, /Stack set to bookworm for journey-go \(was trixie\); its build cache was cleared\./);
        assert.match((await slipway('stacks')).stdout, /bookworm \(default\).*journey-go/);
      },
    );

    await t.test(
      'a second app with only a Dockerfile: git push builds it with Docker and the router serves it',
      async () => {
        const dfApp = `${APP}-df`;
        const dfRepo = path.join(home, 'work', dfApp);
        fs.mkdirSync(dfRepo, { recursive: true });
        fs.copyFileSync(
          path.join(ROOT, 'test', 'fixtures', 'apps', 'dockerfile-perl', 'server.pl'),
          path.join(dfRepo, 'server.pl'),
        );
        fs.writeFileSync(
          path.join(dfRepo, 'Dockerfile'),
          'FROM slipway/bookworm-run:latest\nCOPY server.pl /home/slipway/server.pl\nEXPOSE 8080\nCMD ["perl", "/home/slipway/server.pl", "journey-dockerfile"]\n',
        );
        const inDf = (cmd: string, ...args: string[]) =>
          run(cmd, args, { env, cwd: dfRepo, maxBuffer: 64 << 20, timeout: 10 * 60_000 });
        await inDf('git', 'init', '-q', '-b', 'main');
        await inDf('git', 'add', '.');
        await inDf(
          'git',
          '-c',
          'user.email=new@example.com',
          '-c',
          'user.name=New User',
          'commit',
          '-q',
          '-m',
          'dockerfile',
        );
        await inDf('slipway', 'apps:create', dfApp);
        const push = await inDf('git', 'push', 'slipway', 'main');
        const output = push.stdout + push.stderr;
        assert.match(output, /remote: -----> Building with the Dockerfile/);
        assert.match(output, /remote: .*web on port 8080, from EXPOSE/);
        assert.match(output, /remote: .*Released v1/);
        const body = await waitFor(
          'the Dockerfile app answering through the router',
          async () => {
            const r = await viaRouter(httpPort, `${dfApp}.${domain}`);
            return r.status === 200 ? r.body : undefined;
          },
          { timeoutMs: 60_000 },
        );
        assert.match(body, /name=journey-dockerfile port=8080 uid=1000/);
        await inDf('slipway', 'apps:destroy', '--confirm', dfApp);
      },
    );

    await t.test('re-running install.sh upgrades in place: state kept, app still serving', async () => {
      const out = (await install()).stdout;
      assert.doesNotMatch(out, /API token/, 'no new admin token on a re-install');
      const apps = JSON.parse((await slipway('apps', '--json')).stdout) as Array<{ name: string }>;
      assert.ok(apps.some((a) => a.name === APP));
      await waitFor('the app serving after the re-install', async () =>
        (await serve()).version === 'one' ? true : undefined,
      );
    });

    await t.test('apps:destroy leaves nothing of the app behind', async () => {
      await slipway('apps:destroy', '--confirm', APP);
      const docker = async (...args: string[]) => (await run('docker', args)).stdout.trim();
      assert.equal(
        await docker(
          'ps',
          '-aq',
          '--filter',
          `label=io.slipway.app=${APP}`,
          '--filter',
          `label=io.slipway.home=${home}`,
        ),
        '',
      );
      // App images reach Docker by pull from this install's registry: 127.0.0.1:API_PORT/apps/APP.
      const repos = (await docker('images', '--format', '{{.Repository}}')).split('\n');
      assert.equal(
        repos.filter((r) => r === `127.0.0.1:${apiPort}/apps/${APP}`).length,
        0,
        'app images removed from Docker',
      );
      assert.equal(fs.existsSync(path.join(home, 'repos', `${APP}.git`)), false, 'repository removed');
      const routes = fs.readFileSync(path.join(home, 'run', 'routes.json'), 'utf8');
      assert.equal(routes.includes(APP), false, 'route removed');
      assert.equal(
        (
          await waitFor(
            '404 for the destroyed app',
            async () => {
              const r = await viaRouter(httpPort, host);
              return r.status === 404 ? r : undefined;
            },
            { timeoutMs: 5_000 },
          )
        ).status,
        404,
      );
    });

    await t.test('install.sh --uninstall stops the daemons and keeps data; --purge removes it', async () => {
      await install('--uninstall');
      await assert.rejects(fetch(`http://127.0.0.1:${apiPort}/healthz`));
      await assert.rejects(viaRouter(httpPort, 'slipway-router', '/healthz'));
      assert.ok(fs.existsSync(path.join(home, 'state', 'slipway.db')));
      await install('--uninstall', '--purge');
      assert.equal(fs.existsSync(home), false);
    });
  } finally {
    await install('--uninstall', '--purge').catch(() => {});
    fs.rmSync(home, { recursive: true, force: true });
  }
});
