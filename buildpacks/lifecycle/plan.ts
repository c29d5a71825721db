import { SlipwayError } from '../../common/errors';
import type { Buildpack, DetectResult, PlanEntry, PlanOption, Require } from './types';

/**
 * Build-plan resolution (CNB spec, Phase 1; reference lifecycle phase/detector.go). Each passing
 * buildpack offers its top-level plan, then each [[or]] alternative. Trials take one option per
 * buildpack, depth-first, left to right; the first trial that resolves wins. Within a trial a
 * `provide` waits for a later (or same-buildpack) `require`; a require with no provider seen yet,
 * or a provide nobody requires, fails the trial unless that buildpack is optional (on its last
 * option only), in which case it is dropped and the trial recomputed.
 */
export interface TrialMember {
  bp: Pick<Buildpack, 'id' | 'version'>;
  optional: boolean;
  option: PlanOption;
}

export interface Resolution {
  group: Array<Pick<Buildpack, 'id' | 'version'>>;
  plan: PlanEntry[];
}

export interface Candidate {
  bp: Pick<Buildpack, 'id' | 'version'>;
  optional: boolean;
  detect: DetectResult;
}

/** Only buildpacks whose detect passed (exit 0) take part; callers filter before. */
export function resolvePlan(passing: Candidate[]): Resolution | undefined {
  for (const trial of trials(passing)) {
    const r = runTrial(trial);
    if (r) return r;
  }
  return undefined;
}

function* trials(cands: Candidate[], i = 0, acc: TrialMember[] = []): Generator<TrialMember[]> {
  if (i === cands.length) {
    yield acc;
    return;
  }
  const c = cands[i];
  const options = c.detect.plan.length > 0 ? c.detect.plan : [{ provides: [], requires: [] }];
  for (const [j, option] of options.entries()) {
    // A buildpack counts as optional only on its last alternative, like the reference lifecycle.
    const optional = c.optional && j === options.length - 1;
    yield* trials(cands, i + 1, [...acc, { bp: c.bp, optional, option }]);
  }
}

interface Dep {
  providers: TrialMember[];
  pending: TrialMember[];
  requires: Require[];
  early: TrialMember[];
}

function runTrial(start: TrialMember[]): Resolution | undefined {
  let trial = start;
  for (;;) {
    const deps = new Map<string, Dep>();
    const dep = (name: string) => {
      let d = deps.get(name);
      if (!d) deps.set(name, (d = { providers: [], pending: [], requires: [], early: [] }));
      return d;
    };
    for (const m of trial) {
      for (const p of m.option.provides) dep(p.name).pending.push(m);
      for (const r of m.option.requires) {
        const d = dep(r.name);
        d.providers.push(...d.pending);
        d.pending = [];
        if (d.providers.length === 0) d.early.push(m);
        else d.requires.push(r);
      }
    }
    const unmet = [...deps.values()].flatMap((d) => [...d.early, ...d.pending]);
    if (unmet.length === 0) {
      if (trial.length === 0) return undefined;
      const plan: PlanEntry[] = [];
      for (const d of deps.values()) {
        if (d.requires.length === 0) continue;
        const providers = uniq(d.providers).map((m) => ({ id: m.bp.id, version: m.bp.version }));
        plan.push({ providers, requires: d.requires });
      }
      return { group: trial.map((m) => m.bp), plan };
    }
    const mandatory = unmet.find((m) => !m.optional);
    if (mandatory) return undefined;
    const drop = new Set(unmet);
    trial = trial.filter((m) => !drop.has(m));
  }
}

function uniq<T>(xs: T[]): T[] {
  return [...new Set(xs)];
}

/** Plan entries whose providers include this buildpack: the requires it must try to meet. */
export function planFor(plan: PlanEntry[], id: string): Require[] {
  return plan.filter((e) => e.providers.some((p) => p.id === id)).flatMap((e) => e.requires);
}

/**
 * After a buildpack's build: names it did not list as [[unmet]] are met and leave the plan; unmet
 * names stay for the next provider. Returns the plan the later buildpacks see.
 */
export function removeMet(plan: PlanEntry[], id: string, unmet: Set<string>): PlanEntry[] {
  return plan
    .map((e) => {
      if (!e.providers.some((p) => p.id === id)) return e;
      if (e.requires.some((r) => unmet.has(r.name))) return { ...e, providers: e.providers.filter((p) => p.id !== id) };
      return undefined;
    })
    .filter((e): e is PlanEntry => !!e && e.providers.length > 0);
}

/** Parses what bin/detect wrote to the plan file into options (top level first, then [[or]]). */
export function planOptions(doc: Record<string, unknown>, file: string): PlanOption[] {
  const one = (t: Record<string, unknown>): PlanOption => ({
    provides: list(t.provides, file, 'provides').map((p) => ({ name: name(p, file, 'provides') })),
    requires: list(t.requires, file, 'requires').map((r) => {
      if (r.version !== undefined) {
        throw planError(
          file,
          'requires.version is not allowed; put the version in [requires.metadata] version = "..."',
        );
      }
      const meta = r.metadata;
      if (meta !== undefined && (typeof meta !== 'object' || Array.isArray(meta)))
        throw planError(file, 'requires.metadata must be a table');
      return { name: name(r, file, 'requires'), ...(meta ? { metadata: meta as Record<string, unknown> } : {}) };
    }),
  });
  const top = one(doc);
  const ors = list(doc.or, file, 'or').map(one);
  const empty = top.provides.length === 0 && top.requires.length === 0;
  return empty && ors.length === 0 ? [] : [top, ...ors];
}

function list(v: unknown, file: string, field: string): Record<string, unknown>[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw planError(file, `"${field}" must be an array of tables ([[${field}]])`);
  return v as Record<string, unknown>[];
}

function name(t: Record<string, unknown>, file: string, field: string): string {
  if (typeof t.name !== 'string' || !t.name) throw planError(file, `every [[${field}]] needs name = "..."`);
  return t.name;
}

function planError(file: string, msg: string): SlipwayError {
  return new SlipwayError('BUILD_FAILED', `build plan ${file}: ${msg}`, {
    hint: 'see the CNB buildpack spec, "Build Plan (TOML)"',
    details: { phase: 'detect', file },
  });
}
