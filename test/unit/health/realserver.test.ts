import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { CheckResult } from '../../../src/health/check.js';
import {
  initialRealServerHealth,
  reduceRealServer,
  seededRealServerHealth,
  type RealServerHealth,
  type RealServerSpec,
  type RealServerTransition,
} from '../../../src/health/realserver.js';

const ok = (reason = 'connected'): CheckResult => ({ ok: true, reason, latencyMs: 1 });
const bad = (reason = 'connect ECONNREFUSED'): CheckResult => ({ ok: false, reason, latencyMs: 1 });

// Checks are named here for readability; the reducer knows them by position.
function spec(rise: number, fall: number, initial: 'up' | 'down' = 'down', checks = ['c1']): RealServerSpec {
  return { weight: 5, checks: checks.map(() => ({ label: 'tcp', thresholds: { rise, fall, initial } })) };
}

function feed(
  s: RealServerSpec,
  results: Array<[string, CheckResult]>,
  start?: RealServerHealth,
  names = ['c1'],
): { state: RealServerHealth; transitions: Array<RealServerTransition & { at: number }> } {
  let state = start ?? initialRealServerHealth(s, 0);
  const transitions: Array<RealServerTransition & { at: number }> = [];
  results.forEach(([name, result], i) => {
    const out = reduceRealServer(s, state, { check: names.indexOf(name), result }, (i + 1) * 1000);
    state = out.state;
    for (const t of out.transitions) transitions.push({ ...t, at: (i + 1) * 1000 });
  });
  return { state, transitions };
}

test('alpha start: down until rise successes in a row, one up event with the reason', () => {
  const s = spec(3, 2, 'down');
  const { state, transitions } = feed(s, [
    ['c1', ok()],
    ['c1', ok()],
    ['c1', bad()],
    ['c1', ok()],
    ['c1', ok()],
    ['c1', ok()],
    ['c1', ok()],
  ]);
  assert.equal(state.up, true);
  assert.deepEqual(transitions, [{ kind: 'up', reason: 'tcp: connected (3 successes in a row)', at: 6000 }]);
  assert.equal(state.since, 6000);
});

test('start up: trusted until fall failures in a row', () => {
  const s = spec(2, 3, 'up');
  assert.equal(initialRealServerHealth(s, 0).up, true);
  const { state, transitions } = feed(s, [
    ['c1', bad()],
    ['c1', bad()],
    ['c1', ok()],
    ['c1', bad()],
    ['c1', bad()],
    ['c1', bad('timeout after 1000ms')],
  ]);
  assert.equal(state.up, false);
  assert.deepEqual(transitions, [{ kind: 'down', reason: 'tcp: timeout after 1000ms (3 failures in a row)', at: 6000 }]);
});

test('no check: always up', () => {
  const s: RealServerSpec = { weight: 1, checks: [] };
  const h = initialRealServerHealth(s, 0);
  assert.equal(h.up, true);
  assert.equal(h.reason, 'no health check');
});

test('several checks: up only when all are up; down when any goes down', () => {
  const s = spec(1, 1, 'down', ['a', 'b']);
  const { transitions } = feed(
    s,
    [
      ['a', ok()],
      ['b', ok()],
      ['a', bad('status 500 not in 200-299')],
      ['a', ok()],
    ],
    undefined,
    ['a', 'b'],
  );
  assert.deepEqual(
    transitions.map((t) => [t.kind, t.at]),
    [
      ['up', 2000],
      ['down', 3000],
      ['up', 4000],
    ],
  );
  assert.match(transitions[1]!.reason, /status 500/);
});

test('dynamic weight from a check replaces the configured weight, with a weight event while up', () => {
  const s = spec(1, 1, 'down');
  const w = (weight: number): CheckResult => ({ ok: true, reason: `exit ${weight + 2}: weight ${weight}`, latencyMs: 1, weight });
  const { state, transitions } = feed(s, [
    ['c1', ok()],
    ['c1', w(3)],
    ['c1', w(3)],
    ['c1', ok('exit 0')],
    ['c1', w(7)],
  ]);
  assert.deepEqual(
    transitions.map((t) => (t.kind === 'weight' ? [t.kind, t.from, t.to] : [t.kind])),
    [['up'], ['weight', 5, 3], ['weight', 3, 7]],
  );
  assert.equal(state.dynamicWeight, 7);
});

