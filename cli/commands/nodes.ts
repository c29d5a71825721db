import type { Command } from '../command';
import { usageError } from '../errors';
import { withProgress } from '../progress';

/**
 * The runtime and its nodes (docs/scale-out.md "Swarm"): admin:runtime, nodes, nodes:add,
 * nodes:drain, nodes:remove (admins), and ps:placement (an app's own setting).
 */
type Row = Record<string, unknown>;

const runtime: Command = {
  name: 'admin:runtime',
  summary: 'the runtime this platform runs dynos on (docker or swarm) and the swarm state (admins)',
  usage: 'admin:runtime [--json]',
  json: true,
  async run(ctx) {
    const r = await ctx.api().request<{ runtime: string; swarm: Row | null }>('GET', '/admin/runtime');
    if (ctx.out.json) return ctx.out.printJson(r);
    ctx.out.log(`Runtime: ${r.runtime}`);
    if (r.swarm) {
      const s = r.swarm;
      ctx.out.log(
        `Swarm:   ${String(s.state)}${s.manager ? ', this engine is a manager' : ''}; ${String(s.nodes)} node(s), ${String(s.managers)} manager(s)${s.error ? `; error: ${String(s.error)}` : ''}`,
      );
    }
    if (r.runtime === 'docker')
      ctx.out.log('One Docker engine. To grow past one machine: docs/scale-out.md (install.sh --runtime swarm).');
  },
};

const nodes: Command = {
  name: 'nodes',
  summary: 'the swarm nodes: state, availability, tasks and resources (admins)',
  usage: 'nodes [--json]',
  json: true,
  async run(ctx) {
    const list = await ctx.api().request<Row[]>('GET', '/nodes');
    if (ctx.out.json) return ctx.out.printJson(list);
    ctx.out.table(
      list.map((n) => ({
        ...n,
        role: `${String(n.role)}${n.leader ? ' (leader)' : ''}`,
        resources: `${String(n.cpus)} CPU, ${String(n.memoryMb)} MB`,
        labels: Object.entries(n.labels as Record<string, string>)
          .map(([k, v]) => `${k}=${v}`)
          .join(','),
      })),
      [
        ['hostname', 'Node'],
        ['role', 'Role'],
        ['state', 'State'],
        ['availability', 'Availability'],
        ['tasks', 'Tasks'],
        ['resources', 'Resources'],
        ['address', 'Address'],
        ['labels', 'Labels'],
      ],
    );
  },
};

const add: Command = {
  name: 'nodes:add',
  summary: 'how to add a VM to the swarm: what to install and the join command (admins)',
  usage: 'nodes:add [--json]',
  json: true,
  async run(ctx) {
    const j = await ctx
      .api()
      .request<{ token: string; manager: string; command: string; install: string }>('GET', '/nodes/join');
    if (ctx.out.json) return ctx.out.printJson(j);
    ctx.out.log('On the new VM (Debian), as root, with this repository checked out:');
    ctx.out.log(`  ${j.install}`);
    ctx.out.log(
      'It installs Docker, trusts the platform registry and joins the swarm; or by hand, with Docker installed:',
    );
    ctx.out.log(`  ${j.command}`);
    ctx.out.log(
      'Open between the VMs: 2377/tcp (to managers), 7946/tcp+udp, 4789/udp, and the registry port (docs/scale-out.md).',
    );
    ctx.out.log('The join token is a secret: anyone holding it can add a node to this swarm.');
  },
};

const drain: Command = {
  name: 'nodes:drain',
  summary: 'move every dyno off NODE without failed requests, then keep it empty (admins)',
  usage: 'nodes:drain NODE',
  async run(ctx) {
    if (!ctx.args[0]) throw usageError('which node? (see slipway nodes)', this.usage);
    ctx.out.err(`Draining ${ctx.args[0]}: dynos start elsewhere first, then leave it...`);
    const n = await ctx.api().request<Row>('POST', `/nodes/${encodeURIComponent(ctx.args[0])}/drain`, {});
    ctx.out.log(
      `${String(n.hostname)} is drained (${String(n.tasks)} tasks left). Bring it back with: slipway nodes:activate ${ctx.args[0]}`,
    );
  },
};

const activate: Command = {
  name: 'nodes:activate',
  summary: 'let NODE take new dynos again (admins)',
  usage: 'nodes:activate NODE',
  async run(ctx) {
    if (!ctx.args[0]) throw usageError('which node? (see slipway nodes)', this.usage);
    const n = await ctx.api().request<Row>('POST', `/nodes/${encodeURIComponent(ctx.args[0])}/activate`, {});
    ctx.out.log(`${String(n.hostname)} is ${String(n.availability)}`);
  },
};

const remove: Command = {
  name: 'nodes:remove',
  summary: 'remove a drained worker from the swarm (admins)',
  usage: 'nodes:remove NODE',
  async run(ctx) {
    if (!ctx.args[0]) throw usageError('which node? (see slipway nodes)', this.usage);
    await ctx.api().request('DELETE', `/nodes/${encodeURIComponent(ctx.args[0])}`);
    ctx.out.log(`Removed ${ctx.args[0]} from the swarm`);
  },
};

const placement: Command = {
  name: 'ps:placement',
  summary: 'where a process type runs on a swarm (web=node.labels.zone==a; web= for anywhere)',
  usage: 'ps:placement TYPE=CONSTRAINT[,CONSTRAINT...] [-a APP]',
  app: true,
  async run(ctx) {
    if (!ctx.args.length) throw usageError('give TYPE=CONSTRAINT', this.usage);
    const name = await ctx.app();
    for (const a of ctx.args) {
      const m = /^([A-Za-z0-9_-]+)=(.*)$/.exec(a);
      if (!m) throw usageError(`${JSON.stringify(a)} is not TYPE=CONSTRAINT`, this.usage);
      const constraints = m[2] ? m[2].split(',').map((c) => c.trim()) : [];
      const r = await withProgress(ctx, name, () =>
        ctx.api().request<{ constraints: string[] }>('PUT', `/apps/${name}/placement/${m[1]}`, { constraints }),
      );
      ctx.out.log(`${m[1]} runs ${r.constraints.length ? `on ${r.constraints.join(' and ')}` : 'on any node'}`);
    }
  },
};

export const nodesCommands: Command[] = [runtime, nodes, add, drain, activate, remove, placement];
