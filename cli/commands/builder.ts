import type { Command } from '../command';
import { usageError } from '../errors';

interface BuilderInfo {
  builder: string;
  dockerfilePath: string | null;
  buildArgs: string[];
  lastBuilder: string | null;
}

const print = (ctx: Parameters<Command['run']>[0], name: string, b: BuilderInfo) => {
  if (ctx.out.json) return ctx.out.printJson(b);
  ctx.out.log(ctx.out.bold(`=== ${name} Builder`));
  const shown =
    b.builder === 'auto'
      ? 'auto (a root Dockerfile builds with Docker unless buildpacks are set; else buildpacks)'
      : `${b.builder} (forced)`;
  ctx.out.log(`Builder:       ${shown}`);
  ctx.out.log(`Dockerfile:    ${b.dockerfilePath ?? 'Dockerfile (default)'}`);
  ctx.out.log(`Build args:    ${b.buildArgs.join(', ') || 'none'}`);
  ctx.out.log(`Last build:    ${b.lastBuilder ?? 'none yet'}`);
};

const show: Command = {
  name: 'builder',
  summary: 'show how the app builds (Dockerfile or buildpacks)',
  usage: 'builder [-a APP] [--json]',
  app: true,
  json: true,
  async run(ctx) {
    const name = await ctx.app();
    print(ctx, name, await ctx.api().request<BuilderInfo>('GET', `/apps/${name}/builder`));
  },
};

const set: Command = {
  name: 'builder:set',
  summary: 'force the builder: dockerfile, buildpacks, or auto (detect)',
  usage: 'builder:set dockerfile|buildpacks|auto [--dockerfile PATH] [-a APP]',
  app: true,
  json: true,
  flags: { dockerfile: { desc: 'the Dockerfile path in the repository (default: Dockerfile)', value: 'PATH' } },
  async run(ctx) {
    const builder = ctx.args[0];
    if (!builder && typeof ctx.flags.dockerfile !== 'string') throw usageError('which builder?', this.usage);
    const name = await ctx.app();
    const b = await ctx.api().request<BuilderInfo>('PUT', `/apps/${name}/builder`, {
      ...(builder ? { builder } : {}),
      ...(typeof ctx.flags.dockerfile === 'string' ? { dockerfilePath: ctx.flags.dockerfile } : {}),
    });
    if (!ctx.out.json) ctx.out.log(`Builder set. The next build of ${name} uses it.`);
    print(ctx, name, b);
  },
};

export const builderCommands: Command[] = [show, set];
