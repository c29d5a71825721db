import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startTestServer, type TestServer } from '../helpers/server';
import { createApp, git, startRouter, uniq } from './git-helpers';
import { answer, dockerRepo, push, steadyLoad } from './dockerfile-helpers';

/**
 * Zero downtime for a Dockerfile app: three consecutive `git push` deploys of a Dockerfile app
 * (an EXPOSEd port, its own USER) under a steady load through the real router; every request
 * must succeed, and the last release must be the one answering.
 */
let srv: TestServer;
let stopRouter: (() => Promise<void>) | undefined;
const dirs: string[] = [];

before(async () => {
  srv = await startTestServer({ env: { SLIPWAY_BUILD_TIMEOUT_S: '600' } });
  stopRouter = await startRouter(srv);
});
after(async () => {
  await stopRouter?.();
  await srv?.stop();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const dockerfile = (marker: string) =>
  `FROM slipway/bookworm-run:latest\nCOPY server.pl /home/slipway/server.pl\nEXPOSE 8000\nCMD ["perl", "/home/slipway/server.pl", "${marker}"]\n`;

test(
  '3 consecutive Dockerfile deploys under ~50 requests per second through the router: zero failed requests',
  { timeout: 600_000 },
  async () => {
    const app = uniq('dfzdt');
    await createApp(srv, app);
    const dir = await dockerRepo({ Dockerfile: dockerfile('v0') }, dirs);
    const first = await push(srv, app, dir);
    assert.equal(first.code, 0, first.out);
    await answer(srv, app, 'name=v0');

    const load = steadyLoad(srv.httpPort, `${app}.localhost`, 50);
    try {
      for (let i = 1; i <= 3; i++) {
        fs.writeFileSync(path.join(dir, 'Dockerfile'), dockerfile(`v${i}`));
        await git(['commit', '-qam', `v${i}`], dir);
        const r = await push(srv, app, dir);
        assert.equal(r.code, 0, r.out);
        await answer(srv, app, `name=v${i}`);
      }
    } finally {
      const { sent, failures, bodies } = await load.stop();
      assert.ok(sent > 100, `only ${sent} requests were sent`);
      assert.deepEqual(failures.slice(0, 10), [], `${failures.length} of ${sent} requests failed`);
      assert.ok((bodies.get('name=v3') ?? 0) > 0, `answers seen: ${JSON.stringify([...bodies])}`);
    }
  },
);
