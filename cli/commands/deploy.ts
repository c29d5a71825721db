import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command, Ctx } from '../command';
import { CliError, usageError } from '../errors';
import { sourceFiles, tarGz } from '../source-files';

/** The server's last line of a streamed deploy: this mark and 0 or 1 (server/api/deploys.ts). */
const EXIT_MARK = '\x1eslipway-exit:';

/** Prints a streamed deploy's lines as they come; resolves with its exit status. */
async function follow(ctx: Ctx, res: Response): Promise<number> {
  let status = 1;
  let partial = '';
  const decoder = new TextDecoder();
  const print = (line: string) => {
    if (line.startsWith(EXIT_MARK)) status = Number(line.slice(EXIT_MARK.length)) === 0 ? 0 : 1;
    else ctx.out.log(line);
  };
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    const lines = (partial + decoder.decode(chunk, { stream: true })).split('\n');
    partial = lines.pop() ?? '';
    lines.forEach(print);
  }
  if (partial) print(partial);
  return status;
}

function withCancel(): { signal: AbortSignal; done: () => void } {
  const abort = new AbortController();
  const onInt = () => abort.abort();
  process.once('SIGINT', onInt);
  return { signal: abort.signal, done: () => process.removeListener('SIGINT', onInt) };
}

const deploy: Command = {
  name: 'deploy',
  summary: "build and deploy a directory without git (its .gitignore'd files stay out)",
  usage: 'deploy [DIR] [-a APP]',
  app: true,
  async run(ctx) {
    const dir = path.resolve(ctx.args[0] ?? '.');
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory())
      throw usageError(`${dir} is not a directory`, this.usage);
    const name = await ctx.app();
    const files = await sourceFiles(dir);
    if (!files.length)
      throw new CliError(`${dir} has nothing to deploy (every file is ignored)`, { hint: 'check .gitignore' });
    ctx.out.log(`-----> Uploading ${files.length} files from ${dir} to ${name}`);
    const c = withCancel();
    const tar = tarGz(dir, files);
    try {
      const res = await ctx.api().post(`/apps/${name}/sources`, tar.stream, 'application/gzip', c.signal);
      return await follow(ctx, res);
    } finally {
      tar.stop();
      c.done();
    }
  },
};

const deployImage: Command = {
  name: 'deploy:image',
  summary: 'deploy a pre-built image from a registry (linux/amd64; REF@sha256:… is checked)',
  usage: 'deploy:image REF [-a APP]',
  app: true,
  async run(ctx) {
    const ref = ctx.args[0];
    if (!ref) throw usageError('which image?', this.usage);
    const name = await ctx.app();
    const c = withCancel();
    try {
      return await follow(ctx, await ctx.api().post(`/apps/${name}/images`, { image: ref }, undefined, c.signal));
    } finally {
      c.done();
    }
  },
};

const registryLogin: Command = {
  name: 'registry:login',
  summary: "store the app's credentials for a registry (for deploy:image), encrypted on the server",
  usage: 'registry:login HOST [-u USER] [--password-stdin] [-a APP]',
  app: true,
  flags: {
    username: { short: 'u', desc: 'user name', value: 'USER' },
    'password-stdin': { boolean: true, desc: 'read the password (or token) from stdin' },
  },
  async run(ctx) {
    const host = ctx.args[0];
    if (!host) throw usageError('which registry host?', this.usage);
    const name = await ctx.app();
    const username = typeof ctx.flags.username === 'string' ? ctx.flags.username : await ctx.prompt('Username: ');
    let password: string;
    if (ctx.flags['password-stdin']) {
      let s = '';
      for await (const chunk of process.stdin) s += String(chunk);
      password = s.replace(/\r?\n$/, '');
    } else password = await ctx.prompt('Password: ', { secret: true });
    await ctx
      .api()
      .request('PUT', `/apps/${name}/registry-credentials/${encodeURIComponent(host)}`, { username, password });
    ctx.out.log(`Credentials for ${host} stored for ${name}. deploy:image pulls with them.`);
  },
};

const registryLogout: Command = {
  name: 'registry:logout',
  summary: "remove the app's credentials for a registry",
  usage: 'registry:logout HOST [-a APP]',
  app: true,
  async run(ctx) {
    const host = ctx.args[0];
    if (!host) throw usageError('which registry host?', this.usage);
    const name = await ctx.app();
    await ctx.api().request('DELETE', `/apps/${name}/registry-credentials/${encodeURIComponent(host)}`);
    ctx.out.log(`Credentials for ${host} removed from ${name}.`);
  },
};

export const deployCommands: Command[] = [deploy, deployImage, registryLogin, registryLogout];
