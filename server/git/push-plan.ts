/**
 * What a push asks for, decided before anything is built: the pre-receive hook sends the ref
 * updates (`<old> <new> <ref>` lines from git) and gets back either one commit to build or the
 * reason the push is refused. Pure, so the rules are unit-tested.
 */
export interface RefUpdate {
  oldRev: string;
  newRev: string;
  ref: string;
}

/** `oldRev` and `ref`: what git will expect the ref to be when it updates it (checked before building). */
export type PushPlan =
  { ok: true; build?: { rev: string; branch: string; oldRev: string; ref: string } } | { ok: false; lines: string[] };

const ZERO = /^0+$/;
const SHA = /^[0-9a-f]{40}([0-9a-f]{24})?$/;

export function deployBranches(configured: string | null | undefined): string[] {
  return configured ? [configured] : ['main', 'master'];
}

export function parseRefUpdates(text: string): RefUpdate[] {
  const updates: RefUpdate[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const [oldRev, newRev, ref] = line.trim().split(/\s+/);
    if (!oldRev || !newRev || !ref || !SHA.test(oldRev) || !SHA.test(newRev))
      throw new Error(`malformed ref update: ${JSON.stringify(line.slice(0, 200))}`);
    updates.push({ oldRev, newRev, ref });
  }
  return updates;
}

export function planPush(updates: RefUpdate[], configuredBranch: string | null | undefined, appName: string): PushPlan {
  const branches = deployBranches(configuredBranch);
  const named = branches.join(' or ');
  const refused: string[] = [];
  const builds: Array<{ rev: string; branch: string; oldRev: string; ref: string }> = [];
  for (const u of updates) {
    const branch = u.ref.startsWith('refs/heads/') ? u.ref.slice('refs/heads/'.length) : undefined;
    if (branch !== undefined && branches.includes(branch)) {
      if (ZERO.test(u.newRev)) refused.push(`Deleting the deploy branch ${branch} is not allowed.`);
      else builds.push({ rev: u.newRev, branch, oldRev: u.oldRev, ref: u.ref });
      continue;
    }
    const shown = branch ?? u.ref.replace(/^refs\/tags\//, 'tag ');
    refused.push(
      `Pushed to ${shown}: this app deploys from ${named} only.`,
      `To deploy it: git push slipway ${branch ?? u.ref}:${branches[0]}`,
    );
  }
  if (builds.length > 1) refused.push(`Push one deploy branch at a time (${named}).`);
  if (refused.length > 0) {
    return { ok: false, lines: [...refused.map((l) => ` !     ${l}`), ` !     Push rejected to ${appName}.`] };
  }
  return builds.length === 1 ? { ok: true, build: builds[0] } : { ok: true };
}
