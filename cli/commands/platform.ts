import type { Command } from '../command';
import { appFromGitRemote } from '../git';
import { CliError } from '../errors';

type Row = Record<string, unknown>;

const events: Command = {
  name: 'events',
  summary: 'the audit trail: who changed what, when (one app with -a; every app for admins)',
  usage: 'events [-a APP] [-n N] [--json]',
  json: true,
  flags: {
    app: { short: 'a', desc: 'only this app', value: 'APP' },
    num: { short: 'n', desc: 'how many (default 50)', value: 'N' },
  },
  async run(ctx) {
    const q = new URLSearchParams({ limit: String(ctx.flags.num ?? 50) });
    const app = typeof ctx.flags.app === 'string' ? ctx.flags.app : await appFromGitRemote();
    if (app) q.set('app', app);
    const list = await ctx.api().request<Row[]>('GET', `/events?${q}`);
    if (ctx.out.json) return ctx.out.printJson(list);
    ctx.out.table(list, [
      ['createdAt', 'Time'],
      ['appName', 'App'],
      ['actor', 'By'],
      ['action', 'Action'],
      ['message', 'What'],
    ]);
  },
};

interface Health {
  status: string;
  [k: string]: unknown;
}

const status: Command = {
  name: 'status',
  summary: 'platform status: versions, health of server, router and Docker, URLs, disk use',
  usage: 'status [--json]',
  json: true,
  async run(ctx) {
    const s = await ctx.api().request<Record<string, unknown>>('GET', '/status');
    if (ctx.out.json) return ctx.out.printJson(s);
    const mark = (h: Health | undefined) =>
      !h ? '?' : h.status === 'ok' ? ctx.out.green('ok') : ctx.out.red(h.status);
    const server = s.server as Health | undefined;
    const router = s.router as Health | undefined;
    const docker = s.docker as Health | undefined;
    ctx.out.log(ctx.out.bold('=== Slipway status'));
    ctx.out.log(`Server:   ${mark(server)}  ${server?.version ?? ''}  ${(s.urls as Row | undefined)?.api ?? ''}`);
    ctx.out.log(
      `Router:   ${mark(router)}  ${router?.version ?? ''}  ${router?.url ?? ''}${router?.error ? `  (${router.error})` : ''}`,
    );
    ctx.out.log(`Docker:   ${mark(docker)}  ${docker?.version ?? ''}${docker?.error ? `  (${docker.error})` : ''}`);
    if (s.domain) ctx.out.log(`Domain:   ${s.domain}  (apps at ${(s.urls as Row | undefined)?.apps ?? ''})`);
    const certs = s.certificates as
      | {
          acme: { directoryUrl: string } | null;
          expiring: Array<{ app: string | null; hosts: string[]; expiresAt: string; reason: string }>;
        }
      | undefined;
    if (certs)
      ctx.out.log(
        `ACME:     ${certs.acme ? certs.acme.directoryUrl : 'off (install.sh --acme-email EMAIL turns it on)'}`,
      );
    if (certs?.expiring.length) {
      ctx.out.log(ctx.out.bold('=== Certificates expiring without renewal'));
      for (const c of certs.expiring)
        ctx.out.log(ctx.out.red(`${c.app ?? 'platform'}: ${c.hosts.join(', ')} expires ${c.expiresAt}: ${c.reason}`));
    }
    const disk = s.disk as Record<string, number> | undefined;
    if (disk) {
      ctx.out.log(ctx.out.bold('=== Disk'));
      for (const [k, v] of Object.entries(disk))
        if (typeof v === 'number') ctx.out.log(`${(k + ':').padEnd(10)}${formatBytes(v)}`);
    }
    const apps = s.apps as Array<Row> | undefined;
    if (apps?.length) {
      ctx.out.log(ctx.out.bold('=== Apps'));
      ctx.out.table(
        apps.map((a) => ({
          ...a,
          repo: formatBytes(Number(a.repoBytes ?? 0)),
          cache: formatBytes(Number(a.cacheBytes ?? 0)),
        })),
        [
          ['name', 'App'],
          ['dynos', 'Dynos'],
          ['repo', 'Repo'],
          ['cache', 'Cache'],
        ],
      );
    }
  },
};

export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return '?';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

