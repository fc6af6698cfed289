import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EventBus } from '../../../src/events.js';
import { NotifyRunner, notifyArguments, type NotifyRunResult } from '../../../src/alerts/programs.js';
import { scratch, script } from './scripts.js';


test('keepalived-style arguments for VRRP, the event in the environment and as JSON on stdin', async (t) => {
  const dir = scratch(t, 'failoverd-notify-');
  const out = join(dir, 'out');
  const program = script(dir, 'notify.sh', `{ echo "args=$*"; env | grep ^FAILOVERD_ | sort; cat; } > ${out}`);
  const bus = new EventBus('lvs-a');
  const runner = new NotifyRunner(bus, [{ program, events: ['vrrp.*'] }]);
  t.after(() => runner.close());
  const event = bus.publish({ type: 'vrrp.state', object: 'vrrp/web', from: 'BACKUP', to: 'MASTER', reason: 'higher priority', data: { priority: 150 } });
  bus.publish({ type: 'realserver.down', object: 'service/web-80/10.6.2.191:80' }); // not subscribed
  await new Promise((resolve) => setImmediate(resolve));
  await runner.idle();
  const lines = readFileSync(out, 'utf8').trim().split('\n');
  assert.equal(lines[0], 'args=INSTANCE web MASTER 150');
  const env = Object.fromEntries(lines.filter((l) => l.startsWith('FAILOVERD_')).map((l) => l.split(/=(.*)/s).slice(0, 2)));
  assert.deepEqual(env, {
    FAILOVERD_EVENT_ID: event.id, FAILOVERD_EVENT_TYPE: 'vrrp.state', FAILOVERD_NODE: 'lvs-a', FAILOVERD_OBJECT: 'vrrp/web',
    FAILOVERD_FROM: 'BACKUP', FAILOVERD_TO: 'MASTER', FAILOVERD_REASON: 'higher priority', FAILOVERD_TIME: event.time,
  });
  assert.deepEqual(JSON.parse(lines[lines.length - 1]!), event);
  assert.deepEqual(runner.stats(), [{ program, runs: 1, failures: 0, timeouts: 0, dropped: 0, queued: 0 }]);
  assert.deepEqual(notifyArguments({ ...event, type: 'realserver.down' }), []);
});

test('strictly one at a time and in order per object; different objects do not wait for each other', async (t) => {
  const dir = scratch(t, 'failoverd-notify-');
  const log = join(dir, 'log');
  // Slow for vrrp/a so that ordering and overlap would show.
  const program = script(dir, 'notify.sh', `echo "start $FAILOVERD_OBJECT $FAILOVERD_TO" >> ${log}
[ "$FAILOVERD_OBJECT" = vrrp/a ] && sleep 0.05
echo "end $FAILOVERD_OBJECT $FAILOVERD_TO" >> ${log}`);
  const bus = new EventBus('lvs-a');
  const runner = new NotifyRunner(bus, [{ program }]);
  t.after(() => runner.close());
  for (const to of ['BACKUP', 'MASTER', 'FAULT', 'BACKUP']) bus.publish({ type: 'vrrp.state', object: 'vrrp/a', to });
  bus.publish({ type: 'vrrp.state', object: 'vrrp/b', to: 'MASTER' });
  await new Promise((resolve) => setImmediate(resolve));
  await runner.idle();
  const lines = readFileSync(log, 'utf8').trim().split('\n');
  const a = lines.filter((l) => l.includes('vrrp/a'));
  assert.deepEqual(a, ['start vrrp/a BACKUP', 'end vrrp/a BACKUP', 'start vrrp/a MASTER', 'end vrrp/a MASTER', 'start vrrp/a FAULT', 'end vrrp/a FAULT', 'start vrrp/a BACKUP', 'end vrrp/a BACKUP']);
  // vrrp/b ran while vrrp/a's first (slow) run was still going.
  assert.ok(lines.indexOf('end vrrp/b MASTER') < lines.indexOf('end vrrp/a MASTER'), lines.join(' | '));
});

test('a program past its timeout has its whole process group killed, and the queue moves on', async (t) => {
  const dir = scratch(t, 'failoverd-notify-');
  const pidFile = join(dir, 'child.pid');
  // Starts a background grandchild, then hangs ignoring SIGTERM.
  const program = script(dir, 'hang.sh', `sleep 30 & echo $! > ${pidFile}
trap '' TERM
while :; do sleep 1; done`);
  const fast = script(dir, 'fast.sh', 'exit 3');
  const results: NotifyRunResult[] = [];
  const bus = new EventBus('lvs-a');
  const runner = new NotifyRunner(bus, [{ program, timeoutMs: 200 }, { program: fast }], { onResult: (_h, r) => results.push(r) });
  t.after(() => runner.close());
  const started = Date.now();
  bus.publish({ type: 'vrrp.state', object: 'vrrp/web', to: 'MASTER' });
  bus.publish({ type: 'vrrp.state', object: 'vrrp/web', to: 'BACKUP' });
  await new Promise((resolve) => setImmediate(resolve));
  await runner.idle();
  const elapsed = Date.now() - started;
  const hung = results.filter((r) => r.timedOut);
  assert.equal(hung.length, 2);
  assert.deepEqual(hung.map((r) => r.event.to), ['MASTER', 'BACKUP']);
  assert.equal(hung[0]!.signal, 'SIGKILL'); // SIGTERM was ignored; SIGKILL after the grace period
  assert.ok(elapsed >= 2 * 1200 && elapsed < 10_000, `two timeouts with grace took ${elapsed}ms`);
  // The background grandchild went with the group.
  const grandchild = Number(readFileSync(pidFile, 'utf8'));
  assert.throws(() => process.kill(grandchild, 0), /ESRCH/);
  const stats = runner.stats();
  assert.deepEqual(stats[0], { program, runs: 2, failures: 2, timeouts: 2, dropped: 0, queued: 0 });
  assert.deepEqual(stats[1], { program: fast, runs: 2, failures: 2, timeouts: 0, dropped: 0, queued: 0 });
});

test('a program that cannot start is a counted failure, not a crash; the event loop is never blocked', async (t) => {
  const bus = new EventBus('lvs-a');
  const results: NotifyRunResult[] = [];
  const runner = new NotifyRunner(bus, [{ program: '/nonexistent/failoverd-notify' }], { onResult: (_h, r) => results.push(r) });
  t.after(() => runner.close());
  const before = performance.now();
  for (let i = 0; i < 50; i++) bus.publish({ type: 'vrrp.state', object: 'vrrp/web', to: String(i) });
  const publishMs = performance.now() - before;
  t.diagnostic(`50 publishes to a notify hook took ${publishMs.toFixed(2)}ms`);
  await new Promise((resolve) => setImmediate(resolve));
  await runner.idle();
  assert.equal(results.length, 50);
  assert.match(results[0]!.error ?? '', /ENOENT/);
  assert.equal(runner.stats()[0]!.failures, 50);
});
