import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FakeClock } from '../../../src/clock.js';
import { EventBus } from '../../../src/events.js';
import { instanceArguments } from '../../../src/alerts/notify-dispatch.js';
import { NotifyRunner, type NotifyRunResult } from '../../../src/alerts/programs.js';
import { waitFor } from '../../helpers/wait.js';
import { scratch, script } from './scripts.js';

test('keepalived-style arguments for VRRP, the event in the environment and as JSON on stdin', async (t) => {
  const dir = scratch(t, 'failoverd-notify-');
  const out = join(dir, 'out');
  const program = script(dir, 'notify.sh', `{ echo "args=$*"; env | grep ^FAILOVERD_ | sort; cat; } > ${out}`);
  const bus = new EventBus('lvs-a');
  const runner = new NotifyRunner(bus, [{ program, events: ['vrrp.*'] }]);
  t.after(() => runner.close());
  const event = bus.publish({
    type: 'vrrp.state',
    object: 'vrrp/web',
    from: 'BACKUP',
    to: 'MASTER',
    reason: 'higher priority',
    data: { priority: 150 },
  });
  bus.publish({ type: 'realserver.down', object: 'service/web-80/10.6.2.191:80' }); // not subscribed
  await new Promise((resolve) => setImmediate(resolve));
  await runner.idle();
  const lines = readFileSync(out, 'utf8').trim().split('\n');
  assert.equal(lines[0], 'args=INSTANCE web MASTER 150');
  const env = Object.fromEntries(lines.filter((l) => l.startsWith('FAILOVERD_')).map((l) => l.split(/=(.*)/s).slice(0, 2)));
  assert.deepEqual(env, {
    FAILOVERD_EVENT_ID: event.id,
    FAILOVERD_EVENT_TYPE: 'vrrp.state',
    FAILOVERD_NODE: 'lvs-a',
    FAILOVERD_OBJECT: 'vrrp/web',
    FAILOVERD_FROM: 'BACKUP',
    FAILOVERD_TO: 'MASTER',
    FAILOVERD_REASON: 'higher priority',
    FAILOVERD_TIME: event.time,
  });
  assert.deepEqual(JSON.parse(lines[lines.length - 1]!), event);
  assert.deepEqual(runner.stats(), [{ program, runs: 1, failures: 0, timeouts: 0, dropped: 0, queued: 0 }]);
  assert.deepEqual(instanceArguments({ ...event, type: 'realserver.down' }), []);
  assert.deepEqual(
    instanceArguments({ ...event, from: 'master', to: 'init' }),
    ['INSTANCE', 'web', 'STOP', '150'],
    "keepalived's STOP, not INIT",
  );
});

test('strictly one at a time and in order per object; different objects do not wait for each other', async (t) => {
  const dir = scratch(t, 'failoverd-notify-');
  const log = join(dir, 'log');
  // vrrp/a's runs wait for vrrp/b's to have finished (bounded: 1000 polls), so vrrp/a
  // can only finish first if vrrp/b was made to wait behind it.
  const bDone = join(dir, 'b-done');
  const program = script(
    dir,
    'notify.sh',
    `echo "start $FAILOVERD_OBJECT $FAILOVERD_TO" >> ${log}
if [ "$FAILOVERD_OBJECT" = vrrp/a ]; then i=0; while [ ! -e ${bDone} ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i+1)); done; fi
echo "end $FAILOVERD_OBJECT $FAILOVERD_TO" >> ${log}
if [ "$FAILOVERD_OBJECT" = vrrp/b ]; then touch ${bDone}; fi`,
  );
  const bus = new EventBus('lvs-a');
  const runner = new NotifyRunner(bus, [{ program }]);
  t.after(() => runner.close());
  for (const to of ['BACKUP', 'MASTER', 'FAULT', 'BACKUP']) bus.publish({ type: 'vrrp.state', object: 'vrrp/a', to });
  bus.publish({ type: 'vrrp.state', object: 'vrrp/b', to: 'MASTER' });
  await new Promise((resolve) => setImmediate(resolve));
  await runner.idle();
  const lines = readFileSync(log, 'utf8').trim().split('\n');
  const a = lines.filter((l) => l.includes('vrrp/a'));
  assert.deepEqual(a, [
    'start vrrp/a BACKUP',
    'end vrrp/a BACKUP',
    'start vrrp/a MASTER',
    'end vrrp/a MASTER',
    'start vrrp/a FAULT',
    'end vrrp/a FAULT',
    'start vrrp/a BACKUP',
    'end vrrp/a BACKUP',
  ]);
  // vrrp/b ran while vrrp/a's first run was still going.
  assert.ok(lines.indexOf('end vrrp/b MASTER') < lines.indexOf('end vrrp/a MASTER'), lines.join(' | '));
});

