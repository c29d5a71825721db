import * as fs from 'node:fs';
import * as path from 'node:path';
import { SlipwayError } from '../../common/errors';
import { applyEnvOps, layerEnvOps, platformEnvOps, type EnvOp } from './env-files';
import { baseEnv, indent, type PhaseContext } from './context';
import { parseProcfile, runLegacy, writeConfigVarDefaults } from './legacy';
import { planFor, removeMet } from './plan';
import { bool, readTomlIfExistsIn, str, table, tableArray, writeTomlIn } from './toml-files';
import { assertInside, existsIn, readFileIn } from './safe-fs';
import { escapeId, type Buildpack, type LayerMetadata, type PlanEntry, type ProcessDef } from './types';
import { BUILD_UID, bpImageDir, chownBuildUser, STEP } from './workspace';

/**
 * Build: each buildpack of the group in order, one `docker exec` each (legacy: compile, then
 * release). Between buildpacks the host reads what was written (layer tomls, launch.toml,
 * build.toml, store.toml) and computes the next buildpack's env: the base env, then every earlier
 * build=true layer (bin/lib/include/pkgconfig and env/, env.build/), then the platform env, then
 * the `export` files of earlier legacy buildpacks (sourced by the step runner).
 */
export interface BuiltBuildpack {
  bp: Buildpack;
  layers: Record<string, LayerMetadata>;
  store?: Record<string, unknown>;
}

export interface BuildOutcome {
  buildpacks: BuiltBuildpack[];
  processes: ProcessDef[];
  defaultProcess?: string;
  labels: Record<string, string>;
}

const apiAtLeast = (api: string, min: number) => Number(api.split('.')[1] ?? 0) >= min && api.startsWith('0.');

