import type { Command } from '../command';
import { CliError } from '../errors';
import {
  addSlipwayRemote,
  appFromGitRemote,
  currentBranch,
  helperCommand,
  isGitRepo,
  pushCommand,
  removeSlipwayRemote,
} from '../git';

interface App {
  name: string;
  owner: string;
  stack: string;
  url: string;
  gitUrl: string;
  maintenance: boolean;
  buildpacks: string[];
  builder?: string;
  imageUser?: string;
  runsAsRoot?: boolean;
  role?: string;
  createdAt: string;
  collaborators?: Array<{ email: string; role: string }>;
  release?: { version: number; description: string } | null;
  formation?: Array<{ type: string; quantity: number; size: string }>;
  dynos?: Array<{ name: string; state: string }>;
}

const apps: Command = {
  name: 'apps',
  aliases: ['apps:list'],
  summary: 'list the apps you can access',
  usage: 'apps [--json]',
  json: true,
  async run(ctx) {
    const list = await ctx.api().request<App[]>('GET', '/apps');
    if (ctx.out.json) return ctx.out.printJson(list);
    if (!list.length) return ctx.out.log('You have no apps. Create one with: slipway apps:create [NAME]');
    ctx.out.table(list as unknown as Array<Record<string, unknown>>, [
      ['name', 'Name'],
      ['role', 'Role'],
      ['owner', 'Owner'],
      ['url', 'URL'],
    ]);
  },
};

const create: Command = {
  name: 'apps:create',
  aliases: ['create'],
  summary: 'create an app (random name when none is given); adds the `slipway` git remote in a repository',
  usage: 'apps:create [NAME] [--stack STACK] [--no-remote]',
  json: true,
  flags: {
    stack: { desc: 'stack to build and run on', value: 'STACK' },
    'no-remote': { boolean: true, desc: 'do not add the git remote' },
  },
  async run(ctx) {
    const api = ctx.api();
    const app = await api.request<App>('POST', '/apps', {
      ...(ctx.args[0] ? { name: ctx.args[0] } : {}),
      ...(typeof ctx.flags.stack === 'string' ? { stack: ctx.flags.stack } : {}),
    });
    let remote: string | undefined;
    if (!ctx.flags['no-remote'] && (await isGitRepo())) {
      remote = await addSlipwayRemote({
        apiUrl: api.apiUrl,
        app: app.name,
        helper: helperCommand(process.execPath, require.main?.filename ?? process.argv[1]),
      });
    }
    if (ctx.out.json) return ctx.out.printJson({ ...app, remote: remote ?? null });
    ctx.out.log(`Creating ${ctx.out.bold(app.name)}... done`);
    ctx.out.log(`${app.url} | ${api.apiUrl}/${app.name}.git`);
    // The push that deploys the branch checked out here (a new app deploys main or master).
    if (remote)
      ctx.out.log(
        `Git remote slipway added (${remote}); deploy with: ${pushCommand(await currentBranch(), ['main', 'master'])}`,
      );
  },
};

const info: Command = {
  name: 'apps:info',
  aliases: ['info'],
  summary: 'show an app',
  usage: 'apps:info [-a APP] [--json]',
  app: true,
  json: true,
  async run(ctx) {
    const app = await ctx.api().request<App>('GET', `/apps/${await ctx.app()}`);
    if (ctx.out.json) return ctx.out.printJson(app);
    ctx.out.log(ctx.out.bold(`=== ${app.name}`));
    const rows: Array<[string, string]> = [
      ['Owner', app.owner],
      ['Your role', app.role ?? ''],
      ['Stack', app.stack],
      ['Web URL', app.url],
      ['Git URL', `${ctx.api().apiUrl}/${app.name}.git`],
      [
        'Release',
        app.release ? `v${app.release.version} (${app.release.description})` : 'none yet: git push slipway main',
      ],
      [
        'Formation',
        (app.formation ?? []).map((f) => `${f.type}=${f.quantity}:${f.size}`).join(' ') || '(from the Procfile)',
      ],
      ['Dynos', (app.dynos ?? []).map((d) => `${d.name} ${d.state}`).join(', ') || 'none'],
      ['Buildpacks', app.buildpacks.join(', ') || '(detected)'],
      ['Builder', app.builder ?? 'auto'],
      ...(app.imageUser
        ? [
            ['Runs as', app.runsAsRoot ? `${app.imageUser} (root: add a USER to the Dockerfile)` : app.imageUser] as [
              string,
              string,
            ],
          ]
        : []),
      ['Maintenance', app.maintenance ? 'on' : 'off'],
      ['Collaborators', (app.collaborators ?? []).map((c) => `${c.email} (${c.role})`).join(', ')],
      ['Created', app.createdAt],
    ];
    for (const [k, v] of rows) ctx.out.log(`${(k + ':').padEnd(15)}${v}`);
  },
};