test('a program past its timeout has its whole process group killed, SIGKILL only after the grace period, and the queue moves on', async (t) => {
  const dir = scratch(t, 'failoverd-notify-');
  const pidFile = join(dir, 'child.pid');
  const ready = join(dir, 'ready');
  // Starts a background grandchild, then hangs ignoring SIGTERM; says when the trap is set.
  const program = script(
    dir,
    'hang.sh',
    `sleep 30 & echo $! > ${pidFile}
trap '' TERM
touch ${ready}.$FAILOVERD_TO
while :; do sleep 1; done`,
  );
  const fast = script(dir, 'fast.sh', 'exit 3');
  const results: NotifyRunResult[] = [];
  const clock = new FakeClock();
  const bus = new EventBus('lvs-a');
  const runner = new NotifyRunner(bus, [{ program, timeoutMs: 200 }, { program: fast }], { clock, onResult: (_h, r) => results.push(r) });
  t.after(() => runner.close());
  bus.publish({ type: 'vrrp.state', object: 'vrrp/web', to: 'MASTER' });
  bus.publish({ type: 'vrrp.state', object: 'vrrp/web', to: 'BACKUP' });
  const hung = (): NotifyRunResult[] => results.filter((r) => r.timedOut);
  // The fast program's runs end by themselves; from then on the only timers are the hung run's.
  await waitFor(() => results.filter((r) => r.exitCode === 3).length === 2, { what: 'both runs of the fast program', timeoutMs: 10_000 });
  for (const [i, to] of ['MASTER', 'BACKUP'].entries()) {
    await waitFor(() => existsSync(`${ready}.${to}`) && clock.pendingTimers() === 1, {
      what: `the hung run for ${to} with its timeout armed`,
      timeoutMs: 10_000,
    });
    clock.advance(199);
    assert.equal(clock.pendingTimers(), 1, 'not stopped before its timeout');
    clock.advance(1);
    assert.equal(clock.pendingTimers(), 1, 'SIGTERM sent at the timeout, SIGKILL armed for after the grace period');
    clock.advance(999);
    assert.equal(clock.pendingTimers(), 1, 'no SIGKILL before the grace period is over');
    assert.equal(hung().length, i);
    clock.advance(1);
    await waitFor(() => hung().length === i + 1, { what: `the hung run for ${to} killed`, timeoutMs: 10_000 });
  }
  await runner.idle();
  assert.deepEqual(
    hung().map((r) => r.event.to),
    ['MASTER', 'BACKUP'],
  );
  assert.equal(hung()[0]!.signal, 'SIGKILL'); // SIGTERM was ignored; SIGKILL after the grace period
  assert.equal(hung()[1]!.signal, 'SIGKILL');
  // The background grandchild went with the group (gone, or a zombie until init reaps it).
  const grandchild = Number(readFileSync(pidFile, 'utf8'));
  const alive = (): boolean => {
    try {
      return readFileSync(`/proc/${grandchild}/stat`, 'utf8').split(') ')[1]![0] !== 'Z';
    } catch {
      return false;
    }
  };
  await waitFor(() => !alive(), { what: `the grandchild ${grandchild} killed with its group`, timeoutMs: 10_000 });
  const stats = runner.stats();
  assert.deepEqual(stats[0], { program, runs: 2, failures: 2, timeouts: 2, dropped: 0, queued: 0 });
  assert.deepEqual(stats[1], { program: fast, runs: 2, failures: 2, timeouts: 0, dropped: 0, queued: 0 });
});

test('a program that cannot start is a counted failure, not a crash; publishing only enqueues', async (t) => {
  const bus = new EventBus('lvs-a');
  const results: NotifyRunResult[] = [];
  const runner = new NotifyRunner(bus, [{ program: '/nonexistent/failoverd-notify' }], { onResult: (_h, r) => results.push(r) });
  t.after(() => runner.close());
  for (let i = 0; i < 50; i++) bus.publish({ type: 'vrrp.state', object: 'vrrp/web', to: String(i) });
  // Nothing ran yet: the publisher returned before any spawn (its cost is in bench/alerts/publish.ts).
  assert.equal(results.length, 0);
  assert.deepEqual(runner.stats()[0], {
    program: '/nonexistent/failoverd-notify',
    runs: 0,
    failures: 0,
    timeouts: 0,
    dropped: 0,
    queued: 50,
  });
  await new Promise((resolve) => setImmediate(resolve));
  await runner.idle();
  assert.equal(results.length, 50);
  assert.match(results[0]!.error ?? '', /ENOENT/);
  assert.equal(runner.stats()[0]!.failures, 50);
});

test('a program that cannot start never holds the event loop: each run gives other callbacks a turn', async () => {
  const bus = new EventBus('lvs-a');
  const results: NotifyRunResult[] = [];
  const runner = new NotifyRunner(bus, [{ program: '/nonexistent/failoverd-notify', queueSize: 1000 }], {
    onResult: (_hook, r) => results.push(r),
  });
  try {
    const EVENTS = 50;
    for (let i = 0; i < EVENTS; i++) {
      bus.publish({ type: 'vrrp.state', object: 'vrrp/web', from: 'BACKUP', to: 'MASTER', reason: `burst ${i}` });
    }
    // A spawn that fails reports on the next tick, so a loop of awaits alone would run all
    // fifty before any timer or socket callback: a master's adverts would stall behind them.
    const seenByAnotherCallback = await new Promise<number>((resolve) => setImmediate(() => setImmediate(() => resolve(results.length))));
    assert.ok(seenByAnotherCallback < EVENTS, `another callback ran only after all ${seenByAnotherCallback} failed runs`);
    await waitFor(() => results.length === EVENTS, { what: 'all runs reported', timeoutMs: 60_000 });
    assert.ok(
      results.every((r) => r.error !== undefined || r.exitCode !== 0),
      'every run is a failure',
    );
  } finally {
    runner.close();
    await runner.idle();
  }
});
