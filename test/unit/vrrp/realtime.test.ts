// applyVrrpRealtime (src/vrrp/realtime.ts): a kernel that refuses real-time is a log
// line, not a crash; a demotion by RLIMIT_RTTIME is reported; a node started without
// the packaged drop-in's flags is told so; without the setting nothing is touched.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import type { VrrpScheduling, YoungGeneration } from '../../../src/vrrp/ports.js';
import { applyVrrpRealtime } from '../../../src/vrrp/realtime.js';

function recorder() {
  const logs: { level: number; msg: string }[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => logs.push(JSON.parse(line) as { level: number; msg: string }) });
  return { logs, logger };
}

const youngGeneration: YoungGeneration = { fill: () => 0, scavenge: () => undefined };

interface FakeOptions {
  refuse?: NodeJS.ErrnoException;
  v8HelperThreads?: boolean;
  memoryReducer?: boolean;
  scavengeOnDemand?: boolean;
}

function fakeScheduling({ refuse, v8HelperThreads = false, memoryReducer = false, scavengeOnDemand = true }: FakeOptions = {}) {
  const calls: [number, number][] = [];
  let dropped: (() => void) | undefined;
  const scheduling: VrrpScheduling = {
    setRealtime(priority, limitMs) {
      if (refuse) throw refuse;
      calls.push([priority, limitMs]);
    },
    onDropped(callback) {
      dropped = callback;
    },
    v8HelperThreads,
    memoryReducer,
  };
  const io = { scheduling, ...(scavengeOnDemand ? { youngGeneration } : {}) };
  return { io, calls, drop: () => dropped?.() };
}

/** vrrp_realtime set on a fake with these options: the scheduling line, then one warning, whose text it returns. */
function soleWarning(options: FakeOptions): string {
  const { logger, logs } = recorder();
  const fake = fakeScheduling(options);
  assert.equal(applyVrrpRealtime({ priority: 50, cpu_burst_limit: 200 }, fake.io, logger), true);
  assert.deepEqual(
    logs.map((l) => l.level),
    [30, 40],
  );
  return logs[1]!.msg;
}

describe('vrrp_realtime at start', () => {
  it('without the setting, scheduling is not touched', () => {
    const { logger, logs } = recorder();
    const fake = fakeScheduling();
    assert.equal(applyVrrpRealtime(undefined, fake.io, logger), false);
    assert.deepEqual(fake.calls, []);
    assert.deepEqual(logs, []);
  });

  it('asks for SCHED_RR at the priority with the burst limit and says so', () => {
    const { logger, logs } = recorder();
    const fake = fakeScheduling();
    assert.equal(applyVrrpRealtime({ priority: 50, cpu_burst_limit: 1000 }, fake.io, logger), true);
    assert.deepEqual(fake.calls, [[50, 1000]]);
    assert.equal(logs.length, 1);
    assert.equal(logs[0]!.level, 30);
    assert.match(logs[0]!.msg, /SCHED_RR 50/);
  });

  it("with V8's helper threads at work, a warning names --single-threaded and the packaged drop-in", () => {
    assert.match(
      soleWarning({ v8HelperThreads: true }),
      /garbage collection, optimizing compilation.*helper threads at normal scheduling.*--single-threaded \(.*systemd\/realtime\.conf/,
    );
  });

  it('without a scavenge on demand, a warning names --expose-gc and the packaged drop-in', () => {
    assert.match(
      soleWarning({ scavengeOnDemand: false }),
      /without --expose-gc.*scavenges.*just before a takeover.*systemd\/realtime\.conf/,
    );
  });

  it("with V8's memory reducer on, a warning names --no-memory-reducer and the packaged drop-in", () => {
    assert.match(soleWarning({ memoryReducer: true }), /memory reducer.*compacts.*--no-memory-reducer \(.*systemd\/realtime\.conf/);
  });

  it('a refusal (EPERM) is one error line naming the remedy; the agent goes on', () => {
    const { logger, logs } = recorder();
    const eperm = Object.assign(new Error('sched_setscheduler(SCHED_RR): Operation not permitted'), { code: 'EPERM' });
    const fake = fakeScheduling({ refuse: eperm });
    assert.equal(applyVrrpRealtime({ priority: 50, cpu_burst_limit: 1000 }, fake.io, logger), false);
    assert.equal(logs.length, 1);
    assert.equal(logs[0]!.level, 50);
    assert.match(logs[0]!.msg, /could not put the VRRP thread under SCHED_RR 50.*CAP_SYS_NICE.*LimitRTPRIO.*keeps normal scheduling/);
  });

  it('an I/O without scheduling (a test twin) is an error line, not a crash', () => {
    const { logger, logs } = recorder();
    assert.equal(applyVrrpRealtime({ priority: 10, cpu_burst_limit: 1000 }, {}, logger), false);
    assert.equal(logs[0]!.level, 50);
  });

  it('a demotion by RLIMIT_RTTIME is a warning, and the thread, back in its loop, is real-time again', () => {
    const { logger, logs } = recorder();
    const fake = fakeScheduling();
    applyVrrpRealtime({ priority: 50, cpu_burst_limit: 300 }, fake.io, logger);
    fake.drop();
    assert.deepEqual(fake.calls, [
      [50, 300],
      [50, 300],
    ]);
    assert.equal(logs.at(-1)!.level, 40);
    assert.match(logs.at(-1)!.msg, /ran 300 ms without blocking.*normal scheduling for that burst; it is real-time again/);
  });
});
