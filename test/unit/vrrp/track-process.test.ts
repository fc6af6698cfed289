// keepalived's track_process: exact name matching (no regular expression), command lines
// with param_match, quorum..quorum_max, the fork/terminate delays on the fake clock, and
// the /proc scanner against a /proc-shaped directory and against this very process.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FakeClock } from '../../../src/clock.js';
import type { TrackProcess } from '../../../src/vrrp/config.js';
import { matchesProcess, scanProc, trackedProcessUp, TrackProcessWatcher, type ProcessEntry } from '../../../src/vrrp/track-process.js';

const tracker = (over: Partial<TrackProcess> = {}): TrackProcess => ({
  name: 'haproxy',
  process: 'haproxy',
  quorum: 1,
  delayUpMs: 0,
  delayDownMs: 0,
  weight: -20,
  ...over,
});
const proc = (pid: number, name: string, argv?: string[]): ProcessEntry => ({ pid, name, ...(argv ? { argv } : {}) });
const flush = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

describe('track_process matching', () => {
  it('a name matches comm exactly: "ssh" is not sshd, and names past 15 bytes compare truncated as the kernel does', () => {
    assert.equal(matchesProcess(tracker({ process: 'ssh' }), proc(1, 'sshd')), false);
    assert.equal(matchesProcess(tracker({ process: 'sshd' }), proc(1, 'sshd')), true);
    assert.equal(matchesProcess(tracker({ process: 'a-very-long-daemon-name' }), proc(1, 'a-very-long-dae')), true);
  });

  it('arguments compare the command line: exact count, partial (the first n), initial (the last is a prefix)', () => {
    const p = proc(1, 'haproxy', ['/usr/sbin/haproxy', '-f', '/etc/haproxy/haproxy.cfg']);
    assert.equal(matchesProcess(tracker({ process: '/usr/sbin/haproxy', args: ['-f', '/etc/haproxy/haproxy.cfg'] }), p), true);
    assert.equal(matchesProcess(tracker({ process: '/usr/sbin/haproxy', args: ['-f'] }), p), false, 'exact: the same count');
    assert.equal(matchesProcess(tracker({ process: '/usr/sbin/haproxy', args: ['-f'], paramMatch: 'partial' }), p), true);
    assert.equal(matchesProcess(tracker({ process: '/usr/sbin/haproxy', args: ['-f', '/etc/haproxy/'], paramMatch: 'partial' }), p), false);
    assert.equal(matchesProcess(tracker({ process: '/usr/sbin/haproxy', args: ['-f', '/etc/haproxy/'], paramMatch: 'initial' }), p), true);
    assert.equal(
      matchesProcess(tracker({ process: '/usr/sbin/haproxy', fullCommand: true }), p),
      true,
      'full_command without args ignores them',
    );
    assert.equal(
      matchesProcess(tracker({ process: '/usr/sbin/haproxy', paramMatch: 'exact' }), p),
      false,
      'param_match without args: no arguments allowed',
    );
    assert.equal(matchesProcess(tracker({ process: 'haproxy', fullCommand: true }), p), false, 'argv[0] compares whole');
  });

  it('quorum..quorum_max decides up; quorum_max 0 means up only while none runs', () => {
    assert.equal(trackedProcessUp({ quorum: 1 }, 0), false);
    assert.equal(trackedProcessUp({ quorum: 1 }, 3), true);
    assert.equal(trackedProcessUp({ quorum: 2, quorumMax: 2 }, 3), false);
    assert.equal(trackedProcessUp({ quorum: 0, quorumMax: 0 }, 0), true);
    assert.equal(trackedProcessUp({ quorum: 0, quorumMax: 0 }, 1), false);
  });
});

describe('TrackProcessWatcher', () => {
  it('settles at start without delay, then waits delay_down before down and delay_up before up; a bounce within the delay is ignored', async () => {
    const clock = new FakeClock();
    let running: ProcessEntry[] = [proc(10, 'haproxy')];
    const changes: Array<[string, boolean]> = [];
    const w = new TrackProcessWatcher(
      [tracker({ delayUpMs: 3000, delayDownMs: 2500 })],
      clock,
      (n, up) => changes.push([n, up]),
      1000,
      async () => running,
    );
    assert.deepEqual([...(await w.start())], [['haproxy', true]]);
    running = [];
    clock.advance(1000);
    await flush();
    clock.advance(1000);
    await flush();
    assert.deepEqual(changes, [], 'down for 1 s of a 2.5 s delay');
    running = [proc(11, 'haproxy')];
    clock.advance(1000);
    await flush();
    assert.deepEqual(changes, [], 'back before the delay: no change');
    running = [];
    for (let i = 0; i < 3; i++) {
      clock.advance(1000);
      await flush();
    }
    assert.deepEqual(changes, [], 'gone since t=4 s, due at 6.5 s: not yet at 6 s');
    clock.advance(1000);
    await flush();
    assert.deepEqual(changes, [['haproxy', false]]);
    running = [proc(12, 'haproxy')];
    for (let i = 0; i < 4; i++) {
      clock.advance(1000);
      await flush();
    }
    assert.deepEqual(changes, [
      ['haproxy', false],
      ['haproxy', true],
    ]);
    w.stop();
  });

  it('reads only stat unless a tracker needs command lines', async () => {
    const clock = new FakeClock();
    const asked: boolean[] = [];
    const scan = async (withCommandLines: boolean) => {
      asked.push(withCommandLines);
      return [];
    };
    const a = new TrackProcessWatcher([tracker()], clock, () => undefined, 1000, scan);
    await a.start();
    a.stop();
    const b = new TrackProcessWatcher(
      [tracker(), tracker({ name: 'x', process: '/bin/x', args: ['-d'] })],
      clock,
      () => undefined,
      1000,
      scan,
    );
    await b.start();
    b.stop();
    assert.deepEqual(asked, [false, true]);
  });
});

describe('scanProc', () => {
  it('reads comm from stat (a name with ") " in it too), skips zombies and vanished entries, and splits cmdline', async (t) => {
    const root = mkdtempSync(join(tmpdir(), 'failoverd-proc-'));
    t.after(() => rmSync(root, { recursive: true, force: true }));
    const add = (pid: string, stat: string, cmdline?: string) => {
      mkdirSync(join(root, pid));
      writeFileSync(join(root, pid, 'stat'), stat);
      if (cmdline !== undefined) writeFileSync(join(root, pid, 'cmdline'), cmdline);
    };
    add('1', '1 (init) S 0 1 1 0', '/sbin/init\0');
    add('22', '22 (odd) name) R 1 22', '/opt/odd\0-x\0');
    add('33', '33 (haproxy) Z 1 33', '');
    mkdirSync(join(root, '44')); // exited: no stat
    mkdirSync(join(root, 'self'));
    const entries = await scanProc(true, root);
    assert.deepEqual(
      entries.sort((a, b) => a.pid - b.pid),
      [
        { pid: 1, name: 'init', argv: ['/sbin/init'] },
        { pid: 22, name: 'odd) name', argv: ['/opt/odd', '-x'] },
      ],
    );
  });

  it('finds this very process in the real /proc by its name', async () => {
    const entries = await scanProc(false);
    const self = entries.find((e) => e.pid === process.pid);
    assert.ok(self, 'this process is listed');
    assert.equal(self.name, readFileSync('/proc/self/comm', 'utf8').trim());
    assert.equal(matchesProcess(tracker({ process: self.name }), self), true);
  });
});
