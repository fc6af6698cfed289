import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SlicedQueue } from '../../src/sliced-queue.js';
import { turns, waitFor } from '../helpers/wait.js';

/** A clock each task moves on by `costMs`, so a slice's length is known exactly. */
function rig(sliceMs: number, costMs: number, gate?: { waitMs(): number }) {
  let now = 0;
  const log: string[] = [];
  const errors: unknown[] = [];
  const queue = new SlicedQueue(sliceMs, (err) => errors.push(err), { now: () => now, ...(gate ? { gate } : {}) });
  const task = (name: string, also?: () => void) => () => {
    now += costMs;
    log.push(name);
    also?.();
  };
  return { queue, log, errors, task };
}

test('tasks run in order, none in the turn that queued them', async () => {
  const { queue, log, task } = rig(5, 1);
  for (const name of ['a', 'b', 'c']) queue.push(task(name));
  assert.deepEqual(log, [], 'queued, not run');
  assert.equal(queue.size, 3);
  await turns(2);
  assert.deepEqual(log, ['a', 'b', 'c']);
  assert.equal(queue.size, 0);
});

test('a slice ends once it has used its time, and what the loop had waiting runs before the next slice', async () => {
  // 2 ms a task, 5 ms a slice: three tasks a turn.
  const { queue, log, task } = rig(5, 2);
  queue.push(task('t1', () => setImmediate(() => log.push('other work'))));
  for (let i = 2; i <= 7; i++) queue.push(task(`t${i}`));
  await turns(6);
  assert.deepEqual(log, ['t1', 't2', 't3', 'other work', 't4', 't5', 't6', 't7']);
});

test('a task that takes longer than a slice runs alone in its turn, and the queue goes on after it', async () => {
  const { queue, log, task } = rig(5, 8);
  queue.push(task('long1', () => setImmediate(() => log.push('between'))));
  queue.push(task('long2'));
  await turns(4);
  assert.deepEqual(log, ['long1', 'between', 'long2']);
});

test('a task that queues more: the slice running it schedules the next one, so no two slices share a turn', async () => {
  // 5 ms a task, 5 ms a slice: one task a slice, and what the loop had waiting between any two.
  const { queue, log, task } = rig(5, 5);
  queue.push(
    task('a', () => {
      queue.push(task('b', () => setImmediate(() => log.push('between'))));
      queue.push(task('c'));
    }),
  );
  await turns(4);
  // Were a second slice scheduled by the pushes, c would run in the turn b ran in, before 'between'.
  assert.deepEqual(log, ['a', 'b', 'between', 'c']);
});

test('drain runs every queued task at once, in order, and leaves no slice pending; tasks queued later still run', async () => {
  const { queue, log, task } = rig(1, 1);
  const immediates = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Immediate').length;
  const before = immediates();
  for (const name of ['a', 'b', 'c', 'd']) queue.push(task(name));
  assert.equal(immediates(), before + 1, 'a slice is scheduled');
  queue.drain();
  assert.deepEqual(log, ['a', 'b', 'c', 'd']);
  assert.equal(immediates(), before, 'a stopped monitor leaves nothing behind');
  queue.push(task('e'));
  await turns(3);
  assert.deepEqual(log, ['a', 'b', 'c', 'd', 'e'], 'each task once');
});

test('a task that throws is reported and the tasks after it still run', async () => {
  const { queue, log, errors, task } = rig(5, 1);
  queue.push(task('a'));
  queue.push(() => {
    throw new Error('boom');
  });
  queue.push(task('b'));
  await turns(2);
  assert.deepEqual(log, ['a', 'b']);
  assert.equal((errors[0] as Error).message, 'boom');
});

test('a queue that is fed as fast as it runs keeps its order over thousands of tasks', async () => {
  const { queue, log, task } = rig(5, 1);
  let pushed = 0;
  const feed = (): void => {
    for (let i = 0; i < 10 && pushed < 10_000; i++) queue.push(task(String(pushed++), feed));
  };
  feed();
  for (let i = 0; i < 20_000 && log.length < 10_000; i++) await turns(1);
  assert.equal(log.length, 10_000);
  assert.ok(
    log.every((name, i) => name === String(i)),
    'in the order queued',
  );
});

test('no slice starts while the gate holds (a VRRP deadline is near), and a slice ends when it closes', async () => {
  let held = true;
  const gate = { waitMs: () => (held ? 1 : 0) };
  const { queue, log, task } = rig(100, 1, gate);
  queue.push(task('a'));
  queue.push(
    task('b', () => {
      held = true;
    }),
  );
  queue.push(task('c'));
  await turns(5);
  assert.deepEqual(log, [], 'nothing ran while the gate held');
  held = false;
  await waitFor(() => log.length >= 2, { what: 'a slice once the gate opened', timeoutMs: 5000, stepMs: 1 });
  await turns(3);
  assert.deepEqual(log, ['a', 'b'], 'the slice stopped when the gate closed, well within its time');
  held = false;
  await waitFor(() => log.length === 3, { what: 'the rest once it opened again', timeoutMs: 5000, stepMs: 1 });
  assert.deepEqual(log, ['a', 'b', 'c']);
});
