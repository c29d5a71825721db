import { Router } from 'express';
import { SlipwayError } from '../../common/errors';
import { appFor, body, record, type ApiDeps } from './context';

/**
 * The deploy branch: which branch a push must update to build and release. NULL (the default)
 * means main or master, whichever the push names.
 *
 *   GET /apps/:app/deploy-branch        → { branch: "main" | null, deploys: ["main", "master"] }
 *   PUT /apps/:app/deploy-branch        { branch: "production" | null }
 */
// git's own rules (check-ref-format), minus what a shell or a URL would mind.
const BRANCH_RE = /^(?!.*\.\.)(?!.*\/\/)(?!.*@\{)(?!\/)(?!.*\/$)(?!.*\.lock$)(?!.*\.$)[A-Za-z0-9._\/-]{1,100}$/;

export function isValidBranchName(name: string): boolean {
  return BRANCH_RE.test(name) && !name.startsWith('-') && !name.split('/').some((part) => part.startsWith('.'));
}

export function createGitSettingsRoutes(deps: Pick<ApiDeps, 'state' | 'logs'>): Router {
  const r = Router();
  const shown = (branch: string | null) => ({ branch, deploys: branch ? [branch] : ['main', 'master'] });

  r.get('/apps/:app/deploy-branch', (req, res) => {
    res.json(shown(appFor(deps, req, res, 'read').deployBranch));
  });

  r.put('/apps/:app/deploy-branch', (req, res) => {
    const app = appFor(deps, req, res, 'config');
    const b = body<{ branch: string | null }>(req, { branch: 'string' });
    const branch = b.branch === undefined || b.branch === null || b.branch === '' ? null : b.branch;
    if (branch !== null && !isValidBranchName(branch)) {
      throw new SlipwayError('INVALID_INPUT', `${JSON.stringify(branch.slice(0, 100))} is not a valid branch name`, {
        hint: 'use a branch name such as main or production (letters, digits, ".", "_", "-" and "/")',
      });
    }
    deps.state.apps.setDeployBranch(app.id, branch);
    record(deps, res, { app, action: 'deploy-branch', message: `Deploy branch set to ${branch ?? 'main or master'}` });
    res.json(shown(branch));
  });
  return r;
}
