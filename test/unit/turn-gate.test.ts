import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TurnGate } from '../../src/turn-gate.js';

test('bulk work waits from `lead` before a deadline until `grace` after it, and only then', () => {
  let now = 0;
  const gate = new TurnGate(() => now, 10, 2);
  const backup = {};
  gate.post(backup, 100);
  for (const [t, wait] of [
    [0, 0],
    [89.9, 0],
    [90, 12],
    [95, 7],
    [101, 1],
    [102, 0],
    [500, 0],
  ] as const) {
    now = t;
    assert.equal(gate.waitMs(), wait, `at ${t}`);
  }
});

test('a deadline moved on (an advert came) or withdrawn (no longer a backup) holds nothing', () => {
  let now = 95;
  const gate = new TurnGate(() => now, 10, 2);
  const backup = {};
  gate.post(backup, 100);
  assert.ok(gate.waitMs() > 0);
  gate.post(backup, 172);
  assert.equal(gate.waitMs(), 0);
  now = 165;
  assert.equal(gate.waitMs(), 9);
  gate.post(backup, undefined);
  assert.equal(gate.waitMs(), 0);
});

test('several instances: the gate holds for whichever deadline is near', () => {
  let now = 0;
  const gate = new TurnGate(() => now, 10, 2);
  const a = {},
    b = {};
  gate.post(a, 100);
  gate.post(b, 50);
  now = 45;
  assert.equal(gate.waitMs(), 7);
  now = 60;
  assert.equal(gate.waitMs(), 0);
  now = 95;
  assert.equal(gate.waitMs(), 7);
});
