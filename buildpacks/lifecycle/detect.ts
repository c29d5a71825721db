import * as fs from 'node:fs';
import * as path from 'node:path';
import { SlipwayError } from '../../common/errors';
import { applyEnvOps, platformEnvOps, shQuote } from './env-files';
import { baseEnv, type PhaseContext } from './context';
import { planOptions, resolvePlan, type Candidate } from './plan';
import { parseToml, writeToml } from './toml-files';
import { existsIn, readFileIn, writeFileIn } from './safe-fs';
import type { Buildpack, DetectResult, GroupMember, PlanEntry } from './types';
import { bpImageDir, chownBuildUser, STEP } from './workspace';
import { matchesTarget, targetFor } from './buildpacks';

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

/**
 * Every distinct buildpack of every group is detected in ONE `docker exec`: a generated driver
 * runs all bin/detect scripts in parallel inside the container and leaves each one's exit code
 * and output in io/detect/<n>/. Detect scripts are tiny, so running a later group's members
 * eagerly costs less than a second exec round trip (~0.1 s) would.
 */
async function runAllDetects(ctx: PhaseContext, bps: Buildpack[]): Promise<Map<string, DetectResult>> {
  const lines = ['#!/bin/bash', 'cd /app'];
  const platformVars = Object.keys(ctx.env).map(shQuote);
  bps.forEach((bp, i) => {
    const dir = bpImageDir(bp);
    const io = `/cnb/slipway/detect/${i}`;
    fs.mkdirSync(path.join(ctx.ws.io, 'detect', String(i)), { recursive: true });
    // Legacy detect and clear-env buildpacks do not see config vars in their env.
    const unset = bp.kind === 'legacy' || bp.clearEnv ? platformVars.map((v) => `-u ${v}`).join(' ') : '';
    const cmd =
      bp.kind === 'legacy'
        ? `${shQuote(`${dir}/bin/detect`)} /app`
        : `${shQuote(`${dir}/bin/detect`)} /platform ${io}/plan.toml`;
    const vars = bp.kind === 'legacy' ? '' : `CNB_BUILDPACK_DIR=${shQuote(dir)} CNB_BUILD_PLAN_PATH=${io}/plan.toml`;
    lines.push(
      `( : > ${io}/plan.toml; env ${unset} ${vars} ${STEP} ${cmd} > ${io}/out 2>&1 < /dev/null; echo $? > ${io}/code ) &`,
    );
  });
  lines.push('wait');
  writeFileIn(ctx.ws.root, path.join(ctx.ws.io, 'detect', 'run.sh'), lines.join('\n') + '\n', { mode: 0o755 });
  await chownBuildUser(path.join(ctx.ws.io, 'detect'));
  const env = baseEnv(ctx);
  applyEnvOps(env, platformEnvOps(ctx.env));
  const c = await ctx.container();
  const r = await c.exec({ cmd: ['bash', '/cnb/slipway/detect/run.sh'], env });
  if (r.code !== 0)
    throw new SlipwayError('BUILD_FAILED', `the detect driver failed (exit ${r.code}): ${r.stderr.trim()}`, {
      details: { phase: 'detect' },
    });
  const results = new Map<string, DetectResult>();
  bps.forEach((bp, i) => {
    const io = path.join(ctx.ws.io, 'detect', String(i));
    const read = (f: string) =>
      existsIn(ctx.ws.root, path.join(io, f)) ? readFileIn(ctx.ws.root, path.join(io, f)) : '';
    const code = Number(read('code').trim() || -1);
    let plan: DetectResult['plan'] = [];
    if (code === 0 && bp.kind === 'cnb') {
      const text = read('plan.toml');
      const file = `${bp.id}'s build plan (${path.join(io, 'plan.toml')})`;
      plan = text.trim() ? planOptions(parseToml(text, file, 'build plan'), file) : [];
    }
    results.set(key(bp), { code, output: read('out').trim(), plan });
  });
  return results;
}

