import * as fs from 'node:fs';
import * as path from 'node:path';
import { SlipwayError } from '../../common/errors';
import { applyEnvOps, platformEnvOps } from './env-files';
import { baseEnv, type PhaseContext } from './context';
import { planOptions, resolvePlan, type Candidate } from './plan';
import { parseToml, writeToml } from './toml-files';
import { readFileIn, writeFileIn } from './safe-fs';
import type { Buildpack, DetectResult, GroupMember, PlanEntry } from './types';
import { escapeId } from './types';
import { bpImageDir, chownBuildUser, STEP } from './workspace';

/**
 * Detect: groups are tried in order; in each, every buildpack's bin/detect runs (in parallel,
 * each a `docker exec` in the build container; results cached per id@version), then the build
 * plan is resolved. The first group that passes wins; group.toml and plan.toml record it.
 * CNB detect: exit 0 pass, 100 fail, anything else an error. Legacy bin/detect BUILD_DIR: exit 0
 * pass (stdout names the framework), anything else fail.
 */
export interface DetectOutcome {
  group: Buildpack[];
  plan: PlanEntry[];
  results: Map<string, DetectResult>;
}

const key = (bp: Buildpack) => `${bp.id}@${bp.version}`;

async function runDetect(ctx: PhaseContext, bp: Buildpack): Promise<DetectResult> {
  const c = await ctx.container();
  const dir = bpImageDir(bp);
  if (bp.kind === 'legacy') {
    const r = await c.exec({ cmd: [STEP, `${dir}/bin/detect`, '/app'], env: baseEnv(ctx) });
    return { code: r.code, output: (r.stdout + r.stderr).trim(), plan: [] };
  }
  const io = path.join(ctx.ws.io, 'detect', escapeId(bp.id));
  writeFileIn(ctx.ws.root, path.join(io, 'plan.toml'), '');
  await chownBuildUser(io);
  const planPath = `/cnb/slipway/detect/${escapeId(bp.id)}/plan.toml`;
  const env = baseEnv(ctx);
  if (!bp.clearEnv) applyEnvOps(env, platformEnvOps(ctx.env));
  Object.assign(env, { CNB_BUILDPACK_DIR: dir, CNB_BUILD_PLAN_PATH: planPath });
  const r = await c.exec({ cmd: [STEP, `${dir}/bin/detect`, '/platform', planPath], env });
  let plan: DetectResult['plan'] = [];
  if (r.code === 0) {
    const file = path.join(io, 'plan.toml');
    const text = readFileIn(ctx.ws.root, file);
    plan = text.trim() ? planOptions(parseToml(text, `${bp.id}'s build plan`, 'build plan'), `${bp.id} (${file})`) : [];
  }
  return { code: r.code, output: (r.stdout + r.stderr).trim(), plan };
}

export async function detect(ctx: PhaseContext, groups: GroupMember[][]): Promise<DetectOutcome> {
  const results = new Map<string, DetectResult>();
  const pending = new Map<string, Promise<DetectResult>>();
  const tried: string[] = [];
  let errored = false;
  for (const group of groups) {
    // Detect every member of the group at once: each is only a docker exec.
    await Promise.all(
      group.map(({ bp }) => {
        if (!pending.has(key(bp))) pending.set(key(bp), runDetect(ctx, bp).then((r) => (results.set(key(bp), r), r)));
        return pending.get(key(bp));
      }),
    );
    const passed = (bp: Buildpack) => results.get(key(bp))!.code === 0;
    const isError = (bp: Buildpack) => bp.kind === 'cnb' && ![0, 100].includes(results.get(key(bp))!.code);
    const groupOk = group.every((m) => m.optional || passed(m.bp)) && group.some((m) => passed(m.bp));
    if (group.some((m) => !m.optional && isError(m.bp))) errored = true;
    tried.push(group.map((m) => `${key(m.bp)}${m.optional ? ' (optional)' : ''}`).join(', '));
    if (!groupOk) continue;
    const candidates: Candidate[] = group.filter((m) => passed(m.bp)).map((m) => ({ bp: m.bp, optional: m.optional, detect: results.get(key(m.bp))! }));
    const resolution = resolvePlan(candidates);
    if (!resolution) continue;
    const chosen = resolution.group.map((g) => group.find((m) => m.bp.id === g.id)!.bp);
    writeToml(path.join(ctx.ws.root, 'group.toml'), {
      group: chosen.map((bp) => ({ id: bp.id, version: bp.version, api: bp.api, homepage: bp.homepage })),
    });
    writeToml(path.join(ctx.ws.root, 'plan.toml'), { entries: resolution.plan.map((e) => ({ providers: e.providers, requires: e.requires })) });
    for (const bp of chosen) {
      const r = results.get(key(bp))!;
      const name = bp.kind === 'legacy' ? r.output.split('\n')[0] || bp.name : bp.name ?? bp.id;
      ctx.output(`-----> ${name} app detected (${key(bp)})`);
    }
    return { group: chosen, plan: resolution.plan, results };
  }
  // Nothing passed: say what every buildpack tried said.
  const lines: string[] = [];
  for (const [k, r] of results) {
    const verdict = r.code === 0 ? 'passed' : r.code === 100 || k.endsWith('@0.0.0') ? `did not pass (exit ${r.code})` : `ERROR (exit ${r.code})`;
    const said = r.output ? `: ${r.output.split('\n').slice(-3).join(' | ')}` : '';
    lines.push(`  ${k} ${verdict}${said}`);
  }
  throw new SlipwayError('BUILD_FAILED', `no buildpack group detected this app.\nBuildpacks tried:\n${lines.join('\n')}`, {
    hint: groups.length
      ? 'add the files a buildpack looks for (package.json, Procfile, ...) or choose buildpacks explicitly (slipway buildpacks:set)'
      : 'no buildpacks are configured',
    details: { phase: 'detect', exitCode: errored ? 21 : 20, groups: tried },
  });
}
