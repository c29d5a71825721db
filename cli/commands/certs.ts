import * as fs from 'node:fs';
import type { Command } from '../command';
import { CliError, usageError } from '../errors';

type Row = Record<string, unknown>;

interface AutoDomain {
  hostname: string;
  status: 'pending' | 'issued' | 'failed' | 'off' | 'wildcard';
  certificateId: number | null;
  expiresAt: string | null;
  error: string | null;
  nextAttemptAt: string | null;
}

interface AutoView {
  enabled: boolean;
  configured: boolean;
  directoryUrl: string | null;
  domains: AutoDomain[];
}

const hostsOf = (c: Row) =>
  Array.isArray(c.hostnames) ? (c.hostnames as string[]).join(', ') : String(c.hostnames ?? '');

/** One line of state per custom domain: what `slipway certs` shows under "Automatic certificates". */
function describe(d: AutoDomain, uploaded: Row[]): string {
  const upload = uploaded.find((c) => Array.isArray(c.hostnames) && (c.hostnames as string[]).includes(d.hostname));
  if (d.status === 'issued')
    return d.error ? `issued (renewal failed: ${d.error}; next attempt ${d.nextAttemptAt})` : 'issued';
  if (d.status === 'failed') return `failed: ${d.error ?? 'unknown reason'}`;
  if (d.status === 'wildcard')
    return upload ? `uploaded certificate ${String(upload.id)}` : 'wildcard: upload a certificate (certs:add)';
  if (d.status === 'off') return upload ? `uploaded certificate ${String(upload.id)}` : 'off';
  return 'pending';
}

const certs: Command = {
  name: 'certs',
  summary: "list the app's TLS certificates and each custom domain's automatic certificate",
  usage: 'certs [-a APP] [--json]',
  help: 'JSON: { certificates: [{ id, hostnames, expiresAt, source }], auto: { enabled, configured, domains: [{ hostname, status, expiresAt, error }] } }',
  app: true,
  json: true,
  async run(ctx) {
    const name = await ctx.app();
    const [list, auto] = await Promise.all([
      ctx.api().request<Row[]>('GET', `/apps/${name}/certs`),
      ctx.api().request<AutoView>('GET', `/apps/${name}/certs/auto`),
    ]);
    if (ctx.out.json) return ctx.out.printJson({ certificates: list, auto });
    const uploaded = list.filter((c) => c.source !== 'acme');
    if (uploaded.length) {
      ctx.out.log(ctx.out.bold(`=== ${name} Uploaded certificates`));
      ctx.out.table(
        uploaded.map((c) => ({ ...c, hosts: hostsOf(c) })),
        [
          ['id', 'Id'],
          ['hosts', 'Hosts'],
          ['expiresAt', 'Expires'],
        ],
      );
    }
    if (auto.domains.length) {
      ctx.out.log(
        ctx.out.bold(
          `=== ${name} Automatic certificates (${auto.enabled ? (auto.configured ? 'on' : 'on, but ACME is not configured on this server') : 'off'})`,
        ),
      );
      ctx.out.table(
        auto.domains.map((d) => ({ hostname: d.hostname, status: describe(d, uploaded), expires: d.expiresAt ?? '' })),
        [
          ['hostname', 'Domain'],
          ['status', 'Status'],
          ['expires', 'Expires'],
        ],
      );
    }
    if (!uploaded.length && !auto.domains.length) ctx.out.log(`${name} has no custom domains and no certificates.`);
  },
};

const certsAdd: Command = {
  name: 'certs:add',
  summary: 'add a TLS certificate (PEM chain and key files); the router picks it by SNI',
  usage: 'certs:add CERT.pem KEY.pem [-a APP]',
  app: true,
  json: true,
  async run(ctx) {
    const [certFile, keyFile] = ctx.args;
    if (!certFile || !keyFile) throw usageError('give the certificate and key files', this.usage);
    const read = (f: string) => {
      try {
        return fs.readFileSync(f, 'utf8');
      } catch (err) {
        throw new CliError(`cannot read ${f}: ${(err as Error).message}`);
      }
    };
    const name = await ctx.app();
    const cert = await ctx
      .api()
      .request<Row>('POST', `/apps/${name}/certs`, { certificate: read(certFile), privateKey: read(keyFile) });
    if (ctx.out.json) return ctx.out.printJson(cert);
    ctx.out.log(`Adding certificate to ${name}... done: ${hostsOf(cert)} (expires ${String(cert.expiresAt)})`);
  },
};

const certsRemove: Command = {
  name: 'certs:remove',
  summary: 'remove a TLS certificate',
  usage: 'certs:remove ID [-a APP]',
  app: true,
  async run(ctx) {
    if (!ctx.args[0] || !/^\d+$/.test(ctx.args[0]))
      throw usageError('which certificate id? (see slipway certs)', this.usage);
    const name = await ctx.app();
    await ctx.api().request('DELETE', `/apps/${name}/certs/${ctx.args[0]}`);
    ctx.out.log(`Removing certificate ${ctx.args[0]} from ${name}... done`);
  },
};

const autoCommand = (verb: 'enable' | 'disable' | 'refresh'): Command => ({
  name: `certs:auto:${verb}`,
  summary: {
    enable: 'order certificates for every custom domain automatically (ACME, HTTP-01) and renew them',
    disable: 'stop automatic certificates for the app (its automatic certificates are removed)',
    refresh: 'order new automatic certificates now, even before the renewal window',
  }[verb],
  usage: `certs:auto:${verb} [-a APP]`,
  app: true,
  json: true,
  async run(ctx) {
    const name = await ctx.app();
    const method = verb === 'disable' ? 'DELETE' : 'POST';
    const view = await ctx
      .api()
      .request<AutoView>(method, `/apps/${name}/certs/auto${verb === 'refresh' ? '/refresh' : ''}`, {});
    if (ctx.out.json) return ctx.out.printJson(view);
    ctx.out.log(
      `${{ enable: 'Enabling', disable: 'Disabling', refresh: 'Refreshing' }[verb]} automatic certificates for ${name}... done`,
    );
    if (verb !== 'disable' && !view.configured) {
      ctx.out.log(
        'Note: ACME is not configured on this server (install.sh --acme-email EMAIL); nothing is ordered until it is.',
      );
    } else if (verb !== 'disable') {
      ctx.out.log('Certificates are ordered in the background; watch them with: slipway certs');
    }
  },
});

export const certsCommands: Command[] = [
  certs,
  certsAdd,
  certsRemove,
  autoCommand('enable'),
  autoCommand('disable'),
  autoCommand('refresh'),
];
