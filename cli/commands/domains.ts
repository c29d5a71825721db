import type { Command } from '../command';
import { usageError } from '../errors';

type Row = Record<string, unknown>;

const domains: Command = {
  name: 'domains',
  summary: "list the app's domains",
  usage: 'domains [-a APP] [--json]',
  app: true,
  json: true,
  async run(ctx) {
    const name = await ctx.app();
    const list = await ctx.api().request<Row[]>('GET', `/apps/${name}/domains`);
    if (ctx.out.json) return ctx.out.printJson(list);
    ctx.out.table(list, [
      ['hostname', 'Domain'],
      ['kind', 'Kind'],
      ['createdAt', 'Added'],
    ]);
  },
};

const domainsAdd: Command = {
  name: 'domains:add',
  summary: 'add a custom domain (exact host, or *.example.com for an explicit wildcard)',
  usage: 'domains:add HOSTNAME [-a APP]',
  app: true,
  async run(ctx) {
    if (!ctx.args[0]) throw usageError('which domain?', this.usage);
    const name = await ctx.app();
    const d = await ctx.api().request<{ acme?: boolean }>('POST', `/apps/${name}/domains`, { hostname: ctx.args[0] });
    ctx.out.log(`Adding ${ctx.args[0]} to ${name}... done`);
    ctx.out.log(`Point its DNS at this server; the router serves it at once.`);
    if (d.acme)
      ctx.out.log('A certificate is being ordered (ACME, HTTP-01 through the router); watch it with: slipway certs');
  },
};

const domainsRemove: Command = {
  name: 'domains:remove',
  summary: 'remove a custom domain',
  usage: 'domains:remove HOSTNAME [-a APP]',
  app: true,
  async run(ctx) {
    if (!ctx.args[0]) throw usageError('which domain?', this.usage);
    const name = await ctx.app();
    await ctx.api().request('DELETE', `/apps/${name}/domains/${encodeURIComponent(ctx.args[0])}`);
    ctx.out.log(`Removing ${ctx.args[0]} from ${name}... done`);
  },
};

interface Bp {
  index: number;
  url: string;
  /** Set when a Heroku name resolves to a built-in buildpack. */
  providedBy?: string;
}
const printBps = (ctx: Parameters<Command['run']>[0], name: string, list: Bp[]) => {
  if (ctx.out.json) return ctx.out.printJson(list);
  if (!list.length)
    return ctx.out.log(`${name} has no buildpacks set: the next build detects them from the built-in order.`);
  ctx.out.log(ctx.out.bold(`=== ${name} Buildpack URLs`));
  for (const b of list) ctx.out.log(`${b.index}. ${b.url}${b.providedBy ? ` (provided by ${b.providedBy})` : ''}`);
};

const buildpacks: Command = {
  name: 'buildpacks',
  summary: "list the app's buildpacks (empty: detected)",
  usage: 'buildpacks [-a APP] [--json]',
  app: true,
  json: true,
  async run(ctx) {
    const name = await ctx.app();
    printBps(ctx, name, await ctx.api().request<Bp[]>('GET', `/apps/${name}/buildpacks`));
  },
};

const INDEX_FLAG = { short: 'i', desc: 'position (1 is first)', value: 'N' };
const index = (ctx: Parameters<Command['run']>[0]) =>
  ctx.flags.index === undefined ? {} : { index: Number(ctx.flags.index) };

const bpSet: Command = {
  name: 'buildpacks:set',
  summary: 'set the buildpack (replaces the list, or the one at --index)',
  usage: 'buildpacks:set BUILDPACK [-i N] [-a APP]',
  app: true,
  json: true,
  flags: { index: INDEX_FLAG },
  async run(ctx) {
    if (!ctx.args[0]) throw usageError('which buildpack?', this.usage);
    const name = await ctx.app();
    let list: Bp[];
    if (ctx.flags.index !== undefined) {
      const cur = (await ctx.api().request<Bp[]>('GET', `/apps/${name}/buildpacks`)).map((b) => b.url);
      const i = Number(ctx.flags.index) - 1;
      if (!Number.isInteger(i) || i < 0 || i > cur.length)
        throw usageError(`--index must be from 1 to ${cur.length + 1}`, this.usage);
      cur[i] = ctx.args[0];
      list = await ctx.api().request<Bp[]>('PUT', `/apps/${name}/buildpacks`, { buildpacks: cur });
    } else {
      list = await ctx.api().request<Bp[]>('PUT', `/apps/${name}/buildpacks`, { buildpacks: [ctx.args[0]] });
    }
    if (!ctx.out.json) ctx.out.log(`Buildpack set. The next build of ${name} uses it.`);
    printBps(ctx, name, list);
  },
};

const bpAdd: Command = {
  name: 'buildpacks:add',
  summary: 'add a buildpack (last, or at --index)',
  usage: 'buildpacks:add BUILDPACK [-i N] [-a APP]',
  app: true,
  json: true,
  flags: { index: INDEX_FLAG },
  async run(ctx) {
    if (!ctx.args[0]) throw usageError('which buildpack?', this.usage);
    const name = await ctx.app();
    printBps(
      ctx,
      name,
      await ctx.api().request<Bp[]>('POST', `/apps/${name}/buildpacks`, { buildpack: ctx.args[0], ...index(ctx) }),
    );
  },
};

const bpRemove: Command = {
  name: 'buildpacks:remove',
  summary: 'remove a buildpack (by URL or --index)',
  usage: 'buildpacks:remove [BUILDPACK] [-i N] [-a APP]',
  app: true,
  json: true,
  flags: { index: INDEX_FLAG },
  async run(ctx) {
    if (!ctx.args[0] && ctx.flags.index === undefined)
      throw usageError('which buildpack? (a URL or --index N)', this.usage);
    const name = await ctx.app();
    printBps(
      ctx,
      name,
      await ctx.api().request<Bp[]>('DELETE', `/apps/${name}/buildpacks`, {
        ...(ctx.args[0] ? { buildpack: ctx.args[0] } : {}),
        ...index(ctx),
      }),
    );
  },
};

const bpClear: Command = {
  name: 'buildpacks:clear',
  summary: 'clear the buildpacks (the next build detects them)',
  usage: 'buildpacks:clear [-a APP]',
  app: true,
  async run(ctx) {
    const name = await ctx.app();
    await ctx.api().request('DELETE', `/apps/${name}/buildpacks`, {});
    ctx.out.log(`Buildpacks cleared. The next build of ${name} detects them.`);
  },
};

export const domainsCommands: Command[] = [
  domains,
  domainsAdd,
  domainsRemove,
  buildpacks,
  bpSet,
  bpAdd,
  bpRemove,
  bpClear,
];
