import type { Command } from '../command';
import { usageError } from '../errors';

type Row = Record<string, unknown>;

const access: Command = {
  name: 'access',
  summary: 'list who can access the app, and their roles',
  usage: 'access [-a APP] [--json]',
  app: true,
  json: true,
  async run(ctx) {
    const list = await ctx.api().request<Row[]>('GET', `/apps/${await ctx.app()}/collaborators`);
    if (ctx.out.json) return ctx.out.printJson(list);
    ctx.out.table(list, [
      ['email', 'User'],
      ['role', 'Role'],
    ]);
  },
};

const accessAdd: Command = {
  name: 'access:add',
  summary: 'give a user access: collaborator (deploy, config, scale, logs, run) or viewer (read only)',
  usage: 'access:add EMAIL [--role collaborator|viewer] [-a APP]',
  app: true,
  flags: { role: { short: 'r', desc: 'collaborator (default) or viewer', value: 'ROLE' } },
  async run(ctx) {
    if (!ctx.args[0]) throw usageError('which user?', this.usage);
    const name = await ctx.app();
    const role = typeof ctx.flags.role === 'string' ? ctx.flags.role : 'collaborator';
    await ctx.api().request('POST', `/apps/${name}/collaborators`, { email: ctx.args[0], role });
    ctx.out.log(`Adding ${ctx.args[0]} to ${name} as ${role}... done`);
  },
};

const accessRemove: Command = {
  name: 'access:remove',
  summary: "remove a user's access to the app",
  usage: 'access:remove EMAIL [-a APP]',
  app: true,
  async run(ctx) {
    if (!ctx.args[0]) throw usageError('which user?', this.usage);
    const name = await ctx.app();
    await ctx.api().request('DELETE', `/apps/${name}/collaborators/${encodeURIComponent(ctx.args[0])}`);
    ctx.out.log(`Removing ${ctx.args[0]} from ${name}... done`);
  },
};

const USER_FLAG = { short: 'u', desc: "another user's (admins)", value: 'EMAIL' };

const tokens: Command = {
  name: 'tokens',
  summary: "list your API tokens, or another user's with --user (admins); secrets are never shown again",
  usage: 'tokens [--user EMAIL] [--json]',
  json: true,
  flags: { user: USER_FLAG },
  async run(ctx) {
    const other = typeof ctx.flags.user === 'string' ? ctx.flags.user : undefined;
    const list = await ctx
      .api()
      .request<Row[]>('GET', other ? `/users/${encodeURIComponent(other)}/tokens` : '/tokens');
    if (ctx.out.json) return ctx.out.printJson(list);
    ctx.out.table(
      list.map((t) => ({
        ...t,
        prefix: `${t.prefix}…`,
        state: t.revokedAt ? 'revoked' : t.current ? 'active (this one)' : 'active',
      })),
      [
        ['id', 'Id'],
        ['prefix', 'Token'],
        ['description', 'Description'],
        ['state', 'State'],
        ['lastUsedAt', 'Last used'],
        ['createdAt', 'Created'],
      ],
    );
  },
};

const tokensCreate: Command = {
  name: 'tokens:create',
  summary: 'create an API token (shown once)',
  usage: 'tokens:create [--description TEXT] [--json]',
  json: true,
  flags: { description: { short: 'd', desc: 'what the token is for', value: 'TEXT' } },
  async run(ctx) {
    const t = await ctx
      .api()
      .request<Row>(
        'POST',
        '/tokens',
        typeof ctx.flags.description === 'string' ? { description: ctx.flags.description } : {},
      );
    if (ctx.out.json) return ctx.out.printJson(t);
    ctx.out.log(`Token ${t.id} created. It is shown only now; store it safely:`);
    ctx.out.log(String(t.token));
  },
};

const tokensRevoke: Command = {
  name: 'tokens:revoke',
  summary:
    "revoke an API token (at once, for the API, git and open log streams); admins: another user's with --user, all of them with --all",
  usage: 'tokens:revoke ID | tokens:revoke --user EMAIL (ID | --all)',
  flags: { user: USER_FLAG, all: { boolean: true, desc: 'every token of the --user' } },
  async run(ctx) {
    const other = typeof ctx.flags.user === 'string' ? ctx.flags.user : undefined;
    if (ctx.flags.all) {
      if (!other) throw usageError('--all needs --user EMAIL', this.usage);
      const r = await ctx.api().request<{ revoked: number[] }>('DELETE', `/users/${encodeURIComponent(other)}/tokens`);
      ctx.out.log(`Revoked ${r.revoked.length} token${r.revoked.length === 1 ? '' : 's'} of ${other}.`);
      return;
    }
    if (!ctx.args[0] || !/^\d+$/.test(ctx.args[0]))
      throw usageError('which token id? (see slipway tokens)', this.usage);
    await ctx
      .api()
      .request(
        'DELETE',
        other ? `/users/${encodeURIComponent(other)}/tokens/${ctx.args[0]}` : `/tokens/${ctx.args[0]}`,
      );
    ctx.out.log(`Token ${ctx.args[0]}${other ? ` of ${other}` : ''} revoked.`);
  },
};

const users: Command = {
  name: 'users',
  summary: 'list users (admins)',
  usage: 'users [--json]',
  json: true,
  async run(ctx) {
    const list = await ctx.api().request<Row[]>('GET', '/users');
    if (ctx.out.json) return ctx.out.printJson(list);
    ctx.out.table(
      list.map((u) => ({ ...u, admin: u.admin ? 'yes' : '', state: u.disabled ? 'disabled' : 'active' })),
      [
        ['email', 'Email'],
        ['admin', 'Admin'],
        ['state', 'State'],
        ['createdAt', 'Created'],
      ],
    );
  },
};

const usersCreate: Command = {
  name: 'users:create',
  summary: 'create a user and their first API token (admins)',
  usage: 'users:create EMAIL [--admin] [--json]',
  json: true,
  flags: { admin: { boolean: true, desc: 'make the user an admin' } },
  async run(ctx) {
    if (!ctx.args[0]) throw usageError('which email?', this.usage);
    const u = await ctx.api().request<Row>('POST', '/users', { email: ctx.args[0], admin: Boolean(ctx.flags.admin) });
    if (ctx.out.json) return ctx.out.printJson(u);
    ctx.out.log(`User ${u.email} created${u.admin ? ' (admin)' : ''}. Their API token (shown once):`);
    ctx.out.log(String(u.token));
    ctx.out.log(`They log in with: slipway login --api ${ctx.api().apiUrl} --token TOKEN`);
  },
};

export const accessCommands: Command[] = [
  access,
  accessAdd,
  accessRemove,
  tokens,
  tokensCreate,
  tokensRevoke,
  users,
  usersCreate,
];
