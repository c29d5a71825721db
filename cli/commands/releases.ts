import type { Command } from '../command';
import { createLineSanitizer } from '../terminal-text';
import { usageError } from '../errors';
import { withProgress } from '../progress';

type Row = Record<string, unknown>;

const releases: Command = {
  name: 'releases',
  summary: "list the app's releases, newest first",
  usage: 'releases [-a APP] [-n N] [--json]',
  app: true,
  json: true,
  flags: { num: { short: 'n', desc: 'how many to show (default 15)', value: 'N' } },
  async run(ctx) {
    const name = await ctx.app();
    const list = await ctx.api().request<Row[]>('GET', `/apps/${name}/releases`);
    const sorted = [...list].sort((a, b) => Number(b.version) - Number(a.version));
    const n = Number(ctx.flags.num ?? 15);
    if (ctx.out.json) return ctx.out.printJson(sorted);
    if (!sorted.length) return ctx.out.log(`${name} has no releases yet. Deploy with: git push slipway main`);
    ctx.out.log(ctx.out.bold(`=== ${name} Releases`));
    ctx.out.table(
      sorted.slice(0, n).map((r) => ({
        v: `v${r.version}`,
        description: r.description,
        user: r.user ?? r.userEmail ?? '',
        status: r.current ? ctx.out.green(`${r.status} (current)`) : r.status,
        created: r.createdAt,
      })),
      [
        ['v', 'Version'],
        ['description', 'Description'],
        ['user', 'By'],
        ['status', 'Status'],
        ['created', 'Created'],
      ],
    );
  },
};

const info: Command = {
  name: 'releases:info',
  summary: 'show one release (default: the current one)',
  usage: 'releases:info [vN] [-a APP] [--json]',
  app: true,
  json: true,
  async run(ctx) {
    const name = await ctx.app();
    let version = ctx.args[0]?.replace(/^v/, '');
    if (!version) {
      const list = await ctx.api().request<Row[]>('GET', `/apps/${name}/releases`);
      const cur = list.find((r) => r.current) ?? [...list].sort((a, b) => Number(b.version) - Number(a.version))[0];
      if (!cur) throw usageError(`${name} has no releases`, this.usage);
      version = String(cur.version);
    }
    if (!/^\d+$/.test(version)) throw usageError(`${ctx.args[0]} is not a release version`, this.usage);
    const r = await ctx.api().request<Row>('GET', `/apps/${name}/releases/${version}`);
    if (ctx.out.json) return ctx.out.printJson(r);
    ctx.out.log(ctx.out.bold(`=== Release v${r.version}`));
    for (const [k, v] of Object.entries(r))
      ctx.out.log(`${(k + ':').padEnd(16)}${typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)}`);
  },
};

const rollback: Command = {
  name: 'releases:rollback',
  aliases: ['rollback'],
  summary: "roll back to an earlier release's image and config (default: the previous one)",
  usage: 'releases:rollback [vN] [-a APP]',
  app: true,
  json: true,
  async run(ctx) {
    const name = await ctx.app();
    let version = ctx.args[0]?.replace(/^v/, '');
    if (!version) {
      const list = (await ctx.api().request<Row[]>('GET', `/apps/${name}/releases`))
        .filter((r) => r.status === 'succeeded')
        .sort((a, b) => Number(b.version) - Number(a.version));
      const curIdx = Math.max(
        0,
        list.findIndex((r) => r.current),
      );
      const prev = list[curIdx + 1];
      if (!prev) throw usageError(`${name} has no earlier release to roll back to`, this.usage);
      version = String(prev.version);
    }
    if (!/^\d+$/.test(version)) throw usageError(`${ctx.args[0]} is not a release version`, this.usage);
    const r = await withProgress(ctx, name, () =>
      ctx.api().request<Row>('POST', `/apps/${name}/releases/rollback`, { version: Number(version) }),
    );
    if (ctx.out.json) return ctx.out.printJson(r);
    ctx.out.log(`Rolling back ${name} to v${version}... done, v${r.version}`);
  },
};

const rebase: Command = {
  name: 'releases:rebase',
  summary: "move the app onto its stack's current run image without rebuilding (a new release)",
  usage: 'releases:rebase [-a APP] [--json]',
  help: 'The app layers stay byte-identical; only the operating system layers underneath change.\nApps whose buildpacks marked a layer as needing a rebuild are refused: use slipway builds:create.',
  app: true,
  json: true,
  async run(ctx) {
    const name = await ctx.app();
    if (!ctx.out.json) ctx.out.err(`Rebasing ${name} onto its stack's current run image...`);
    const r = await ctx.api().request<Row>('POST', `/apps/${name}/rebase`, {});
    if (ctx.out.json) return ctx.out.printJson(r);
    if (r.status === 'current') return ctx.out.log(String(r.message));
    ctx.out.log(`${r.description}: v${r.from} → v${r.to} done (${(Number(r.ms) / 1000).toFixed(1)} s)`);
  },
};

