// FdLogWriter (src/fd-log-writer.ts): log lines go out with write(2) from the calling
// thread; a full descriptor (EAGAIN) queues them in order instead of blocking, a timer
// retries, and past the cap whole lines are dropped, counted and reported.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FdLogWriter } from '../../src/fd-log-writer.js';

const eagain = (): never => {
  throw Object.assign(new Error('EAGAIN: resource temporarily unavailable, write'), { code: 'EAGAIN' });
};

/** A descriptor with `room` bytes free, then none until `room` is raised again; retries run when the test says. */
function fakeFd() {
  const fd = { room: Infinity, written: '', writes: 0 };
  const retries: (() => void)[] = [];
  const write = (_fd: number, data: Buffer): number => {
    fd.writes++;
    if (fd.room <= 0) eagain();
    const n = Math.min(data.length, fd.room);
    fd.written += data.subarray(0, n).toString();
    fd.room -= n;
    return n;
  };
  const schedule = (retry: () => void): void => {
    retries.push(retry);
  };
  const runRetries = (): void => {
    for (const retry of retries.splice(0)) retry();
  };
  return { fd, write, schedule, runRetries, retries };
}

test('lines are written as they come while there is room', () => {
  const f = fakeFd();
  const writer = new FdLogWriter(2, { write: f.write, schedule: f.schedule });
  writer.write('one\n');
  writer.write('two\n');
  assert.equal(f.fd.written, 'one\ntwo\n');
  assert.deepEqual(writer.backlog(), { bytes: 0, dropped: 0 });
  assert.equal(f.retries.length, 0);
});

test('a full descriptor queues the lines in order, without blocking, and a retry writes them', () => {
  const f = fakeFd();
  f.fd.room = 6;
  const writer = new FdLogWriter(2, { write: f.write, schedule: f.schedule });
  writer.write('first\n');
  writer.write('second\n');
  writer.write('third\n');
  assert.equal(f.fd.written, 'first\n');
  assert.equal(writer.backlog().bytes, 13);
  assert.equal(f.retries.length, 1, 'one retry scheduled, not one per line');
  const writesWhileFull = f.fd.writes;
  writer.write('fourth\n');
  assert.equal(f.fd.writes, writesWhileFull, 'no write tried while a retry is pending');
  f.runRetries();
  assert.equal(f.retries.length, 1, 'still full: tried again later');
  f.fd.room = 9; // half a line: a partial write keeps the rest at the head
  f.runRetries();
  assert.equal(f.fd.written, 'first\nsecond\nth');
  f.fd.room = Infinity;
  f.runRetries();
  assert.equal(f.fd.written, 'first\nsecond\nthird\nfourth\n');
  assert.deepEqual(writer.backlog(), { bytes: 0, dropped: 0 });
});

test('past the cap whole lines are dropped, and a line says how many once the reader reads again', () => {
  const f = fakeFd();
  f.fd.room = 0;
  const writer = new FdLogWriter(2, { write: f.write, schedule: f.schedule, maxQueuedBytes: 10 });
  assert.equal(writer.write('12345\n'), true);
  assert.equal(writer.write('abc\n'), true);
  assert.equal(writer.write('dropped\n'), false);
  assert.equal(writer.write('also\n'), false);
  assert.deepEqual(writer.backlog(), { bytes: 10, dropped: 2 });
  f.fd.room = Infinity;
  f.runRetries();
  const [a, b, note] = f.fd.written.trimEnd().split('\n');
  assert.deepEqual([a, b], ['12345', 'abc']);
  const parsed = JSON.parse(note!) as { level: number; msg: string };
  assert.equal(parsed.level, 40);
  assert.match(parsed.msg, /2 lines dropped while the log's reader was not reading/);
  assert.deepEqual(writer.backlog(), { bytes: 0, dropped: 0 });
});

test('flush calls back once the queue is written; flushSync writes what it can at exit', () => {
  const f = fakeFd();
  f.fd.room = 0;
  const writer = new FdLogWriter(2, { write: f.write, schedule: f.schedule });
  writer.write('a\n');
  let flushed = 0;
  writer.flush(() => flushed++);
  assert.equal(flushed, 0);
  f.fd.room = Infinity;
  f.runRetries();
  assert.equal(flushed, 1);
  writer.flush(() => flushed++);
  assert.equal(flushed, 2, 'nothing queued: at once');

  let refusals = 1;
  const exiting = new FdLogWriter(2, {
    write: (fd, data) => (refusals-- > 0 ? eagain() : f.write(fd, data)),
    schedule: f.schedule,
  });
  exiting.write('last words\n');
  exiting.flushSync();
  assert.match(f.fd.written, /last words\n$/);
});

test('an error other than EAGAIN lets the line go and the writer goes on', () => {
  const f = fakeFd();
  let fail = true;
  const writer = new FdLogWriter(2, {
    write: (fd, data) => {
      if (fail) {
        fail = false;
        throw Object.assign(new Error('EPIPE'), { code: 'EPIPE' });
      }
      return f.write(fd, data);
    },
    schedule: f.schedule,
  });
  writer.write('lost\n');
  writer.write('kept\n');
  assert.equal(f.fd.written, 'kept\n');
});

test('a real pipe that nobody reads: the writes do not block, and the lines arrive in order once it is read', () => {
  const dir = mkdtempSync(join(tmpdir(), 'failoverd-fifo-'));
  const fifo = join(dir, 'log');
  try {
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const writerFd = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
    const retries: (() => void)[] = [];
    const writer = new FdLogWriter(writerFd, { schedule: (retry) => retries.push(retry) });
    const lines = Array.from({ length: 5000 }, (_, i) => `${JSON.stringify({ i, pad: 'x'.repeat(40) })}\n`);
    for (const line of lines) writer.write(line);
    assert.ok(writer.backlog().bytes > 0, 'the pipe (64 KiB) filled: the rest waits in memory');
    assert.equal(retries.length, 1);
    let read = '';
    const buffer = Buffer.alloc(65536);
    for (let round = 0; round < 10_000 && read.length < lines.join('').length; round++) {
      try {
        const n = readSync(reader, buffer);
        read += buffer.subarray(0, n).toString();
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      }
      for (const retry of retries.splice(0)) retry();
    }
    assert.equal(read, lines.join(''));
    assert.deepEqual(writer.backlog(), { bytes: 0, dropped: 0 });
    closeSync(writerFd);
    closeSync(reader);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