export async function buildPhase(
  ctx: PhaseContext,
  group: Buildpack[],
  initialPlan: PlanEntry[],
): Promise<BuildOutcome> {
  const container = await ctx.container();
  let plan = initialPlan;
  const buildOps: EnvOp[] = [];
  const exports: string[] = [];
  const built: BuiltBuildpack[] = [];
  let processes: ProcessDef[] = [];
  let explicitDefault: string | undefined;
  const labels: Record<string, string> = {};
  const legacyTypes = new Set<string>();
  const onLine = indent(ctx.output);

  for (const [i, bp] of group.entries()) {
    ctx.output(`-----> Running ${bp.name ?? bp.id} (${bp.id}@${bp.version})`);
    const env = applyEnvOps(baseEnv(ctx), buildOps);
    if (bp.kind === 'legacy') {
      if (exports.length) env.SLIPWAY_EXPORTS = exports.join(':');
      const r = await runLegacy({ container, ws: ctx.ws, bp, index: i, total: group.length, env, onLine });
      if (r.exportFile) exports.push(r.exportFile);
      if (r.depsDir) {
        for (const [sub, v] of [
          ['bin', 'PATH'],
          ['lib', 'LD_LIBRARY_PATH'],
        ])
          buildOps.push({ name: v, action: 'prepend', value: `${r.depsDir}/${sub}`, delim: ':' });
      }
      writeConfigVarDefaults(ctx.ws.root, ctx.ws.app, r.configVars);
      for (const p of r.processes) legacyTypes.add(p.type);
      processes = mergeProcesses(processes, r.processes);
      built.push({ bp, layers: {} });
      continue;
    }
    const esc = escapeId(bp.id);
    const layersHost = path.join(ctx.ws.layers, esc);
    const io = path.join(ctx.ws.io, 'build', esc);
    fs.mkdirSync(layersHost, { recursive: true });
    assertInside(ctx.ws.root, layersHost);
    const myPlan = planFor(plan, bp.id);
    writeTomlIn(ctx.ws.root, path.join(io, 'plan.toml'), {
      entries: myPlan.map((r) => ({ name: r.name, metadata: r.metadata })),
    });
    // Not recursive: restored layers already belong to the build user.
    if (process.getuid?.() === 0) fs.lchownSync(layersHost, BUILD_UID, BUILD_UID);
    await chownBuildUser(io);
    if (!bp.clearEnv) applyEnvOps(env, platformEnvOps(ctx.env));
    if (exports.length) env.SLIPWAY_EXPORTS = exports.join(':');
    const dir = bpImageDir(bp);
    const planPath = `/cnb/slipway/build/${esc}/plan.toml`;
    Object.assign(env, {
      CNB_LAYERS_DIR: `/layers/${esc}`,
      CNB_BP_PLAN_PATH: planPath,
      CNB_BUILDPACK_DIR: dir,
      CNB_PLATFORM_DIR: '/platform',
    });
    const r = await container.exec({
      cmd: [STEP, `${dir}/bin/build`, `/layers/${esc}`, '/platform', planPath],
      env,
      onLine,
    });
    if (r.code !== 0) {
      throw new SlipwayError(
        'BUILD_FAILED',
        `buildpack ${bp.id}@${bp.version} failed: bin/build exited with ${r.code}`,
        {
          hint: 'see the buildpack output above; the build workspace is kept for inspection',
          details: { phase: 'build', buildpack: bp.id, exitCode: r.code },
        },
      );
    }
    const layers = readLayers(ctx.ws.root, layersHost, bp);
    for (const name of Object.keys(layers).sort()) {
      if (layers[name].build)
        buildOps.push(
          ...layerEnvOps(path.join(layersHost, name), `/layers/${esc}/${name}`, 'build', undefined, ctx.ws.root),
        );
    }
    const launch = readLaunchToml(ctx.ws.root, path.join(layersHost, 'launch.toml'), bp);
    for (const l of launch.labels) labels[l.key] = l.value;
    processes = mergeProcesses(processes, launch.processes);
    const d = launch.processes.find((p) => p.default);
    if (d) explicitDefault = d.type;
    else if (explicitDefault && launch.processes.some((p) => p.type === explicitDefault)) explicitDefault = undefined;
    const buildToml = readTomlIfExistsIn(ctx.ws.root, path.join(layersHost, 'build.toml'), `${bp.id} build.toml`);
    const unmet = new Set(
      tableArray(buildToml?.unmet, `${bp.id} build.toml`, 'unmet').map((u) =>
        str(u.name, `${bp.id} build.toml`, 'unmet.name'),
      ),
    );
    for (const u of unmet) {
      if (!myPlan.some((p) => p.name === u)) {
        throw new SlipwayError(
          'BUILD_FAILED',
          `buildpack ${bp.id}: build.toml lists unmet "${u}", which is not in its plan`,
          { details: { phase: 'build', buildpack: bp.id } },
        );
      }
    }
    plan = removeMet(plan, bp.id, unmet);
    const storeToml = readTomlIfExistsIn(ctx.ws.root, path.join(layersHost, 'store.toml'), `${bp.id} store.toml`);
    built.push({ bp, layers, store: table(storeToml?.metadata, `${bp.id} store.toml`, 'metadata') });
  }

  // The Procfile wins over release defaults per type (and lists types of its own) in groups with
  // legacy buildpacks; CNB-only groups get Procfile processes from a Procfile buildpack.
  const procfile = path.join(ctx.ws.app, 'Procfile');
  if (group.some((b) => b.kind === 'legacy') && existsIn(ctx.ws.root, procfile)) {
    {
      const types = parseProcfile(readFileIn(ctx.ws.root, procfile));
      const fromProcfile = Object.entries(types)
        .filter(([t]) => legacyTypes.has(t) || !processes.some((p) => p.type === t))
        .map(([type, cmd]) => ({
          type,
          command: [cmd],
          args: [],
          direct: false,
          default: false,
          buildpackId: 'procfile',
        }));
      processes = mergeProcesses(processes, fromProcfile);
    }
  }
  const defaultProcess =
    explicitDefault ??
    (processes.some((p) => p.type === 'web') ? 'web' : processes.length === 1 ? processes[0].type : undefined);
  for (const p of processes) p.default = p.type === defaultProcess;
  return { buildpacks: built, processes, defaultProcess, labels };
}

/** A later buildpack's process of the same type replaces the earlier one. */
function mergeProcesses(current: ProcessDef[], added: ProcessDef[]): ProcessDef[] {
  const out = current.filter((p) => !added.some((a) => a.type === p.type));
  return [...out, ...added];
}

const RESERVED = new Set(['launch', 'build', 'store']);

