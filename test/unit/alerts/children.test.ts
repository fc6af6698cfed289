import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EventBus } from '../../../src/events.js';
import { NotifyRunner, type NotifyRunResult } from '../../../src/alerts/programs.js';
import { isInheritedVariable } from '../../../src/children.js';
import { plugin as execCheck } from '../../../checks/exec.js';
import { runCommand } from '../../../src/vrrp/track-script.js';

import { scratch, script } from './scripts.js';
import { waitFor } from '../../helpers/wait.js';

/** Gone, or a zombie waiting for init to reap it: either way no longer running. */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

function variables(dump: string): Map<string, string> {
  return new Map(
    dump
      .split('\0')
      .filter(Boolean)
      .map((entry) => {
        const eq = entry.indexOf('=');
        return [entry.slice(0, eq), entry.slice(eq + 1)] as [string, string];
      }),
  );
}

test('a notify program that exits leaves nothing behind: its backgrounded sleep dies with its group', async (t) => {
  const dir = scratch(t, 'failoverd-children-');
  const pidFile = join(dir, 'sleep.pid');
  // The sleep keeps the program's stdout and stderr open; the program itself exits at once.
  const program = script(dir, 'notify.sh', `sleep 300 & echo $! > ${pidFile}\nexit 0`);
  const results: NotifyRunResult[] = [];
  const bus = new EventBus('lvs-a');
  const runner = new NotifyRunner(bus, [{ program }], { onResult: (_h, r) => results.push(r) });
  t.after(() => runner.close());
  let sleepPid = 0;
  t.after(() => {
    if (sleepPid && running(sleepPid)) process.kill(sleepPid, 'SIGKILL');
  });
  bus.publish({ type: 'vrrp.state', object: 'vrrp/web', to: 'MASTER' });
  await waitFor(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').endsWith('\n'), { what: 'the sleep pid', timeoutMs: 10_000 });
  sleepPid = Number(readFileSync(pidFile, 'utf8'));
  await runner.idle();
  assert.equal(results.length, 1);
  assert.equal(results[0]!.exitCode, 0);
  assert.equal(results[0]!.timedOut, false);
  await waitFor(() => !running(sleepPid), { what: `sleep ${sleepPid} to be gone`, timeoutMs: 5000 });
  assert.equal(running(sleepPid), false);
});

test('exec checks, notify programs and track scripts see the allow-listed environment and their FAILOVERD_* only', async (t) => {
  const dir = scratch(t, 'failoverd-children-');
  const planted = { FAILOVERD_TEST_DB_PASSWORD: 'canary-3f9a', NOTIFY_SOCKET: '/run/systemd/notify', LC_TIME: 'C.UTF-8' };
  const saved = Object.fromEntries(Object.keys(planted).map((k) => [k, process.env[k]]));
  Object.assign(process.env, planted);
  t.after(() => {
    for (const [k, v] of Object.entries(saved))
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
  });

  const notifyOut = join(dir, 'notify.env');
  const program = script(dir, 'notify.sh', `cat /proc/$$/environ > ${notifyOut}`);
  const bus = new EventBus('lvs-a');
  const runner = new NotifyRunner(bus, [{ program }]);
  t.after(() => runner.close());
  bus.publish({ type: 'vrrp.state', object: 'vrrp/web', to: 'MASTER' });
  await new Promise((resolve) => setImmediate(resolve));
  await runner.idle();

  const execOut = join(dir, 'exec.env');
  const options = execCheck.options.parse({ command: `cat /proc/$$/environ > ${execOut}`, env: { MY_CHECK_SETTING: '1' } });
  const result = await execCheck.run({ service: 'web-80', address: '10.6.2.191', port: 80 }, options, new AbortController().signal);
  assert.equal(result.ok, true, result.reason);

  const trackOut = join(dir, 'track.env');
  const track = script(dir, 'track.sh', `cat /proc/$$/environ > ${trackOut}`);
  assert.equal(await runCommand([track], 5000), true);

  const notifyEnv = variables(readFileSync(notifyOut, 'utf8'));
  const execEnv = variables(readFileSync(execOut, 'utf8'));
  const trackEnv = variables(readFileSync(trackOut, 'utf8'));
  for (const [who, env, own] of [
    ['notify', notifyEnv, /^FAILOVERD_(EVENT_ID|EVENT_TYPE|NODE|OBJECT|FROM|TO|REASON|TIME)$/],
    ['exec', execEnv, /^(FAILOVERD_(SERVICE|ADDRESS|PORT|FAMILY)|MY_CHECK_SETTING)$/],
    ['track', trackEnv, /^$/],
  ] as const) {
    const foreign = [...env.keys()].filter(
      (name) => !isInheritedVariable(name) && !own.test(name) && name !== 'PWD' && name !== 'SHLVL' && name !== '_',
    );
    assert.deepEqual(foreign, [], `${who} saw ${foreign.join(', ')}`);
    assert.equal(env.has('FAILOVERD_TEST_DB_PASSWORD'), false, who);
    assert.equal(env.has('NOTIFY_SOCKET'), false, who);
    assert.equal(env.get('LC_TIME'), 'C.UTF-8', who);
    assert.ok(env.get('PATH'), `${who} has a PATH`);
  }
  assert.equal(notifyEnv.get('FAILOVERD_TO'), 'MASTER');
  assert.equal(execEnv.get('FAILOVERD_ADDRESS'), '10.6.2.191');
  assert.equal(execEnv.get('MY_CHECK_SETTING'), '1');
});
