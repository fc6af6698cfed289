// keepalived-compatible notify: which program runs with which argv per transition, in
// order (notify_<state> first, then `notify` with TYPE NAME STATE PRIORITY), for an
// instance, a sync group (once per group state), a service's quorum and a real server;
// then the same through NotifyRunner with real keepalived-style scripts that log "$@".
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { notifyHooksOf } from '../../../src/alerts/from-config.js';
import { notifyDispatcher } from '../../../src/alerts/notify-dispatch.js';
import { NotifyRunner } from '../../../src/alerts/programs.js';
import { EventBus, type AgentEvent } from '../../../src/events.js';
import { scratch, script } from './scripts.js';

const bus = new EventBus('lvs-a');
const vrrp = (name: string, to: string, priority = 150): AgentEvent =>
  bus.publish({ type: 'vrrp.state', object: `vrrp/${name}`, from: 'backup', to, data: { priority } });

describe('notify dispatch', () => {
  it("an instance: its state's program, then the generic one with INSTANCE NAME STATE PRIORITY; init is STOP", () => {
    const d = notifyDispatcher({
      kind: 'instance',
      instance: 'VI_1',
      commands: {
        onMaster: ['/m.sh', 'x'],
        onBackup: ['/b.sh'],
        onFault: ['/f.sh'],
        onStop: ['/s.sh'],
        onChange: ['/any.sh', 'cfg'],
      },
    });
    assert.deepEqual(d(vrrp('VI_1', 'master')), [
      ['/m.sh', 'x'],
      ['/any.sh', 'cfg', 'INSTANCE', 'VI_1', 'MASTER', '150'],
    ]);
    assert.deepEqual(d(vrrp('VI_1', 'backup', 100)), [['/b.sh'], ['/any.sh', 'cfg', 'INSTANCE', 'VI_1', 'BACKUP', '100']]);
    assert.deepEqual(d(vrrp('VI_1', 'fault')), [['/f.sh'], ['/any.sh', 'cfg', 'INSTANCE', 'VI_1', 'FAULT', '150']]);
    assert.deepEqual(d(vrrp('VI_1', 'init')), [['/s.sh'], ['/any.sh', 'cfg', 'INSTANCE', 'VI_1', 'STOP', '150']]);
    assert.deepEqual(d(vrrp('VI_2', 'master')), [], 'another instance');
  });

  it('a backup program never runs on MASTER (issue 14)', () => {
    const d = notifyDispatcher({ kind: 'instance', instance: 'VI_1', commands: { onBackup: ['/b.sh'] } });
    assert.deepEqual(d(vrrp('VI_1', 'master')), []);
    assert.deepEqual(d(vrrp('VI_1', 'backup')), [['/b.sh']]);
  });

  it('a sync group notifies once per group state, with GROUP NAME STATE 0', () => {
    const d = notifyDispatcher({
      kind: 'group',
      group: 'VG_1',
      members: ['a', 'b'],
      commands: { onMaster: ['/gm.sh'], onChange: ['/g.sh'] },
    });
    assert.deepEqual(d(vrrp('a', 'master')), [['/gm.sh'], ['/g.sh', 'GROUP', 'VG_1', 'MASTER', '0']]);
    assert.deepEqual(d(vrrp('b', 'master')), [], 'the second member follows: the group is already MASTER');
    assert.deepEqual(d(vrrp('c', 'fault')), [], 'not a member');
    assert.deepEqual(d(vrrp('b', 'fault')), [['/g.sh', 'GROUP', 'VG_1', 'FAULT', '0']]);
  });

  it("a service's quorum and a real server's state", () => {
    const q = notifyDispatcher({ kind: 'quorum', service: 'web-80', onUp: ['/up.sh'], onDown: ['/down.sh', 'web'] });
    assert.deepEqual(q(bus.publish({ type: 'quorum.lost', object: 'service/web-80' })), [['/down.sh', 'web']]);
    assert.deepEqual(q(bus.publish({ type: 'quorum.regained', object: 'service/web-80' })), [['/up.sh']]);
    assert.deepEqual(q(bus.publish({ type: 'quorum.lost', object: 'service/other' })), []);
    const rs = notifyDispatcher({ kind: 'realserver', service: 'web-80', server: '10.6.2.191:80', onDown: ['/rs-down.sh'] });
    assert.deepEqual(rs(bus.publish({ type: 'realserver.down', object: 'service/web-80/10.6.2.191:80' })), [['/rs-down.sh']]);
    assert.deepEqual(rs(bus.publish({ type: 'realserver.up', object: 'service/web-80/10.6.2.191:80' })), [], 'no on_up');
    assert.deepEqual(rs(bus.publish({ type: 'realserver.down', object: 'service/web-80/10.6.2.192:80' })), []);
  });

  it('the config maps to one hook per object; a string command runs through /bin/sh -c', () => {
    const hooks = notifyHooksOf({
      vrrp: [
        { name: 'a', sync_group: 'G', notify: { on_master: '/m.sh "two words"', timeout: 5000 } },
        { name: 'b', sync_group: 'G' },
      ],
      vrrp_sync_groups: [{ name: 'G', notify: { on_change: ['/g.sh'] } }],
      services: [
        {
          name: 'web',
          notify: { on_quorum_down: ['/q.sh'] },
          real_servers: [{ address: '2001:db8::1', port: 80, notify: { on_up: ['/u.sh'] } }],
        },
      ],
    });
    assert.deepEqual(
      hooks.map((h) => h.target),
      [
        { kind: 'instance', instance: 'a', commands: { onMaster: ['/bin/sh', '-c', '/m.sh "two words"'] } },
        { kind: 'group', group: 'G', members: ['a', 'b'], commands: { onChange: ['/g.sh'] } },
        { kind: 'quorum', service: 'web', onDown: ['/q.sh'] },
        { kind: 'realserver', service: 'web', server: '[2001:db8::1]:80', onUp: ['/u.sh'] },
      ],
    );
    assert.equal(hooks[0]!.timeoutMs, 5000);
  });
});

