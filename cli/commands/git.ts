import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from '../command';
import { CliError, usageError } from '../errors';
import { addSlipwayRemote, cloneApp, currentBranch, helperCommand, isGitRepo, pushCommand } from '../git';

/** Deploy branch and remotes (issue 14): git:branch, git:remote, git:clone. */

interface DeployBranch {
  branch: string | null;
  deploys: string[];
}

const helper = () => helperCommand(process.execPath, require.main?.filename ?? process.argv[1]);

const branch: Command = {
  name: 'git:branch',
  summary: 'show or set the branch whose pushes deploy (default: main or master)',
  usage: 'git:branch [NAME] [--unset] [-a APP] [--json]',
  help: 'A push to another branch is refused with the command that deploys it (git push slipway BRANCH:NAME).',
  app: true,
  json: true,
  flags: { unset: { boolean: true, desc: 'back to the default (main or master)' } },
  async run(ctx) {
    const name = await ctx.app();
    if (ctx.args[0] && ctx.flags.unset) throw usageError('give a branch name or --unset, not both', this.usage);
    const b =
      ctx.args[0] || ctx.flags.unset
        ? await ctx
            .api()
            .request<DeployBranch>('PUT', `/apps/${name}/deploy-branch`, { branch: ctx.flags.unset ? '' : ctx.args[0] })
        : await ctx.api().request<DeployBranch>('GET', `/apps/${name}/deploy-branch`);
    if (ctx.out.json) return ctx.out.printJson(b);
    const mine = (await isGitRepo()) ? await currentBranch() : undefined;
    ctx.out.log(`${name} deploys pushes to ${b.deploys.join(' or ')}${b.branch ? '' : ' (the default)'}`);
    if (mine) ctx.out.log(`Deploy this repository's ${mine} with: ${pushCommand(mine, b.deploys)}`);
  },
};

const remote: Command = {
  name: 'git:remote',
  summary: 'add the `slipway` git remote of an app to the current repository (with the credential helper)',
  usage: 'git:remote -a APP',
  app: true,
  async run(ctx) {
    const name = await ctx.app();
    if (!(await isGitRepo()))
      throw new CliError('this directory is not a git repository', {
        hint: `run it inside a clone of the app's code, or clone it: slipway git:clone -a ${name}`,
      });
    const app = await ctx.api().request<{ name: string }>('GET', `/apps/${name}`);
    const b = await ctx.api().request<DeployBranch>('GET', `/apps/${name}/deploy-branch`);
    const url = await addSlipwayRemote({ apiUrl: ctx.api().apiUrl, app: app.name, helper: helper() });
    ctx.out.log(`Git remote slipway set to ${url}; deploy with: ${pushCommand(await currentBranch(), b.deploys)}`);
  },
};

const clone: Command = {
  name: 'git:clone',
  summary: "clone an app's repository, ready to push (remote `slipway`, credential helper)",
  usage: 'git:clone -a APP [DIR]',
  app: true,
  async run(ctx) {
    const name = await ctx.app();
    const dir = path.resolve(ctx.args[0] ?? name);
    if (fs.existsSync(dir) && fs.readdirSync(dir).length > 0)
      throw new CliError(`${dir} already exists and is not empty`, {
        hint: 'name another directory: slipway git:clone -a APP DIR',
      });
    await ctx.api().request('GET', `/apps/${name}`); // a clear "does not exist" before git speaks
    try {
      await cloneApp({ apiUrl: ctx.api().apiUrl, app: name, helper: helper(), dir });
    } catch (err) {
      const stderr = String((err as { stderr?: string }).stderr ?? (err as Error).message).trim();
      throw new CliError(`git clone failed: ${stderr.split('\n').pop()}`, {
        hint: 'check that you are logged in (slipway whoami) and can read the app (slipway access)',
      });
    }
    const b = await ctx.api().request<DeployBranch>('GET', `/apps/${name}/deploy-branch`);
    ctx.out.log(
      `Cloned ${name} into ${dir} (remote slipway); deploy with: cd ${path.relative(process.cwd(), dir) || '.'} && ${pushCommand(await currentBranch(dir), b.deploys)}`,
    );
  },
};

export const gitCommands: Command[] = [branch, remote, clone];
