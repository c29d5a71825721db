import * as fs from 'node:fs';
import Module from 'node:module';
import * as path from 'node:path';
import type Docker from 'dockerode';

/**
 * The server's dockerode client, without what it never uses. dockerode 4 requires, when it is
 * loaded, ssh2 (for ssh:// Docker hosts, in docker-modem/lib/ssh.js) and @grpc/grpc-js with
 * protobufjs (for BuildKit sessions, in dockerode/lib/session.js): ~9 MiB of resident memory in
 * a server that talks to the local socket and builds with the classic builder. Each of the two
 * files exports one function called on use, so a stand-in goes into require's cache first that
 * loads the real file at its first call. When dockerode's layout differs (a file is not where
 * 4.x has it), nothing is deferred and dockerode loads as usual.
 */
export function createDockerClient(): Docker {
  const dockerodeMain = require.resolve('dockerode');
  deferUntilCalled(path.join(path.dirname(dockerodeMain), 'session.js'));
  const modemMain = require.resolve('docker-modem', { paths: [path.dirname(dockerodeMain)] });
  deferUntilCalled(path.join(path.dirname(modemMain), 'ssh.js'));
  const DockerClass = require('dockerode') as typeof Docker;
  return new DockerClass();
}

function deferUntilCalled(file: string): void {
  if (!fs.existsSync(file) || require.cache[file]) return;
  const stand = new Module(file);
  stand.filename = file;
  stand.loaded = true;
  let real: ((...args: unknown[]) => unknown) | undefined;
  stand.exports = function (this: unknown, ...args: unknown[]) {
    if (!real) {
      delete require.cache[file];
      real = require(file) as (...args: unknown[]) => unknown;
    }
    return real.apply(this, args);
  };
  require.cache[file] = stand;
}