describe('notify programs, run', () => {
  it('keepalived-style scripts logging "$@" see the right arguments, in order, per state', async (t) => {
    const dir = scratch(t, 'failoverd-ka-notify-');
    const log = join(dir, 'log');
    const logger = (name: string) => script(dir, name, `echo "${name} $*" >> ${log}`);
    const runnerBus = new EventBus('lvs-a');
    const runner = new NotifyRunner(
      runnerBus,
      notifyHooksOf({
        vrrp: [
          {
            name: 'VI_1',
            notify: {
              on_master: [logger('master.sh'), 'arg1'],
              on_backup: [logger('backup.sh')],
              on_fault: [logger('fault.sh')],
              on_stop: [logger('stop.sh')],
              on_change: [logger('notify.sh')],
            },
          },
        ],
      }),
    );
    t.after(() => runner.close());
    for (const [to, priority] of [
      ['backup', 100],
      ['master', 150],
      ['fault', 150],
      ['backup', 100],
      ['init', 100],
    ] as const) {
      runnerBus.publish({ type: 'vrrp.state', object: 'vrrp/VI_1', to, data: { priority } });
    }
    runnerBus.publish({ type: 'vrrp.state', object: 'vrrp/VI_2', to: 'master', data: { priority: 1 } });
    await new Promise((resolve) => setImmediate(resolve));
    await runner.idle();
    assert.deepEqual(readFileSync(log, 'utf8').trim().split('\n'), [
      'backup.sh ',
      'notify.sh INSTANCE VI_1 BACKUP 100',
      'master.sh arg1',
      'notify.sh INSTANCE VI_1 MASTER 150',
      'fault.sh ',
      'notify.sh INSTANCE VI_1 FAULT 150',
      'backup.sh ',
      'notify.sh INSTANCE VI_1 BACKUP 100',
      'stop.sh ',
      'notify.sh INSTANCE VI_1 STOP 100',
    ]);
  });
});

describe('closing the alerts', () => {
  it("lets a queued notify program (an instance's on_stop as the agent stops) finish within the drain time", async (t) => {
    const { Alerts } = await import('../../../src/alerts/alerts.js');
    const dir = scratch(t, 'failoverd-ka-notify-');
    const log = join(dir, 'log');
    const stopBus = new EventBus('lvs-a');
    const alerts = new Alerts(stopBus, {
      webhooks: [],
      notify: notifyHooksOf({
        vrrp: [{ name: 'VI_1', notify: { on_stop: [script(dir, 'stop.sh', `sleep 0.2; echo "stop $*" >> ${log}`), 'now'] } }],
      }),
    });
    stopBus.publish({ type: 'vrrp.state', object: 'vrrp/VI_1', from: 'master', to: 'init', data: { priority: 100 } });
    await alerts.close(5000);
    assert.equal(readFileSync(log, 'utf8'), 'stop now\n');
  });
});
