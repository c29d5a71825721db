import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as path from 'node:path';
import type { HomePaths } from '../../common/config';
import type { Limits } from '../../common/limits';
import type { State } from '../state';
import type { DeployPipeline } from '../deploys/pipeline';
import type { AuthBackoff } from '../auth/backoff';
import { createGitEndpoint, isGitRequest, type PushSessions } from './endpoint';
import { createHookServer } from './hook-server';
import { createPushLocks } from './push-lock';
import { startRebuild } from './rebuild';
import { appRepositoryExists, appRepoPath, createAppRepository, enableFsck, installHook } from './repos';

export { createAppRepository, removeAppRepository } from './repos';
export { isGitRequest } from './endpoint';

export interface GitServiceDeps {
  state: State;
  paths: HomePaths;
  builds: Pick<DeployPipeline, 'deploy' | 'recover'>;
  authBackoff?: AuthBackoff;
  /** Platform default limits (push-mb); per-user overrides come from the state. */
  limits?: Limits;
}

/**
 * Git push deploys: the smart HTTP endpoint (mounted by server/http-app.ts for /APP.git paths)
 * and the internal hook endpoint its pre-receive hooks call. start() listens on
 * SLIPWAY_HOME/run/git-hook.sock and puts SLIPWAY_HOOK_* into this process's environment, which
 * the git processes node-git-server spawns (and so their hooks) inherit.
 */
export function createGitService(deps: GitServiceDeps) {
  const sessions: PushSessions = new Map();
  const secret = randomBytes(32).toString('base64url');
  const endpoint = createGitEndpoint({
    state: deps.state,
    paths: deps.paths,
    sessions,
    authBackoff: deps.authBackoff,
    limits: deps.limits,
  });
  const locks = createPushLocks();
  const repoDir = (appName: string) => appRepoPath(deps.paths, appName);
  const hooks = createHookServer({ state: deps.state, builds: deps.builds, sessions, secret, locks, repoDir });
  const socketPath = path.join(deps.paths.run, 'git-hook.sock');

  return {
    isGitRequest: (req: IncomingMessage) => isGitRequest(req.url),
    handle: (req: IncomingMessage, res: ServerResponse) => endpoint.handle(req, res),
    /** builds:create: the deploy branch's commit built and released again (rebuild.ts). */
    rebuild: (appName: string, user: { id: number; email: string } | null) =>
      startRebuild({ state: deps.state, builds: deps.builds, locks, repoDir }, appName, user),
    async start(): Promise<void> {
      await deps.builds.recover();
      // Every app has its repository with the current hook (apps created before an upgrade too).
      for (const app of deps.state.apps.list()) {
        if (appRepositoryExists(deps.paths, app.name)) {
          installHook(appRepoPath(deps.paths, app.name));
          await enableFsck(appRepoPath(deps.paths, app.name));
        } else await createAppRepository(deps.paths, app.name);
      }
      await hooks.listen(socketPath);
      process.env.SLIPWAY_HOOK_SOCKET = socketPath;
      process.env.SLIPWAY_HOOK_SECRET = secret;
      process.env.SLIPWAY_HOOK_NODE = process.execPath;
      process.env.SLIPWAY_HOOK_SCRIPT = path.join(__dirname, 'hook-client.js');
    },
    async stop(): Promise<void> {
      await hooks.close();
    },
  };
}
export type GitService = ReturnType<typeof createGitService>;
