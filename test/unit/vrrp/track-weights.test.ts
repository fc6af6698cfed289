// keepalived's weights with `reverse`, per kind of tracked object, and tracked scripts,
// files and processes folding into the priority through Tracking on the fake clock.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../../../src/clock.js';
import { vrrpInstanceConfig, type TrackProcess, type TrackScript } from '../../../src/vrrp/config.js';
import { effectivePriority, type TrackedStatus } from '../../../src/vrrp/priority.js';
import type { ProcessEntry } from '../../../src/vrrp/track-process.js';
import { parseTrackFile } from '../../../src/vrrp/track-file.js';
import { Tracking } from '../../../src/vrrp/tracking.js';
import { FakeHost } from './fake-io.js';

const flush = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};
const at = (status: Omit<TrackedStatus, 'kind' | 'name'>, kind: TrackedStatus['kind'] = 'script') =>
  effectivePriority(100, [{ kind, name: 'x', ...status }]);

describe('reverse weights (keepalived.conf(5): "decreased when up and increased when down")', () => {
  it('a positive weight is subtracted while up, a negative one added while down', () => {
    assert.equal(at({ weight: 10, value: true }).priority, 110);
    assert.equal(at({ weight: 10, reverse: true, value: true }).priority, 90);
    assert.equal(at({ weight: 10, reverse: true, value: false }).priority, 100);
    assert.equal(at({ weight: -10, value: false }).priority, 90);
    assert.equal(at({ weight: -10, reverse: true, value: false }).priority, 110);
    assert.equal(at({ weight: -10, reverse: true, value: true }).priority, 100);
  });

  it('weight 0 reverse is FAULT while up, fine while down; for a file, while it holds 0', () => {
    assert.equal(at({ weight: 0, reverse: true, value: true }).fault, true);
    assert.equal(at({ weight: 0, reverse: true, value: false }).fault, false);
    assert.equal(at({ weight: 0, reverse: true, value: 0 }, 'file').fault, true);
    assert.equal(at({ weight: 0, reverse: true, value: 3 }, 'file').fault, false);
    assert.equal(at({ weight: 0, value: 3 }, 'file').fault, true);
  });

  it('a file is value × weight, negated by reverse; below -253 it is FAULT', () => {
    assert.equal(at({ weight: 5, value: 4 }, 'file').priority, 120);
    assert.equal(at({ weight: 5, reverse: true, value: 4 }, 'file').priority, 80);
    assert.equal(at({ weight: -100, value: 3 }, 'file').fault, true);
  });

  it('the file is read as C strtol does with base 0', () => {
    assert.equal(parseTrackFile('0x10\n'), 16);
    assert.equal(parseTrackFile('010'), 8);
    assert.equal(parseTrackFile('+7'), 7);
    assert.equal(parseTrackFile('-0'), 0);
    assert.equal(parseTrackFile(''), 0);
  });
});

