import type { Ctx } from './command';
import { stripControls } from './terminal-text';

/**
 * Runs an API call that rolls out dynos (config:set, ps:restart, rollback, ps:scale, ...) and,
 * while it runs, prints the platform's progress lines for the app (`slipway[deploy]` in the
 * app's log: the release phase, `waiting for web.1 to answer on $PORT (12 s of 60)` every 5 s,
 * `v7 is running`) on stderr, so a long wait is never silent. stdout stays the command's answer.
 * A log stream that cannot be opened only loses the progress, never the command.
 */
export async function withProgress<T>(ctx: Ctx, appName: string, call: () => Promise<T>): Promise<T> {
  if (ctx.out.json) return call();
  const ac = new AbortController();
  // Subscribed before the call starts, so its first lines are not missed (at most 3 s to open).
  const opened = ctx
    .api()
    .stream(`/apps/${appName}/logs?tail=1&lines=0&source=platform&dyno=deploy&format=json`, ac.signal);
  opened.catch(() => undefined);
  await Promise.race([opened, new Promise((r) => setTimeout(r, 3000))]).catch(() => undefined);
  const follow = (async () => {
    const res = await opened;
    let rest = '';
    const decoder = new TextDecoder();
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      const lines = (rest + decoder.decode(chunk, { stream: true })).split('\n');
      rest = lines.pop() ?? '';
      for (const l of lines) {
        try {
          const e = JSON.parse(l) as { line?: string };
          if (typeof e.line === 'string') ctx.out.err(`       ${stripControls(e.line)}`);
        } catch {
          // a heartbeat or a partial line
        }
      }
    }
  })().catch(() => undefined);
  try {
    return await call();
  } finally {
    // The last lines (v7 is running) are written before the answer; give them a moment to arrive.
    await new Promise((r) => setTimeout(r, 150));
    ac.abort();
    await follow;
  }
}
