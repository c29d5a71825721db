import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planOptions, removeMet, resolvePlan, type Candidate } from '../../buildpacks/lifecycle/plan';
import type { PlanOption } from '../../buildpacks/lifecycle/types';

const opt = (provides: string[], requires: string[]): PlanOption => ({
  provides: provides.map((name) => ({ name })),
  requires: requires.map((name) => ({ name })),
});
const cand = (id: string, plan: PlanOption[], optional = false): Candidate => ({
  bp: { id, version: '1' },
  optional,
  detect: { code: 0, output: '', plan },
});
const ids = (r: ReturnType<typeof resolvePlan>) => r?.group.map((b) => b.id);

test('a provide met by a later require resolves into one plan entry', () => {
  const r = resolvePlan([cand('node', [opt(['node'], [])]), cand('app', [opt([], ['node'])])]);
  assert.deepEqual(ids(r), ['node', 'app']);
  assert.deepEqual(r!.plan, [{ providers: [{ id: 'node', version: '1' }], requires: [{ name: 'node' }] }]);
});

test('a require before any provider fails the trial', () => {
  assert.equal(resolvePlan([cand('app', [opt([], ['node'])]), cand('node', [opt(['node'], [])])]), undefined);
});

test('a buildpack may require what it provides itself', () => {
  assert.deepEqual(ids(resolvePlan([cand('a', [opt(['x'], ['x'])])])), ['a']);
});

test('an unrequired provide fails a non-optional buildpack', () => {
  assert.equal(resolvePlan([cand('a', [opt(['x'], [])]), cand('b', [opt([], [])])]), undefined);
});

test('[[or]] alternatives are tried in order; the first resolving trial wins', () => {
  // a: top level requires "y" (nobody provides it), [[or]] provides+requires "x".
  const r = resolvePlan([cand('a', [opt([], ['y']), opt(['x'], ['x'])])]);
  assert.deepEqual(
    r!.plan.map((e) => e.requires[0].name),
    ['x'],
  );
  // The first alternative wins when both would work.
  const r2 = resolvePlan([cand('a', [opt(['p'], ['p']), opt(['q'], ['q'])])]);
  assert.deepEqual(
    r2!.plan.map((e) => e.requires[0].name),
    ['p'],
  );
});

test('an optional buildpack with unmet needs is dropped, the rest of the group stays', () => {
  const r = resolvePlan([cand('opt', [opt([], ['missing'])], true), cand('main', [opt(['m'], ['m'])])]);
  assert.deepEqual(ids(r), ['main']);
});

test('optional counts only on the last alternative: an earlier alternative that resolves keeps the buildpack', () => {
  const r = resolvePlan([cand('opt', [opt(['z'], ['z']), opt([], ['missing'])], true), cand('main', [opt([], [])])]);
  assert.deepEqual(ids(r), ['opt', 'main']);
});

test('a trial that ends with no buildpacks fails', () => {
  assert.equal(resolvePlan([cand('opt', [opt([], ['missing'])], true)]), undefined);
});

test('several providers and requirers of the same name share one entry', () => {
  const r = resolvePlan([cand('a', [opt(['n'], [])]), cand('b', [opt(['n'], ['n'])]), cand('c', [opt([], ['n'])])]);
  assert.deepEqual(r!.plan, [
    {
      providers: [
        { id: 'a', version: '1' },
        { id: 'b', version: '1' },
      ],
      requires: [{ name: 'n' }, { name: 'n' }],
    },
  ]);
});

test('removeMet drops met entries and passes unmet ones to the next provider', () => {
  const plan = [
    {
      providers: [
        { id: 'a', version: '1' },
        { id: 'b', version: '1' },
      ],
      requires: [{ name: 'n' }],
    },
    { providers: [{ id: 'a', version: '1' }], requires: [{ name: 'm' }] },
  ];
  assert.deepEqual(removeMet(plan, 'a', new Set()), []);
  assert.deepEqual(removeMet(plan, 'a', new Set(['n'])), [
    { providers: [{ id: 'b', version: '1' }], requires: [{ name: 'n' }] },
  ]);
});

test('planOptions parses top level and [[or]], and rejects requires.version', () => {
  const doc = {
    provides: [{ name: 'a' }],
    requires: [{ name: 'a', metadata: { version: '1' } }],
    or: [{ provides: [{ name: 'b' }], requires: [{ name: 'b' }] }],
  };
  const o = planOptions(doc, 'plan.toml');
  assert.equal(o.length, 2);
  assert.deepEqual(o[0].requires, [{ name: 'a', metadata: { version: '1' } }]);
  assert.throws(
    () => planOptions({ requires: [{ name: 'a', version: '1' }] }, 'plan.toml'),
    /requires\.version is not allowed/,
  );
  assert.throws(() => planOptions({ provides: [{}] }, 'plan.toml'), /needs name/);
});