function readLayers(root: string, layersHost: string, bp: Buildpack): Record<string, LayerMetadata> {
  const out: Record<string, LayerMetadata> = {};
  for (const f of fs.readdirSync(layersHost).sort()) {
    if (!f.endsWith('.toml') || f.endsWith('.sbom.toml')) continue;
    const name = f.slice(0, -'.toml'.length);
    if (RESERVED.has(name)) continue;
    const file = path.join(layersHost, f);
    const doc = readTomlIfExistsIn(root, file, `buildpack ${bp.id} layer metadata`) ?? {};
    const types = table(doc.types, file, 'types') ?? {};
    const l: LayerMetadata = {
      launch: bool(types.launch, file, 'types.launch'),
      build: bool(types.build, file, 'types.build'),
      cache: bool(types.cache, file, 'types.cache'),
      data: table(doc.metadata, file, 'metadata') ?? {},
    };
    const dir = path.join(layersHost, name);
    if (!l.launch && !l.build && !l.cache) {
      // A layer with no types is scratch space: hidden from everything after this buildpack.
      if (fs.existsSync(dir)) fs.renameSync(dir, `${dir}.ignore`);
      continue;
    }
    out[name] = l;
  }
  return out;
}

function readLaunchToml(
  root: string,
  file: string,
  bp: Buildpack,
): { processes: ProcessDef[]; labels: Array<{ key: string; value: string }> } {
  const doc = readTomlIfExistsIn(root, file, `buildpack ${bp.id} launch.toml`);
  if (!doc) return { processes: [], labels: [] };
  const where = `${file} (buildpack ${bp.id})`;
  // Buildpack API 0.12 exec-env: processes for other environments than production are left out.
  const forProduction = (p: Record<string, unknown>) => {
    const envs = p['exec-env'];
    return !Array.isArray(envs) || envs.length === 0 || envs.includes('production') || envs.includes('*');
  };
  const processes = tableArray(doc.processes, where, 'processes')
    .filter(forProduction)
    .map((p): ProcessDef => {
      const type = str(p.type, where, 'processes.type');
      if (!/^[A-Za-z0-9._-]+$/.test(type)) {
        throw new SlipwayError(
          'BUILD_FAILED',
          `${where}: process type ${JSON.stringify(type)} may only use letters, digits, ".", "_" and "-"`,
          { details: { phase: 'build', buildpack: bp.id, file } },
        );
      }
      let command: string[];
      let direct: boolean;
      if (apiAtLeast(bp.api, 9)) {
        if (!Array.isArray(p.command) || p.command.length === 0 || p.command.some((c) => typeof c !== 'string')) {
          throw new SlipwayError(
            'BUILD_FAILED',
            `${where}: processes.command must be a non-empty array of strings (Buildpack API ${bp.api})`,
            {
              hint: 'write command = ["node", "server.js"], or ["bash", "-c", "..."] for a shell',
              details: { phase: 'build', buildpack: bp.id, file },
            },
          );
        }
        command = p.command as string[];
        direct = true;
      } else {
        command = [str(p.command, where, 'processes.command')];
        direct = bool(p.direct, where, 'processes.direct');
      }
      const args = p.args === undefined ? [] : p.args;
      if (!Array.isArray(args) || args.some((a) => typeof a !== 'string')) {
        throw new SlipwayError('BUILD_FAILED', `${where}: processes.args must be an array of strings`, {
          details: { phase: 'build', buildpack: bp.id, file },
        });
      }
      const wd = p['working-dir'] === undefined ? undefined : str(p['working-dir'], where, 'processes.working-dir');
      return {
        type,
        command,
        args: args as string[],
        direct,
        default: bool(p.default, where, 'processes.default'),
        workingDir: wd,
        buildpackId: bp.id,
      };
    });
  if (processes.filter((p) => p.default).length > 1) {
    throw new SlipwayError('BUILD_FAILED', `${where}: more than one process has default = true`, {
      details: { phase: 'build', buildpack: bp.id, file },
    });
  }
  const labels = tableArray(doc.labels, where, 'labels').map((l) => ({
    key: str(l.key, where, 'labels.key'),
    value: str(l.value, where, 'labels.value'),
  }));
  return { processes, labels };
}