const destroy: Command = {
  name: 'apps:destroy',
  aliases: ['destroy'],
  summary: 'destroy an app: its dynos, releases, images, repository, config and logs',
  usage: 'apps:destroy [-a APP] [--confirm APP]',
  app: true,
  flags: { confirm: { desc: 'the app name again, to confirm without a prompt', value: 'APP' } },
  async run(ctx) {
    const name = ctx.args[0] ?? (await ctx.app());
    let confirm = typeof ctx.flags.confirm === 'string' ? ctx.flags.confirm : undefined;
    if (confirm === undefined) {
      ctx.out.err(`This destroys ${name} and everything in it. There is no undo.`);
      confirm = await ctx.prompt(`Type the app name (${name}) to confirm: `, {
        hint: `without a terminal, confirm with the flag: slipway apps:destroy -a ${name} --confirm ${name}`,
      });
    }
    if (confirm !== name)
      throw new CliError(`confirmation "${confirm}" does not match ${name}`, {
        hint: `slipway apps:destroy -a ${name} --confirm ${name}`,
      });
    await ctx.api().request('DELETE', `/apps/${name}`);
    if ((await appFromGitRemote()) === name) await removeSlipwayRemote();
    ctx.out.log(`Destroying ${name}... done`);
  },
};

const open: Command = {
  name: 'open',
  summary: "print the app's URL",
  usage: 'open [-a APP]',
  app: true,
  async run(ctx) {
    const app = await ctx.api().request<App>('GET', `/apps/${await ctx.app()}`);
    ctx.out.log(app.url);
  },
};

const maintenance = (on: boolean): Command => ({
  name: on ? 'maintenance:on' : 'maintenance:off',
  summary: on
    ? 'put the app in maintenance mode (the router answers 503 with a maintenance page)'
    : 'take the app out of maintenance mode',
  usage: `maintenance:${on ? 'on' : 'off'} [-a APP]`,
  app: true,
  async run(ctx) {
    const name = await ctx.app();
    await ctx.api().request('PUT', `/apps/${name}/maintenance`, { enabled: on });
    ctx.out.log(`${on ? 'Enabling' : 'Disabling'} maintenance mode for ${name}... done`);
  },
});

const maintenanceStatus: Command = {
  name: 'maintenance',
  summary: 'show whether the app is in maintenance mode',
  usage: 'maintenance [-a APP] [--json]',
  app: true,
  json: true,
  async run(ctx) {
    const m = await ctx.api().request<{ maintenance: boolean }>('GET', `/apps/${await ctx.app()}/maintenance`);
    if (ctx.out.json) return ctx.out.printJson(m);
    ctx.out.log(m.maintenance ? 'on' : 'off');
  },
};

const httpsOnly = (on: boolean): Command => ({
  name: on ? 'https-only:on' : 'https-only:off',
  summary: on ? "redirect plain HTTP to HTTPS (308) for the app's hosts" : 'serve plain HTTP again',
  usage: `https-only:${on ? 'on [--hsts]' : 'off'} [-a APP]`,
  app: true,
  ...(on
    ? { flags: { hsts: { boolean: true, desc: 'also send Strict-Transport-Security (one year) on HTTPS responses' } } }
    : {}),
  async run(ctx) {
    const name = await ctx.app();
    await ctx
      .api()
      .request(
        'PUT',
        `/apps/${name}/https-only`,
        on ? { enabled: true, hsts: ctx.flags.hsts === true } : { enabled: false },
      );
    ctx.out.log(
      `${on ? 'Enabling' : 'Disabling'} HTTPS-only${on && ctx.flags.hsts === true ? ' with HSTS' : ''} for ${name}... done`,
    );
  },
});

const httpsOnlyStatus: Command = {
  name: 'https-only',
  summary: 'show whether plain HTTP is redirected to HTTPS',
  usage: 'https-only [-a APP] [--json]',
  app: true,
  json: true,
  async run(ctx) {
    const m = await ctx
      .api()
      .request<{ httpsOnly: boolean; hsts?: boolean }>('GET', `/apps/${await ctx.app()}/https-only`);
    if (ctx.out.json) return ctx.out.printJson(m);
    ctx.out.log(m.httpsOnly ? (m.hsts ? 'on (HSTS)' : 'on') : 'off');
  },
};

export const appsCommands: Command[] = [
  apps,
  create,
  info,
  destroy,
  open,
  maintenanceStatus,
  maintenance(true),
  maintenance(false),
  httpsOnlyStatus,
  httpsOnly(true),
  httpsOnly(false),
];