describe('Tracking of scripts, files and processes', () => {
  function setup(
    track: { scripts?: TrackScript[]; processes?: TrackProcess[]; files?: Array<{ path: string; weight: number; reverse?: boolean }> },
    deps: { run?: () => Promise<boolean>; scan?: () => Promise<ProcessEntry[]> } = {},
  ) {
    const clock = new FakeClock();
    const host = new FakeHost();
    host.addLink('eth0', 2, '02:00:00:00:00:01', [{ address: '192.0.2.1', prefixLength: 24 }]);
    let changes = 0;
    const tracking = new Tracking({
      host,
      clock,
      onChange: () => {
        changes++;
      },
      onOwnLink: () => undefined,
      ...(deps.run ? { runScript: deps.run } : {}),
      ...(deps.scan ? { scanProcesses: deps.scan, trackProcessPollMs: 1000 } : {}),
      trackFilePollMs: 1000,
    });
    const config = vrrpInstanceConfig({
      name: 'web',
      interface: 'eth0',
      vrid: 51,
      priority: 100,
      version: 2,
      vips: ['192.0.2.195/32'],
      track: { interfaces: [], services: [], scripts: track.scripts ?? [], files: track.files ?? [], processes: track.processes ?? [] },
    });
    return { clock, host, tracking, config, changes: () => changes };
  }
  const script = (over: Partial<TrackScript>): TrackScript => ({
    name: 'chk',
    command: ['/bin/true'],
    intervalMs: 1000,
    timeoutMs: 1000,
    rise: 2,
    fall: 3,
    weight: -30,
    ...over,
  });

  it('a script falls after `fall` failures in a row and rises after `rise` successes; reverse turns the drop into a raise', async () => {
    for (const [reverse, down] of [
      [false, 70],
      [true, 130],
    ] as const) {
      const results = [false, false, true, false, false, false, true, true];
      let i = 0;
      const { clock, host, tracking, config } = setup(
        { scripts: [script({ reverse })] },
        { run: async () => results[Math.min(i++, results.length - 1)]! },
      );
      await tracking.start(config, await host.link('eth0'));
      const seen: number[] = [];
      for (let t = 0; t < results.length; t++) {
        clock.advance(t === 0 ? 0 : 1000);
        await flush();
        seen.push(tracking.priority(100).priority);
      }
      // fails, fails, (ok resets), fails ×3 → down; ok, ok → up again
      assert.deepEqual(seen, [100, 100, 100, 100, 100, down, down, 100], `reverse ${reverse}`);
      tracking.stop();
    }
  });

  it("initial down (keepalived's init_fail): the weight counts from the start, and `rise` successes in a row make the script up", async () => {
    const results = [true, false, true, true];
    let i = 0;
    const { clock, host, tracking, config, changes } = setup(
      { scripts: [script({ initial: 'down' })] },
      { run: async () => results[Math.min(i++, results.length - 1)]! },
    );
    await tracking.start(config, await host.link('eth0'));
    const seen = [tracking.priority(100).priority];
    for (let t = 0; t < results.length; t++) {
      clock.advance(t === 0 ? 0 : 1000);
      await flush();
      seen.push(tracking.priority(100).priority);
    }
    // down before any run; ok, (fail resets), ok, ok → up after rise 2
    assert.deepEqual(seen, [70, 70, 70, 70, 100]);
    assert.equal(changes(), 1);
    tracking.stop();
  });

  it('initial down with weight 0: FAULT from the start, until the script succeeds', async () => {
    const { clock, host, tracking, config } = setup(
      { scripts: [script({ weight: 0, rise: 1, initial: 'down' })] },
      { run: async () => true },
    );
    await tracking.start(config, await host.link('eth0'));
    assert.deepEqual(tracking.priority(100).faultedBy, ['script/chk']);
    clock.advance(0);
    await flush();
    assert.deepEqual(tracking.priority(100).faultedBy, []);
    tracking.stop();
  });

  it('a script with weight 0 puts the instance in FAULT while it fails', async () => {
    const { clock, host, tracking, config } = setup({ scripts: [script({ weight: 0, fall: 1, rise: 1 })] }, { run: async () => false });
    await tracking.start(config, await host.link('eth0'));
    clock.advance(0);
    await flush();
    assert.deepEqual(tracking.priority(100).faultedBy, ['script/chk']);
    tracking.stop();
  });

  it('a missing file counts 0 (keepalived), so a positive weight is lost', async () => {
    const { host, tracking, config } = setup({ files: [{ path: '/nonexistent/failoverd-track-file', weight: 20 }] });
    await tracking.start(config, await host.link('eth0'));
    assert.equal(tracking.priority(100).priority, 100);
    tracking.stop();
  });

  it('a process that dies lowers the priority by its weight once the scan sees it gone', async () => {
    let running: ProcessEntry[] = [{ pid: 7, name: 'haproxy' }];
    const { clock, host, tracking, config, changes } = setup(
      { processes: [{ name: 'haproxy', process: 'haproxy', quorum: 1, delayUpMs: 0, delayDownMs: 0, weight: -40 }] },
      { scan: async () => running },
    );
    await tracking.start(config, await host.link('eth0'));
    assert.equal(tracking.priority(100).priority, 100);
    running = [];
    clock.advance(1000);
    await flush();
    assert.equal(tracking.priority(100).priority, 60);
    assert.equal(changes(), 1);
    tracking.stop();
  });
});

describe('Tracking across a restart (reload)', () => {
  it('a failed script stays failed, and its next success brings it back', async () => {
    const clock = new FakeClock();
    const host = new FakeHost();
    host.addLink('eth0', 2, '02:00:00:00:00:01', [{ address: '192.0.2.1', prefixLength: 24 }]);
    let ok = false;
    const tracking = new Tracking({
      host,
      clock,
      onChange: () => undefined,
      onOwnLink: () => undefined,
      runScript: async () => ok,
      trackFilePollMs: 1000,
    });
    const config = vrrpInstanceConfig({
      name: 'web',
      interface: 'eth0',
      vrid: 51,
      priority: 100,
      version: 2,
      vips: ['192.0.2.195/32'],
      track: {
        interfaces: [],
        services: [],
        files: [],
        processes: [],
        scripts: [{ name: 'chk', command: ['/bin/true'], intervalMs: 1000, timeoutMs: 1000, rise: 1, fall: 1, weight: -30 }],
      },
    });
    await tracking.start(config, await host.link('eth0'));
    clock.advance(0);
    await flush();
    assert.equal(tracking.priority(100).priority, 70);
    await tracking.restart(config, await host.link('eth0'));
    assert.equal(tracking.priority(100).priority, 70, 'still failed after the restart');
    ok = true;
    clock.advance(0);
    await flush();
    assert.equal(tracking.priority(100).priority, 100, 'the first success after the restart brings it back');
    tracking.stop();
  });
});
