import type { Command } from '../command';
import { CliError, usageError } from '../errors';
import { withProgress } from '../progress';

const KEY_RE = /^[A-Za-z_][A-Za-z0-9_]{0,254}$/;

const config: Command = {
  name: 'config',
  summary: "show the app's config vars",
  usage: 'config [-a APP] [--json] [--shell]',
  app: true,
  json: true,
  flags: { shell: { boolean: true, desc: 'print KEY=VALUE lines (quoted for a shell)' } },
  async run(ctx) {
    const name = await ctx.app();
    const vars = await ctx.api().request<Record<string, string | null>>('GET', `/apps/${name}/config`);
    if (ctx.out.json) return ctx.out.printJson(vars);
    // Viewers get the keys with null values: say so instead of printing empty values.
    const hidden = Object.values(vars).some((v) => v === null);
    if (ctx.flags.shell) {
      if (hidden)
        throw new CliError(`the values of ${name}'s config vars are hidden from viewers`, {
          hint: 'ask the app owner for collaborator access',
        });
      for (const [k, v] of Object.entries(vars)) ctx.out.log(`${k}='${String(v).replace(/'/g, `'\\''`)}'`);
      return;
    }
    ctx.out.log(ctx.out.bold(`=== ${name} Config Vars`));
    const width = Math.max(0, ...Object.keys(vars).map((k) => k.length + 1));
    for (const [k, v] of Object.entries(vars))
      ctx.out.log(`${ctx.out.green((k + ':').padEnd(width))} ${v ?? '(hidden)'}`);
    if (hidden) ctx.out.err('Values are hidden: you are a viewer of this app.');
  },
};

const get: Command = {
  name: 'config:get',
  summary: 'print one config var',
  usage: 'config:get KEY [-a APP] [--json]',
  app: true,
  json: true,
  async run(ctx) {
    const key = ctx.args[0];
    if (!key) throw usageError('which config var?', this.usage);
    const vars = await ctx.api().request<Record<string, string | null>>('GET', `/apps/${await ctx.app()}/config`);
    if (ctx.out.json) return ctx.out.printJson({ [key]: vars[key] ?? null });
    if (vars[key] === null)
      throw new CliError(`the value of ${key} is hidden from viewers`, {
        hint: 'ask the app owner for collaborator access',
      });
    if (vars[key] !== undefined) ctx.out.log(vars[key]);
  },
};

const set: Command = {
  name: 'config:set',
  summary: 'set config vars (a new release when the app has a build)',
  usage: 'config:set KEY=VALUE... [--build-arg] [-a APP]',
  app: true,
  json: true,
  flags: {
    'build-arg': {
      boolean: true,
      desc: 'also pass these vars to Dockerfile builds as build args (for ARGs the Dockerfile declares)',
    },
  },
  async run(ctx) {
    if (!ctx.args.length) throw usageError('give at least one KEY=VALUE', this.usage);
    const changes: Record<string, string> = {};
    for (const a of ctx.args) {
      const eq = a.indexOf('=');
      const k = eq > 0 ? a.slice(0, eq) : '';
      if (!KEY_RE.test(k))
        throw new CliError(`${JSON.stringify(a)} is not KEY=VALUE`, {
          hint: 'keys start with a letter or _ and hold letters, digits and _',
          exitCode: 2,
        });
      changes[k] = a.slice(eq + 1);
    }
    const name = await ctx.app();
    if (ctx.flags['build-arg'])
      await ctx.api().request('PUT', `/apps/${name}/builder`, { addBuildArgs: Object.keys(changes) });
    const vars = await withProgress(ctx, name, () =>
      ctx.api().request<Record<string, string>>('PATCH', `/apps/${name}/config`, changes),
    );
    if (ctx.out.json) return ctx.out.printJson(vars);
    const release = ctx.api().lastHeaders()?.get('x-slipway-release');
    ctx.out.log(
      `Setting ${Object.keys(changes).join(', ')} and restarting ${name}... done${release ? `, v${release}` : ''}`,
    );
    for (const k of Object.keys(changes)) ctx.out.log(`${ctx.out.green(k + ':')} ${vars[k]}`);
    if (ctx.flags['build-arg'])
      ctx.out.log(
        `${Object.keys(changes).join(', ')} will be passed to Dockerfile builds as build args (when the Dockerfile declares them).`,
      );
  },
};

const unset: Command = {
  name: 'config:unset',
  aliases: ['config:remove'],
  summary: 'remove config vars',
  usage: 'config:unset KEY... [-a APP]',
  app: true,
  async run(ctx) {
    if (!ctx.args.length) throw usageError('give at least one KEY', this.usage);
    const name = await ctx.app();
    await withProgress(ctx, name, () =>
      ctx.api().request('PATCH', `/apps/${name}/config`, Object.fromEntries(ctx.args.map((k) => [k, null]))),
    );
    const release = ctx.api().lastHeaders()?.get('x-slipway-release');
    ctx.out.log(`Unsetting ${ctx.args.join(', ')} and restarting ${name}... done${release ? `, v${release}` : ''}`);
  },
};

export const configCommands: Command[] = [config, get, set, unset];
