#!/usr/bin/env node
import * as path from 'node:path';
import * as readline from 'node:readline';
import { parseArgs } from './args';
import { createApiClient, requireCredentials, type ApiClient } from './client';
import { APP_FLAG, JSON_FLAG, type Command, type Ctx } from './command';
import { CliError, usageError } from './errors';
import { appFromGitRemote } from './git';
import { createOut } from './output';
import { VERSION } from '../common/version';
import { isValidAppName } from '../common/names';
import { accessCommands } from './commands/access';
import { usersCommands } from './commands/users';
import { appsCommands } from './commands/apps';
import { authCommands } from './commands/auth';
import { configCommands } from './commands/config';
import { builderCommands } from './commands/builder';
import { deployCommands } from './commands/deploy';
import { domainsCommands } from './commands/domains';
import { certsCommands } from './commands/certs';
import { logsCommands } from './commands/logs';
import { psCommands } from './commands/ps';
import { releasesCommands } from './commands/releases';
import { platformCommands } from './commands/platform';
import { runCommands } from './commands/run';
import { addonsCommands } from './commands/addons';
import { metricsCommands } from './commands/metrics';
import { nodesCommands } from './commands/nodes';
import { gitCommands } from './commands/git';
import { BUILD_OPTIONS } from './commands/build-usage';
import { closest, hoistAppFlag } from './suggest';

/**
 * `slipway`: the command-line client. Talks HTTP to the API only (except `slipway build`, a local
 * build). Heroku habits: topic:verb commands, -a APP or the `slipway` git remote, tables for
 * people, --json for scripts, message + hint and a non-zero exit on failure.
 */
const localBuild: Command = {
  name: 'build',
  summary: 'build a directory into an OCI image locally (like pack build)',
  usage: 'build DIR --tag NAME [--buildpack REF]... [--env KEY=VALUE]... [--clear-cache]',
  help: `Options:\n${BUILD_OPTIONS}`,
  passthrough: true,
  async run(ctx) {
    let mod: { runLocalBuild?: (args: string[]) => Promise<number> };
    try {
      // Loaded by path: the local build pulls in the lifecycle, which the other commands never need.
      mod = require(path.join(__dirname, 'commands', 'build.js')) as typeof mod;
    } catch {
      throw new CliError('local builds are not available in this installation', {
        hint: 'push with git instead: git push slipway main',
      });
    }
    if (!mod.runLocalBuild) throw new CliError('local builds are not available in this installation');
    return mod.runLocalBuild(ctx.args);
  },
};

export const COMMANDS: Command[] = [
  ...authCommands,
  ...appsCommands,
  ...gitCommands,
  ...configCommands,
  ...builderCommands,
  ...deployCommands,
  ...psCommands,
  ...releasesCommands,
  ...logsCommands,
  ...runCommands,
  ...addonsCommands,
  ...domainsCommands,
  ...certsCommands,
  ...accessCommands,
  ...usersCommands,
  ...platformCommands,
  ...metricsCommands,
  ...nodesCommands,
  localBuild,
];

export function findCommand(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name || c.aliases?.includes(name));
}

function flagsOf(cmd: Command) {
  return { ...(cmd.app ? { app: APP_FLAG } : {}), ...(cmd.json ? { json: JSON_FLAG } : {}), ...cmd.flags };
}

export function commandHelp(cmd: Command): string {
  const lines = [`Usage: slipway ${cmd.usage}`, '', cmd.summary];
  if (cmd.help) lines.push('', cmd.help);
  const flags = Object.entries(flagsOf(cmd));
  if (flags.length) {
    lines.push('', 'Options:');
    for (const [name, f] of flags) {
      const left = `${f.short ? `-${f.short}, ` : '    '}--${name}${f.boolean ? '' : ` ${f.value ?? 'VALUE'}`}`;
      lines.push(`  ${left.padEnd(28)} ${f.desc}`);
    }
  }
  if (cmd.aliases?.length) lines.push('', `Aliases: ${cmd.aliases.join(', ')}`);
  return lines.join('\n');
}

export function generalHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    `slipway ${VERSION}: a self-hosted git-push PaaS`,
    '',
    'Usage: slipway COMMAND [ARGS] [-a APP] [--json]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'The app comes from -a APP, or from the git remote named "slipway" in the current repository.',
    "Run `slipway help COMMAND` for a command's options.",
  ].join('\n');
}

const helpCommand: Command = {
  name: 'help',
  summary: 'show help (for every command: slipway help COMMAND)',
  usage: 'help [COMMAND]',
  async run(ctx) {
    const name = ctx.args[0];
    if (!name) {
      ctx.out.log(generalHelp());
      return 0;
    }
    const cmd = findCommand(name);
    if (!cmd) throw new CliError(`no command "${name}"`, { hint: 'see slipway help' });
    ctx.out.log(commandHelp(cmd));
    return 0;
  },
};
COMMANDS.push(helpCommand, {
  name: 'version',
  summary: 'print the CLI version',
  usage: 'version',
  async run(ctx) {
    ctx.out.log(`slipway ${VERSION} node-${process.version}`);
  },
});

