import { test } from 'node:test';
import assert from 'node:assert/strict';
import { arrivalTime } from '../../../src/vrrp/arrival.js';

test('an advert arrived its age before it was read', () => {
  assert.equal(arrivalTime(1000, 7.5, 20, 0), 992.5);
  assert.equal(arrivalTime(1000, 0, 20, 0), 1000);
});

test('no stamp, a negative age (the wall clock stepped back) or a non-number: read time', () => {
  assert.equal(arrivalTime(1000, undefined, 20, 0), 1000);
  assert.equal(arrivalTime(1000, -50, 20, 0), 1000);
  assert.equal(arrivalTime(1000, Number.NaN, 20, 0), 1000);
});

test('the age counts up to one advert interval: a wall-clock step forward moves a deadline by no more', () => {
  assert.equal(arrivalTime(1000, 5000, 20, 0), 980);
  assert.equal(arrivalTime(1000, 20, 20, 0), 980);
});

test('never before the event handled last, nor after now', () => {
  assert.equal(arrivalTime(1000, 15, 20, 990), 990);
  assert.equal(arrivalTime(1000, 15, 20, 980), 985);
  assert.equal(arrivalTime(1000, 5, 20, 1003), 1000, 'a timer dated at its deadline, just ahead of the clock');
});