export async function detect(ctx: PhaseContext, groups: GroupMember[][]): Promise<DetectOutcome> {
  const distinct = [...new Map(groups.flat().map((m) => [key(m.bp), m.bp])).values()];
  // Buildpacks whose [[targets]] exclude this platform are not run: a required one is an error.
  const target = targetFor(ctx.stack);
  const runnable = distinct.filter((b) => matchesTarget(b, target));
  const results = runnable.length ? await runAllDetects(ctx, runnable) : new Map<string, DetectResult>();
  for (const bp of distinct.filter((b) => !matchesTarget(b, target))) {
    const t = (bp.targets ?? [])
      .map((x) =>
        [x.os, x.arch, ...x.distros.map((d) => `${d.name ?? ''} ${d.version ?? ''}`.trim())].filter(Boolean).join('/'),
      )
      .join(', ');
    results.set(key(bp), {
      code: -2,
      output: `no [[targets]] entry matches linux/amd64 debian ${target.distro.version}, the ${ctx.stack} stack (it declares: ${t})`,
      plan: [],
    });
  }
  const tried: string[] = [];
  let errored = false;
  for (const group of groups) {
    const passed = (bp: Buildpack) => results.get(key(bp))!.code === 0;
    const isError = (bp: Buildpack) => bp.kind === 'cnb' && ![0, 100].includes(results.get(key(bp))!.code);
    const groupOk = group.every((m) => m.optional || passed(m.bp)) && group.some((m) => passed(m.bp));
    if (group.some((m) => !m.optional && isError(m.bp))) errored = true;
    tried.push(group.map((m) => `${key(m.bp)}${m.optional ? ' (optional)' : ''}`).join(', '));
    if (!groupOk) continue;
    const candidates: Candidate[] = group
      .filter((m) => passed(m.bp))
      .map((m) => ({ bp: m.bp, optional: m.optional, detect: results.get(key(m.bp))! }));
    const resolution = resolvePlan(candidates);
    if (!resolution) continue;
    const chosen = resolution.group.map((g) => group.find((m) => m.bp.id === g.id)!.bp);
    writeToml(path.join(ctx.ws.root, 'group.toml'), {
      group: chosen.map((bp) => ({ id: bp.id, version: bp.version, api: bp.api, homepage: bp.homepage })),
    });
    writeToml(path.join(ctx.ws.root, 'plan.toml'), {
      entries: resolution.plan.map((e) => ({ providers: e.providers, requires: e.requires })),
    });
    for (const bp of chosen) {
      const r = results.get(key(bp))!;
      const name = bp.kind === 'legacy' ? r.output.split('\n')[0] || bp.name : (bp.name ?? bp.id);
      ctx.output(`-----> ${name} app detected (${key(bp)})`);
    }
    return { group: chosen, plan: resolution.plan, results };
  }
  // Nothing passed: say what every buildpack tried said.
  const lines: string[] = [];
  const kinds = new Map(distinct.map((bp) => [key(bp), bp.kind]));
  for (const [k, r] of results) {
    const verdict =
      r.code === 0
        ? 'passed'
        : r.code === 100 || kinds.get(k) === 'legacy'
          ? `did not pass (exit ${r.code})`
          : `ERROR (exit ${r.code})`;
    const said = r.output ? `: ${r.output.split('\n').slice(-3).join(' | ')}` : '';
    lines.push(`  ${k} ${verdict}${said}`);
  }
  throw new SlipwayError(
    'BUILD_FAILED',
    `no buildpack group detected this app.\nBuildpacks tried:\n${lines.join('\n')}`,
    {
      hint: groups.length
        ? 'add the files a buildpack looks for (package.json, Procfile, ...) or choose buildpacks explicitly (slipway buildpacks:set)'
        : 'no buildpacks are configured',
      details: { phase: 'detect', exitCode: errored ? 21 : 20, groups: tried },
    },
  );
}