export async function runCli(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [name = 'help', ...rest] = hoistAppFlag(argv);
  const out0 = createOut({ json: rest.includes('--json'), env });
  try {
    if (name === '--help' || name === '-h') return helpCommand.run(makeCtx([], {}, out0, env)) as Promise<number>;
    if (name === '--version' || name === '-v') return runCli(['version'], env);
    const cmd = findCommand(name);
    if (!cmd) {
      const near = closest(
        name,
        COMMANDS.flatMap((c) => [c.name, ...(c.aliases ?? [])]),
      );
      throw new CliError(`"${name}" is not a slipway command`, {
        hint: near.length
          ? `did you mean ${near.map((n) => `slipway ${n}`).join(', or ')}? (all commands: slipway help)`
          : 'see slipway help',
        exitCode: 2,
      });
    }
    if (cmd.name === 'build') return (await cmd.run(makeCtx(rest, {}, out0, env))) ?? 0;
    const { flags, positionals } = parseArgs(rest, flagsOf(cmd), cmd.usage, { stopAtFirstPositional: cmd.passthrough });
    if (flags.help) {
      out0.log(commandHelp(cmd));
      return 0;
    }
    const out = createOut({ json: Boolean(flags.json), env });
    return (await cmd.run(makeCtx(positionals, flags, out, env))) ?? 0;
  } catch (err) {
    if (err instanceof CliError) {
      out0.err(`${out0.red('slipway:')} ${err.message}`);
      if (err.hint) out0.err(`  hint: ${err.hint}`);
      return err.exitCode;
    }
    // Anything else is a bug or an environment problem: one line and a hint, the trace on demand.
    const e = err as NodeJS.ErrnoException;
    out0.err(`${out0.red('slipway:')} unexpected error: ${e?.message ?? String(err)}`);
    if (env.SLIPWAY_DEBUG === '1') out0.err(e?.stack ?? String(err));
    else out0.err('  hint: run again with SLIPWAY_DEBUG=1 for details, and report it if it looks like a bug');
    return 1;
  } finally {
    terminal.close();
  }
}

/**
 * Questions on the terminal. One readline for the whole process: typed-ahead answers (or a
 * pasted URL and token) are queued, not lost between questions. Secret answers are not echoed.
 */
const terminal = (() => {
  let rl: readline.Interface | undefined;
  let muted = false;
  const queued: string[] = [];
  const waiting: Array<(line: string) => void> = [];
  const open = () => {
    if (rl) return rl;
    rl = readline.createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    rl.setPrompt('');
    const raw = rl as unknown as { _writeToOutput: (s: string) => void };
    const write = raw._writeToOutput.bind(rl);
    raw._writeToOutput = (s) => {
      if (!muted || s === '\r\n' || s === '\n') write(s);
    };
    rl.on('line', (line) => {
      const w = waiting.shift();
      if (w) w(line.trim());
      else queued.push(line.trim());
    });
    return rl;
  };
  return {
    ask(question: string, secret: boolean, hint?: string): Promise<string> {
      if (!process.stdin.isTTY)
        return Promise.reject(
          new CliError('this needs an answer on a terminal', { hint: hint ?? 'pass the value as a flag instead' }),
        );
      open();
      process.stderr.write(question);
      muted = secret;
      return new Promise((resolve) => {
        const done = (line: string) => {
          muted = false;
          resolve(line);
        };
        const q = queued.shift();
        if (q !== undefined) done(q);
        else waiting.push(done);
      });
    },
    close: () => rl?.close(),
  };
})();

function makeCtx(args: string[], flags: Ctx['flags'], out: Ctx['out'], env: NodeJS.ProcessEnv): Ctx {
  let client: ApiClient | undefined;
  return {
    args,
    flags,
    out,
    env,
    api: () => (client ??= createApiClient(requireCredentials(env))),
    async app() {
      const given = typeof flags.app === 'string' ? flags.app : undefined;
      const name = given ?? (await appFromGitRemote());
      if (!name) {
        throw new CliError('no app given', {
          hint: 'pass -a APP, or run the command in a repository with a git remote named "slipway"',
          exitCode: 2,
        });
      }
      if (!isValidAppName(name)) throw usageError(`"${name}" is not a valid app name`, 'slipway COMMAND -a APP');
      return name;
    },
    prompt: (question, opts = {}) => terminal.ask(question, opts.secret === true, opts.hint),
  };
}

/**
 * `slipway logs | head`: the reader went away. That is the user's choice, not an error: stop
 * quietly (exit 0, as git and coreutils do with SIGPIPE's default) instead of a stack trace.
 */
function exitQuietlyOnEpipe(stream: NodeJS.WriteStream): void {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
}

if (require.main === module) {
  exitQuietlyOnEpipe(process.stdout);
  exitQuietlyOnEpipe(process.stderr);
  process.on('uncaughtException', (err) => {
    process.stderr.write(`slipway: unexpected error: ${err.message}\n`);
    if (process.env.SLIPWAY_DEBUG === '1') process.stderr.write(`${err.stack}\n`);
    else process.stderr.write('  hint: run again with SLIPWAY_DEBUG=1 for details\n');
    process.exit(1);
  });
  runCli(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: Error) => {
      process.stderr.write(`slipway: unexpected error: ${err.message}\n`);
      if (process.env.SLIPWAY_DEBUG === '1') process.stderr.write(`${err.stack}\n`);
      process.exitCode = 1;
    },
  );
}
