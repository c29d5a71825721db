import { createApiClient } from '../client';
import type { Command } from '../command';
import { loadCredentials, removeCredentials, saveCredentials } from '../credentials';
import { CliError } from '../errors';

const login: Command = {
  name: 'login',
  summary: 'log in to a Slipway API with a token',
  usage: 'login --api URL --token TOKEN',
  help: 'Checks the token against the API, then stores { apiUrl, token, email } in\n$SLIPWAY_CONFIG_DIR/credentials.json (default ~/.config/slipway/, mode 0600).\nOn a terminal without flags it asks for both.',
  flags: {
    api: { desc: 'API URL, e.g. http://127.0.0.1:5080', value: 'URL' },
    token: { desc: 'API token (slw_...)', value: 'TOKEN' },
  },
  async run(ctx) {
    let apiUrl = typeof ctx.flags.api === 'string' ? ctx.flags.api : undefined;
    let token = typeof ctx.flags.token === 'string' ? ctx.flags.token : undefined;
    if (!apiUrl) apiUrl = (await ctx.prompt('API URL (http://HOST:5080): ')) || undefined;
    if (!token) token = (await ctx.prompt('API token: ', { secret: true })) || undefined;
    if (!apiUrl || !token)
      throw new CliError('an API URL and a token are needed', {
        hint: 'slipway login --api URL --token TOKEN',
        exitCode: 2,
      });
    try {
      new URL(apiUrl);
    } catch {
      throw new CliError(`${JSON.stringify(apiUrl)} is not a URL`, {
        hint: 'for example http://127.0.0.1:5080',
        exitCode: 2,
      });
    }
    const me = await createApiClient({ apiUrl, token }).request<{ email: string }>('GET', '/account');
    const file = saveCredentials({ apiUrl, token, email: me.email }, ctx.env);
    ctx.out.log(`Logged in as ${ctx.out.bold(me.email)} (credentials in ${file})`);
  },
};

const logout: Command = {
  name: 'logout',
  summary: 'forget the stored credentials (the token stays valid: revoke it with tokens:revoke)',
  usage: 'logout',
  async run(ctx) {
    ctx.out.log(removeCredentials(ctx.env) ? 'Logged out' : 'Not logged in');
  },
};

const whoami: Command = {
  name: 'whoami',
  summary: 'show the user the current token belongs to',
  usage: 'whoami [--json]',
  json: true,
  async run(ctx) {
    const me = await ctx.api().request<{ email: string; admin: boolean }>('GET', '/account');
    if (ctx.out.json) return ctx.out.printJson({ ...me, apiUrl: ctx.api().apiUrl });
    ctx.out.log(`${me.email}${me.admin ? ' (admin)' : ''} on ${ctx.api().apiUrl}`);
  },
};

/**
 * git's credential helper protocol (`git credential fill` calls `helper get` with key=value lines
 * on stdin). apps:create configures it per repository for the API's origin, so git push
 * authenticates with the CLI's token without it ever being written into .git/config.
 */
const gitCredential: Command = {
  name: 'git-credential',
  summary: 'git credential helper: answers git with the stored token (set up by apps:create)',
  usage: 'git-credential get',
  async run(ctx) {
    if (ctx.args[0] !== 'get') return 0; // store/erase: the token is managed by slipway login
    const input = await readStdin();
    const req = Object.fromEntries(
      input
        .split('\n')
        .filter((l) => l.includes('='))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    const creds = loadCredentials(ctx.env);
    if (!creds.apiUrl || !creds.token) return 0;
    const api = new URL(creds.apiUrl);
    // Answer only for the server the token belongs to.
    if (req.protocol && req.protocol !== api.protocol.replace(':', '')) return 0;
    if (req.host && req.host !== api.host) return 0;
    process.stdout.write(`username=slipway\npassword=${creds.token}\n`);
  },
};

function readStdin(): Promise<string> {
  return new Promise((resolve) => {
    let s = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (d) => (s += d));
    process.stdin.on('end', () => resolve(s));
  });
}

export const authCommands: Command[] = [login, logout, whoami, gitCredential];