test('a result for an unknown check changes nothing', () => {
  const s = spec(1, 1);
  const h = initialRealServerHealth(s, 0);
  const out = reduceRealServer(s, h, { check: 1, result: ok() }, 1);
  assert.equal(out.state, h);
  assert.deepEqual(out.transitions, []);
});

test('reload keeps the counters of checks that stay and starts new ones fresh', () => {
  const s1 = spec(2, 2, 'down', ['a']);
  const { state } = feed(
    s1,
    [
      ['a', ok()],
      ['a', ok()],
    ],
    undefined,
    ['a'],
  );
  assert.equal(state.up, true);
  const same = initialRealServerHealth(s1, 10_000, state);
  assert.equal(same.up, true);
  assert.equal(same.since, state.since);
  const s2 = spec(2, 2, 'down', ['a', 'b']);
  const grown = initialRealServerHealth(s2, 10_000, { ...state, checks: [state.checks[0], undefined] });
  assert.equal(grown.up, false, 'a new check that starts down holds the server down');
  assert.equal(grown.checks[0]!.successes, 2);
  assert.deepEqual(grown.checks[1], { up: false, successes: 0, failures: 0 });
  assert.match(grown.reason, /config reload/);
});

test('property: transitions alternate, and only after rise/fall consecutive results', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 5 }),
      fc.integer({ min: 1, max: 5 }),
      fc.boolean(),
      fc.array(fc.boolean(), { maxLength: 60 }),
      (rise, fall, startUp, outcomes) => {
        const s = spec(rise, fall, startUp ? 'up' : 'down');
        let state = initialRealServerHealth(s, 0);
        let up = state.up;
        let streak = 0;
        let last: boolean | undefined;
        outcomes.forEach((o, i) => {
          streak = o === last ? streak + 1 : 1;
          last = o;
          const out = reduceRealServer(s, state, { check: 0, result: o ? ok() : bad() }, i);
          state = out.state;
          const changes = out.transitions.filter((t) => t.kind !== 'weight');
          if (changes.length) {
            assert.equal(changes.length, 1);
            assert.equal(changes[0]!.kind, up ? 'down' : 'up');
            assert.ok(streak >= (up ? fall : rise));
            up = !up;
          }
          // A state that should have changed by now has.
          if (!up && o && streak >= rise) assert.fail('should be up');
          if (up && !o && streak >= fall) assert.fail('should be down');
          assert.equal(state.up, up);
        });
      },
    ),
  );
});

test('a seeded server resumes its verdict, counters, dynamic weight and reason; a check the seed lacks starts fresh', () => {
  const s = spec(3, 2, 'down', ['c1', 'c2']);
  const seed = {
    up: true,
    weight: 7,
    reason: 'c1: connected (3 successes in a row)',
    since: 100,
    checks: [
      { up: true, successes: 9, failures: 0 },
      { up: true, successes: 4, failures: 1 },
    ],
  };
  const resumed = seededRealServerHealth(s, seed, 5000);
  assert.equal(resumed.up, true);
  assert.equal(resumed.dynamicWeight, 7);
  assert.equal(resumed.reason, seed.reason);
  assert.equal(resumed.since, 100);
  assert.deepEqual(resumed.checks[1], { up: true, successes: 4, failures: 1 });
  // One more failure of c2 reaches fall 2: the counters really carried over.
  const next = reduceRealServer(s, resumed, { check: 1, result: bad() }, 5100);
  assert.deepEqual(
    next.transitions.map((t) => t.kind),
    ['down'],
  );

  const partial = seededRealServerHealth(s, { ...seed, weight: 5, checks: [seed.checks[0]!] }, 5000);
  assert.equal(partial.up, false, 'the unseeded check starts from its initial state (down)');
  assert.equal(partial.since, 5000);
  assert.equal(partial.dynamicWeight, undefined, 'the configured weight is no dynamic weight');
});
