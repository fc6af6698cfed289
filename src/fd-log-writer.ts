// The agent's log lines, written with write(2) straight from the thread that logs them,
// never through libuv's thread pool. Handing a write to the pool (as pino's asynchronous
// destination does, with fs.write) takes locks that the pool's threads, at normal
// scheduling, take too, and perf caught the real-time VRRP thread asleep on one of them
// (in uv__work_done) while a busy CPU kept the holder from running (docs/vrrp.md, runs Y
// and Z). A full pipe or socket does not block either: the descriptor is non-blocking
// (Node makes a pipe or socket on stderr so), a write that meets EAGAIN leaves the bytes
// queued in order, and a timer tries again. Past `maxQueuedBytes`, whole lines are
// dropped and counted, and a line says how many once writing resumes.
import { writeSync } from 'node:fs';

export interface FdLogWriterOptions {
  /** How many bytes may wait for a full pipe or socket before lines are dropped (default 8 MiB). */
  maxQueuedBytes?: number;
  /** How soon to try again after EAGAIN (default 10 ms). */
  retryMs?: number;
  /** write(2); for tests. Returns the bytes written; throws EAGAIN when none could be. */
  write?: (fd: number, data: Buffer) => number;
  /** How long to wait for room with the process exiting (default 1000 ms). */
  exitFlushMs?: number;
  /** Runs `retry` in `ms` (default an unref'd setTimeout); for tests. */
  schedule?: (retry: () => void, ms: number) => void;
}

export class FdLogWriter {
  private readonly queue: Buffer[] = [];
  private queuedBytes = 0;
  private dropped = 0;
  private retrying = false;
  private flushCallbacks: (() => void)[] = [];
  private readonly maxQueuedBytes: number;
  private readonly retryMs: number;
  private readonly exitFlushMs: number;
  private readonly writeFd: (fd: number, data: Buffer) => number;
  private readonly schedule: (retry: () => void, ms: number) => void;

  constructor(
    private readonly fd: number,
    options: FdLogWriterOptions = {},
  ) {
    this.maxQueuedBytes = options.maxQueuedBytes ?? 8 * 1024 * 1024;
    this.retryMs = options.retryMs ?? 10;
    this.exitFlushMs = options.exitFlushMs ?? 1000;
    this.writeFd = options.write ?? ((fd, data) => writeSync(fd, data));
    this.schedule = options.schedule ?? ((retry, ms) => setTimeout(retry, ms).unref());
  }

  /** pino's destination interface: one log line. */
  write(line: string): boolean {
    const data = Buffer.from(line);
    if (this.queuedBytes + data.length > this.maxQueuedBytes) {
      this.dropped++;
      return false;
    }
    this.queue.push(data);
    this.queuedBytes += data.length;
    if (!this.retrying) this.drain();
    return true;
  }

  /** Calls back once everything queued is written (pino's logger.flush). */
  flush(callback: () => void = () => undefined): void {
    if (!this.retrying) this.drain();
    if (this.queue.length === 0) callback();
    else this.flushCallbacks.push(callback);
  }

  /** At exit: waits for room (a bounded time) until everything is written. */
  flushSync(): void {
    const until = performance.now() + this.exitFlushMs;
    const pause = new Int32Array(new SharedArrayBuffer(4));
    for (let round = 0; round < 100_000 && this.queue.length > 0 && performance.now() < until; round++) {
      if (!this.writeOnce()) Atomics.wait(pause, 0, 0, 1);
    }
  }

  /** Bytes waiting for room, and lines dropped so far (for tests and diagnostics). */
  backlog(): { bytes: number; dropped: number } {
    return { bytes: this.queuedBytes, dropped: this.dropped };
  }

  private drain(): void {
    this.retrying = false;
    while (this.queue.length > 0) {
      if (!this.writeOnce()) {
        this.retrying = true;
        this.schedule(() => this.drain(), this.retryMs);
        return;
      }
    }
    if (this.dropped > 0) {
      const note = Buffer.from(
        `${JSON.stringify({ level: 40, time: Date.now(), pid: process.pid, msg: `log: ${this.dropped} lines dropped while the log's reader was not reading` })}\n`,
      );
      this.dropped = 0;
      this.queue.push(note);
      this.queuedBytes += note.length;
      this.drain();
      return;
    }
    const callbacks = this.flushCallbacks;
    this.flushCallbacks = [];
    for (const callback of callbacks) callback();
  }

  /** Writes from the head of the queue; false when the descriptor has no room (EAGAIN). */
  private writeOnce(): boolean {
    const head = this.queue[0]!;
    let written: number;
    try {
      written = this.writeFd(this.fd, head);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return false;
      // Nowhere to report it (this is the log): the line is let go, as a closed stderr would.
      written = head.length;
    }
    if (written <= 0) return false;
    this.queuedBytes -= written;
    if (written >= head.length) this.queue.shift();
    else this.queue[0] = head.subarray(written);
    return true;
  }
}