const stacks: Command = {
  name: 'stacks',
  summary: 'list stacks and which apps use them',
  usage: 'stacks [--json]',
  json: true,
  async run(ctx) {
    const list = await ctx.api().request<Row[]>('GET', '/stacks');
    if (ctx.out.json) return ctx.out.printJson(list);
    ctx.out.table(
      list.map((s) => ({
        ...s,
        name: s.default ? `${s.name} (default)` : s.name,
        version: s.version ?? (s.runDigest ? '' : 'not built yet (built on first use)'),
        run: String(s.runDigest ?? '').slice(7, 19),
        build: String(s.buildDigest ?? '').slice(7, 19),
        apps:
          Array.isArray(s.apps) && s.apps.length
            ? s.apps.length > 8
              ? `${s.apps.slice(0, 8).join(', ')} and ${s.apps.length - 8} more`
              : s.apps.join(', ')
            : '-',
        onVersions:
          Object.entries((s.appsByVersion ?? {}) as Record<string, number>)
            .map(([v, n]) => `${v}${v === s.version ? ' (current)' : ''}: ${n}`)
            .join(', ') || '-',
      })),
      [
        ['name', 'Stack'],
        ['version', 'Version'],
        ['build', 'Build image'],
        ['run', 'Run image'],
        ['apps', 'Apps'],
        ['onVersions', 'Apps per version'],
      ],
    );
  },
};

const stacksUpdate: Command = {
  name: 'stacks:update',
  summary: 'rebuild the stack images with current security updates; --rebase: then rebase every app on it (admins)',
  usage: 'stacks:update [--rebase] [--json]',
  flags: {
    rebase: { boolean: true, desc: 'rebase every app on the stack afterwards (default: SLIPWAY_STACK_AUTO_REBASE)' },
  },
  json: true,
  async run(ctx) {
    ctx.out.err('Rebuilding the stack images (debootstrap + apt-get upgrade)...');
    const r = await ctx.api().request<Row>('POST', '/stacks/update', ctx.flags.rebase ? { rebase: true } : {});
    if (ctx.out.json) return ctx.out.printJson(r);
    ctx.out.log(`Stack ${r.name} rebuilt in ${r.seconds}s: ${r.run}`);
    if (r.rebase) return printRebase(ctx, r.rebase as Row);
    ctx.out.log(`Apps pick it up on their next build, or now with: slipway stacks:rebase ${r.name}`);
  },
};

/** Progress lines (`[2/3] shop: v12 → v13 ok 1.4 s`) and the summary of a stack-wide rebase. */
function printRebase(ctx: Parameters<Command['run']>[0], r: Row): number | void {
  for (const l of r.lines as string[]) ctx.out.log(l);
  ctx.out.log(`Rebase of ${r.stack}: ${r.summary}`);
  const results = r.results as Row[];
  if (results.some((x) => x.status === 'needs-rebuild'))
    ctx.out.log('Apps that need a rebuild: slipway builds:create -a APP');
  return results.some((x) => x.status === 'failed') ? 1 : undefined;
}

const stacksRebase: Command = {
  name: 'stacks:rebase',
  summary: "rebase every app on STACK onto the stack's current run image, without rebuilding the stack (admins)",
  usage: 'stacks:rebase STACK [--json]',
  json: true,
  async run(ctx) {
    const stack = ctx.args[0];
    if (!stack)
      throw new CliError('which stack?', {
        hint: 'usage: slipway stacks:rebase STACK (see slipway stacks)',
        exitCode: 2,
      });
    ctx.out.err(`Rebasing the apps on ${stack}...`);
    const r = await ctx.api().request<Row>('POST', `/stacks/${encodeURIComponent(stack)}/rebase`, {});
    if (ctx.out.json) return ctx.out.printJson(r);
    return printRebase(ctx, r);
  },
};

