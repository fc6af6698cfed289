import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initialQuorum, reduceQuorum, type QuorumState } from '../../../src/health/service.js';

function walk(spec: { quorum: number; hysteresis: number }, start: number, weights: number[]): { up: boolean[]; events: string[] } {
  let state: QuorumState = initialQuorum(spec, start);
  const up: boolean[] = [];
  const events: string[] = [];
  for (const w of weights) {
    const out = reduceQuorum(spec, state, w);
    state = out.state;
    up.push(state.up);
    if (out.transition) events.push(`${out.transition.kind}@${w}`);
  }
  return { up, events };
}

test('initial quorum: live weight meets the quorum', () => {
  assert.equal(initialQuorum({ quorum: 2, hysteresis: 0 }, 2).up, true);
  assert.equal(initialQuorum({ quorum: 2, hysteresis: 0 }, 1).up, false);
  assert.equal(initialQuorum({ quorum: 0, hysteresis: 0 }, 0).up, false, 'no live weight is never quorum');
});

test('without hysteresis quorum follows the threshold', () => {
  const { events } = walk({ quorum: 3, hysteresis: 0 }, 4, [3, 2, 2, 3, 5, 0]);
  assert.deepEqual(events, ['lost@2', 'regained@3', 'lost@0']);
});

test('hysteresis: lost below quorum − h, regained only at quorum + h, no flapping in between', () => {
  const spec = { quorum: 4, hysteresis: 1 };
  const { events, up } = walk(spec, 6, [4, 3, 2, 3, 4, 3, 4, 5, 4, 3, 2]);
  // 3 is quorum − h: still up; 2 loses it; 3 and 4 do not regain; 5 does; 4 and 3 keep it; 2 loses.
  assert.deepEqual(events, ['lost@2', 'regained@5', 'lost@2']);
  assert.deepEqual(up, [true, true, false, false, false, false, false, true, true, true, false]);
});

test('the reason names the numbers', () => {
  const out = reduceQuorum({ quorum: 4, hysteresis: 1 }, { up: true, liveWeight: 4 }, 2);
  assert.equal(out.transition?.reason, 'live weight 2 < quorum 4 − hysteresis 1');
  const none = reduceQuorum({ quorum: 0, hysteresis: 0 }, { up: true, liveWeight: 1 }, 0);
  assert.equal(none.transition?.reason, 'no live real server weight');
});
