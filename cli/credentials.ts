import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * CLI credentials: `{ apiUrl, token, email }` in $SLIPWAY_CONFIG_DIR/credentials.json (default
 * ~/.config/slipway/), mode 0600 in a 0700 folder. SLIPWAY_API_URL and SLIPWAY_TOKEN override the
 * file (scripts, CI, tests).
 */
export interface Credentials {
  apiUrl: string;
  token: string;
  email?: string;
}

export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.SLIPWAY_CONFIG_DIR || path.join(env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config'), 'slipway');
}

export function credentialsFile(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(configDir(env), 'credentials.json');
}

export function loadCredentials(env: NodeJS.ProcessEnv = process.env): Partial<Credentials> {
  let stored: Partial<Credentials> = {};
  try {
    stored = JSON.parse(fs.readFileSync(credentialsFile(env), 'utf8')) as Partial<Credentials>;
  } catch {
    // not logged in
  }
  return {
    ...stored,
    ...(env.SLIPWAY_API_URL ? { apiUrl: env.SLIPWAY_API_URL } : {}),
    ...(env.SLIPWAY_TOKEN ? { token: env.SLIPWAY_TOKEN, email: undefined } : {}),
  };
}

/** Writes the credentials file atomically with mode 0600 (install.sh logs the first admin in through `slipway login`). */
export function saveCredentials(creds: Credentials, env: NodeJS.ProcessEnv = process.env): string {
  const dir = configDir(env);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = credentialsFile(env);
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(
    tmp,
    JSON.stringify({ apiUrl: creds.apiUrl.replace(/\/+$/, ''), token: creds.token, email: creds.email }, null, 2) +
      '\n',
    { mode: 0o600 },
  );
  fs.chmodSync(tmp, 0o600);
  fs.renameSync(tmp, file);
  return file;
}

export function removeCredentials(env: NodeJS.ProcessEnv = process.env): boolean {
  try {
    fs.unlinkSync(credentialsFile(env));
    return true;
  } catch {
    return false;
  }
}
