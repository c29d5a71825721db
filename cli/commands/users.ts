import type { Command } from '../command';
import { CliError, usageError } from '../errors';
import { LIMIT_INFO, LIMIT_KEYS, isLimitKey } from '../../common/limits';

type Row = Record<string, unknown>;
const enc = encodeURIComponent;
const ended = (u: Row) =>
  Number(u.sessionsEnded)
    ? ` (${String(u.sessionsEnded)} open log session${Number(u.sessionsEnded) > 1 ? 's' : ''} ended)`
    : '';
const cancelled = (u: Row) =>
  Number(u.buildsCancelled)
    ? ` (${String(u.buildsCancelled)} running build${Number(u.buildsCancelled) > 1 ? 's' : ''} cancelled)`
    : '';

const usersDisable: Command = {
  name: 'users:disable',
  summary: 'disable a user (admins): their tokens, git access, open log streams and running builds stop at once',
  usage: 'users:disable EMAIL [--json]',
  json: true,
  async run(ctx) {
    if (!ctx.args[0]) throw usageError('which user?', this.usage);
    const u = await ctx.api().request<Row>('POST', `/users/${enc(ctx.args[0])}/disable`);
    if (ctx.out.json) return ctx.out.printJson(u);
    ctx.out.log(
      `Disabling ${String(u.email)}... done${ended(u)}${cancelled(u)}. Undo with: slipway users:enable ${String(u.email)}`,
    );
  },
};

const usersEnable: Command = {
  name: 'users:enable',
  summary: 'enable a disabled user again (admins); their unrevoked tokens work again',
  usage: 'users:enable EMAIL [--json]',
  json: true,
  async run(ctx) {
    if (!ctx.args[0]) throw usageError('which user?', this.usage);
    const u = await ctx.api().request<Row>('POST', `/users/${enc(ctx.args[0])}/enable`);
    if (ctx.out.json) return ctx.out.printJson(u);
    ctx.out.log(`Enabling ${String(u.email)}... done`);
  },
};

const usersDelete: Command = {
  name: 'users:delete',
  summary: 'delete a user (admins): tokens and app access go; apps they own must be destroyed first',
  usage: 'users:delete EMAIL [--confirm EMAIL] [--json]',
  json: true,
  flags: { confirm: { desc: 'the email again, to confirm without a prompt', value: 'EMAIL' } },
  async run(ctx) {
    const email = ctx.args[0];
    if (!email) throw usageError('which user?', this.usage);
    let confirm = typeof ctx.flags.confirm === 'string' ? ctx.flags.confirm : undefined;
    if (confirm === undefined) {
      ctx.out.err(`This deletes ${email}, their tokens and their access to apps. There is no undo.`);
      confirm = await ctx.prompt(`Type the email (${email}) to confirm: `);
    }
    if (confirm.toLowerCase() !== email.toLowerCase())
      throw new CliError(`confirmation "${confirm}" does not match ${email}`, {
        hint: `slipway users:delete ${email} --confirm ${email}`,
      });
    const u = await ctx.api().request<Row>('DELETE', `/users/${enc(email)}`);
    if (ctx.out.json) return ctx.out.printJson(u);
    ctx.out.log(`Deleting ${String(u.email)}... done${ended(u)}`);
  },
};

const usersRole: Command = {
  name: 'users:role',
  summary: 'make a user an admin or a member (admins); the last active admin cannot be demoted',
  usage: 'users:role EMAIL admin|member [--json]',
  json: true,
  async run(ctx) {
    const [email, role] = ctx.args;
    if (!email || (role !== 'admin' && role !== 'member'))
      throw usageError('give a user and a role (admin or member)', this.usage);
    const u = await ctx.api().request<Row>('PUT', `/users/${enc(email)}/role`, { role });
    if (ctx.out.json) return ctx.out.printJson(u);
    ctx.out.log(`${String(u.email)} is now ${u.admin ? 'an admin' : 'a member'}.`);
  },
};

const limits: Command = {
  name: 'limits',
  summary: "show a user's limits (yours by default; admins may name anyone)",
  usage: 'limits [EMAIL] [--json]',
  json: true,
  async run(ctx) {
    const path = ctx.args[0] ? `/users/${enc(ctx.args[0])}/limits` : '/limits';
    const l = await ctx.api().request<{
      email: string;
      limits: Record<string, number>;
      defaults: Record<string, number>;
      overrides: Record<string, number>;
      usage: Record<string, number>;
    }>('GET', path);
    if (ctx.out.json) return ctx.out.printJson(l);
    ctx.out.log(ctx.out.bold(`=== Limits of ${l.email}`));
    ctx.out.table(
      LIMIT_KEYS.map((k) => ({
        key: k,
        value: `${l.limits[k]} ${LIMIT_INFO[k].unit}`,
        source: k in l.overrides ? `set by an admin (default ${l.defaults[k]})` : 'default',
        used: l.usage[k] !== undefined ? String(l.usage[k]) : '',
        what: LIMIT_INFO[k].what,
      })),
      [
        ['key', 'Limit'],
        ['value', 'Value'],
        ['source', 'Source'],
        ['used', 'Used'],
        ['what', 'Bounds'],
      ],
    );
  },
};

const limitsSet: Command = {
  name: 'limits:set',
  summary: "set a user's limits (admins); key=default resets one to the platform default",
  usage: `limits:set EMAIL KEY=VALUE... [--json]   (keys: ${LIMIT_KEYS.join(', ')})`,
  json: true,
  async run(ctx) {
    const [email, ...pairs] = ctx.args;
    if (!email || pairs.length === 0) throw usageError('give a user and at least one KEY=VALUE', this.usage);
    const values: Record<string, number | null> = {};
    for (const p of pairs) {
      const eq = p.indexOf('=');
      const k = eq > 0 ? p.slice(0, eq) : p;
      const v = eq > 0 ? p.slice(eq + 1) : '';
      if (!isLimitKey(k))
        throw new CliError(`${JSON.stringify(k)} is not a limit`, {
          hint: `limits: ${LIMIT_KEYS.join(', ')}`,
          exitCode: 2,
        });
      if (v === 'default') values[k] = null;
      else if (/^\d+$/.test(v)) values[k] = Number(v);
      else
        throw new CliError(`${JSON.stringify(p)} is not KEY=NUMBER or KEY=default`, {
          hint: `for example: slipway limits:set ${email} apps=20`,
          exitCode: 2,
        });
    }
    const l = await ctx
      .api()
      .request<{ email: string; limits: Record<string, number> }>('PATCH', `/users/${enc(email)}/limits`, values);
    if (ctx.out.json) return ctx.out.printJson(l);
    ctx.out.log(
      `Setting limits of ${l.email}... done: ${Object.keys(values)
        .map((k) => `${k}=${l.limits[k]}`)
        .join(', ')}`,
    );
  },
};

export const usersCommands: Command[] = [usersDisable, usersEnable, usersDelete, usersRole, limits, limitsSet];