const builds: Command = {
  name: 'builds',
  summary: "list the app's builds",
  usage: 'builds [-a APP] [--json]',
  app: true,
  json: true,
  async run(ctx) {
    const name = await ctx.app();
    const list = await ctx.api().request<Row[]>('GET', `/apps/${name}/builds`);
    if (ctx.out.json) return ctx.out.printJson(list);
    if (!list.length) return ctx.out.log(`${name} has no builds yet. Deploy with: git push slipway main`);
    ctx.out.table(
      list.map((b) => ({
        ...b,
        id: String(b.id).slice(0, 8),
        commit: b.commit ?? String(b.sourceVersion ?? '').slice(0, 7),
      })),
      [
        ['commit', 'Commit'],
        ['status', 'Status'],
        ['release', 'Release'],
        ['id', 'Build'],
        ['createdAt', 'Started'],
        ['finishedAt', 'Finished'],
      ],
    );
  },
};

/** The build a command is about: the one named, or "latest" (the API resolves it). */
function buildId(args: string[], usage: string): string {
  const id = args[0] ?? 'latest';
  if (!/^[A-Za-z0-9_-]{1,80}$/.test(id)) throw usageError(`${id} is not a build id`, usage);
  return id;
}

const output: Command = {
  name: 'builds:output',
  summary: "print a build's log (default: the latest; follows a running build)",
  usage: 'builds:output [BUILD_ID] [-a APP]',
  app: true,
  async run(ctx) {
    const name = await ctx.app();
    const res = await ctx.api().stream(`/apps/${name}/builds/${buildId(ctx.args, this.usage)}/output`);
    // Buildpack output is untrusted: printed line by line without terminal control sequences.
    const lines = createLineSanitizer((l) => process.stdout.write(l));
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) lines.push(chunk);
    lines.end();
  },
};

const cancel: Command = {
  name: 'builds:cancel',
  summary: 'cancel a pending or running build (default: the latest); its push is rejected',
  usage: 'builds:cancel [BUILD_ID] [-a APP]',
  app: true,
  async run(ctx) {
    const name = await ctx.app();
    const id = buildId(ctx.args, this.usage);
    await ctx.api().request('POST', `/apps/${name}/builds/${id}/cancel`);
    ctx.out.log(`Cancelling build ${id} of ${name}... done`);
  },
};

const create: Command = {
  name: 'builds:create',
  aliases: ['rebuild'],
  summary: "build and release the deploy branch's current commit again, without a new commit",
  usage: 'builds:create [-a APP]',
  help: 'Goes the way a push goes (queue, build, release phase, health checks); prints the build log as it runs.\nExits 1 when the build or its release fails.',
  app: true,
  async run(ctx) {
    const name = await ctx.app();
    const b = await ctx.api().request<Row>('POST', `/apps/${name}/builds`);
    ctx.out.err(`Rebuilding ${String(b.commit ?? '')} of ${name} (build ${String(b.id).slice(0, 8)})...`);
    const res = await ctx.api().stream(`/apps/${name}/builds/${String(b.id)}/output`);
    const lines = createLineSanitizer((l) => process.stdout.write(l));
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) lines.push(chunk);
    lines.end();
    const done = await ctx.api().request<Row>('GET', `/apps/${name}/builds/${String(b.id)}`);
    if (done.status !== 'succeeded') {
      ctx.out.err(
        ` !     build ${String(b.id).slice(0, 8)} ${String(done.status)}${done.error ? `: ${String(done.error)}` : ''}`,
      );
      return 1;
    }
  },
};

const purge: Command = {
  name: 'builds:cache:purge',
  summary: "remove the app's build cache: the next build starts cold",
  usage: 'builds:cache:purge [-a APP]',
  app: true,
  async run(ctx) {
    const name = await ctx.app();
    const r = await ctx.api().request<{ bytes: number }>('DELETE', `/apps/${name}/build-cache`);
    ctx.out.log(`Purging the build cache of ${name}... done, ${(r.bytes / 1024 / 1024).toFixed(1)} MB freed`);
  },
};

export const releasesCommands: Command[] = [releases, info, rollback, rebase, builds, output, cancel, create, purge];
