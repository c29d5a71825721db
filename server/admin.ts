import { loadConfig, homePaths } from '../common/config';
import { isSlipwayError, SlipwayError } from '../common/errors';
import { openState } from './state';

/**
 * Operator commands that run on the server machine without a token (they need write access to
 * SLIPWAY_HOME, which is the credential). install.sh runs `bootstrap` once to create the first
 * admin user and print their token:
 *
 *   node dist/server/admin.js bootstrap --email EMAIL
 *     → {"email":"ana@example.com","token":"slw_..."}   (only when no user exists yet)
 *     → {"exists":true}                                  (users exist: nothing is created)
 *
 *   node dist/server/admin.js token --email EMAIL [--description TEXT]
 *     → {"email":...,"token":...}   a new token for an existing user (lost credentials)
 */
export function bootstrap(home: string, email: string): { email: string; token: string } | { exists: true } {
  const paths = homePaths(home);
  const state = openState({ dbFile: paths.db, keyFile: paths.keyFile });
  try {
    // One IMMEDIATE transaction: two concurrent bootstraps can never create two first admins.
    return state.db
      .transaction(() => {
        if (state.users.count() > 0) return { exists: true as const };
        const user = state.users.create(email, true);
        const { secret } = state.users.createToken(user.id, 'bootstrap');
        state.events.add({
          actor: 'slipway',
          action: 'user.create',
          message: `Admin ${user.email} created by bootstrap`,
        });
        return { email: user.email, token: secret };
      })
      .immediate();
  } finally {
    state.db.close();
  }
}

export function issueToken(home: string, email: string, description = 'admin.js'): { email: string; token: string } {
  const paths = homePaths(home);
  const state = openState({ dbFile: paths.db, keyFile: paths.keyFile });
  try {
    const user = state.users.getByEmail(email);
    if (!user)
      throw new SlipwayError('NOT_FOUND', `no user ${email}`, { hint: 'list users with: slipway users (as an admin)' });
    const { secret } = state.users.createToken(user.id, description);
    state.events.add({
      actor: 'slipway',
      action: 'token.create',
      message: `Token created for ${user.email} by admin.js`,
    });
    return { email: user.email, token: secret };
  } finally {
    state.db.close();
  }
}

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

function main(argv: string[]): number {
  const [cmd, ...args] = argv;
  const config = loadConfig();
  const email = flag(args, '--email');
  if ((cmd === 'bootstrap' || cmd === 'token') && email) {
    const out =
      cmd === 'bootstrap' ? bootstrap(config.home, email) : issueToken(config.home, email, flag(args, '--description'));
    process.stdout.write(JSON.stringify(out) + '\n');
    return 0;
  }
  process.stderr.write(
    'usage: node dist/server/admin.js bootstrap --email EMAIL\n       node dist/server/admin.js token --email EMAIL [--description TEXT]\n(SLIPWAY_HOME from the environment)\n',
  );
  return 2;
}

if (require.main === module) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (err) {
    if (isSlipwayError(err)) {
      process.stderr.write(`admin: ${err.message}\n${err.hint ? `hint: ${err.hint}\n` : ''}`);
    } else {
      process.stderr.write(`admin: ${(err as Error).message}\n`);
    }
    process.exitCode = 1;
  }
}