const stacksCheck: Command = {
  name: 'stacks:check',
  summary: 'ask the mirror whether the stack packages have updates; --update: then rebuild (admins)',
  usage: 'stacks:check [STACK] [--update] [--rebase] [--json]',
  help:
    'Compares the package lists of the stack images with the Debian mirror (SLIPWAY_DEBIAN_MIRROR). With --update a\n' +
    'stack that has updates is rebuilt (as stacks:update), with --rebase (or SLIPWAY_STACK_AUTO_REBASE) its apps are\n' +
    'then rebased. For cron or a systemd timer: slipway stacks:check --update --rebase (docs/stacks.md).',
  flags: {
    update: { boolean: true, desc: 'rebuild a stack that has updates' },
    rebase: { boolean: true, desc: 'after a rebuild, rebase every app on it (default: SLIPWAY_STACK_AUTO_REBASE)' },
  },
  json: true,
  async run(ctx) {
    const stack = ctx.args[0];
    if (ctx.flags.update) ctx.out.err('Checking the stacks for updates; a stack with updates is rebuilt (minutes)...');
    const r = await ctx.api().request<{ results: Row[] }>('POST', '/stacks/check', {
      ...(stack ? { stack } : {}),
      ...(ctx.flags.update ? { update: true } : {}),
      ...(ctx.flags.rebase ? { rebase: true } : {}),
    });
    if (ctx.out.json) return ctx.out.printJson(r);
    let failed = false;
    for (const c of r.results) {
      if (c.error) {
        failed = true;
        ctx.out.log(ctx.out.red(String(c.message)));
        continue;
      }
      ctx.out.log(String(c.message));
      for (const u of c.updates as Array<{ name: string; from: string; to: string; suite: string; security: boolean }>)
        ctx.out.log(`~ ${u.name} ${u.from} → ${u.to} (${u.security ? `security: ${u.suite}` : u.suite})`);
      const up = c.update as Row | undefined;
      if (up) ctx.out.log(`Stack ${up.name} rebuilt in ${up.seconds}s: ${up.run}`);
      if (c.rebase && printRebase(ctx, c.rebase as Row) === 1) failed = true;
      else if (up && !c.rebase)
        ctx.out.log(`Apps pick it up on their next build, or now with: slipway stacks:rebase ${up.name}`);
    }
    return failed ? 1 : undefined;
  },
};

const stacksDiff: Command = {
  name: 'stacks:diff',
  summary: 'packages updated, added and removed between two run image versions of a stack',
  usage: 'stacks:diff OLD NEW [--stack STACK] [--json]',
  help: 'Versions are the run image tags that slipway stacks --json lists under versions.',
  flags: { stack: { desc: 'the stack (default bookworm)', value: 'STACK' } },
  json: true,
  async run(ctx) {
    const [from, to] = ctx.args;
    if (!from || !to)
      throw new CliError('which two versions?', {
        hint: 'usage: slipway stacks:diff OLD NEW [--stack STACK] (versions: slipway stacks --json)',
        exitCode: 2,
      });
    const stack = String(ctx.flags.stack ?? 'bookworm');
    const q = new URLSearchParams({ from, to });
    const d = await ctx.api().request<Row>('GET', `/stacks/${encodeURIComponent(stack)}/diff?${q}`);
    if (ctx.out.json) return ctx.out.printJson(d);
    const up = d.updated as Array<{ name: string; from: string; to: string; security?: boolean; suite?: string }>;
    const add = d.added as Array<{ name: string; version: string }>;
    const rm = d.removed as Array<{ name: string; version: string }>;
    const security = up.filter((p) => p.security).length;
    ctx.out.log(
      ctx.out.bold(
        `=== ${stack}-run ${from} → ${to}: ${up.length} updated${security ? ` (${security} security)` : ''}, ${add.length} added, ${rm.length} removed`,
      ),
    );
    for (const p of up) ctx.out.log(`~ ${p.name} ${p.from} → ${p.to}${p.security ? ` (security: ${p.suite})` : ''}`);
    for (const p of add) ctx.out.log(`+ ${p.name} ${p.version}`);
    for (const p of rm) ctx.out.log(`- ${p.name} ${p.version}`);
  },
};

const stackSet: Command = {
  name: 'stack:set',
  summary: "set the app's stack; the next build uses it (the running release keeps its image)",
  usage: 'stack:set STACK [-a APP] [--json]',
  app: true,
  json: true,
  async run(ctx) {
    const stack = ctx.args[0];
    if (!stack)
      throw new CliError('which stack?', {
        hint: 'usage: slipway stack:set STACK -a APP (see slipway stacks)',
        exitCode: 2,
      });
    const app = await ctx.app();
    const r = await ctx.api().request<Row>('PUT', `/apps/${app}/stack`, { stack });
    if (ctx.out.json) return ctx.out.printJson(r);
    if (r.previous === r.stack) return ctx.out.log(`${app} is already on the ${r.stack} stack`);
    ctx.out.log(`Stack set to ${r.stack} for ${app} (was ${r.previous}); its build cache was cleared.`);
    ctx.out.log('The next build uses it: git push slipway main');
  },
};

export const platformCommands: Command[] = [
  events,
  status,
  stacks,
  stacksUpdate,
  stacksCheck,
  stacksRebase,
  stacksDiff,
  stackSet,
];
