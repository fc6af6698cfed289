// The health monitor in a worker thread, behind the part of HealthMonitor's
// interface the agent uses. Under 10,000 checks a second the checks' socket work
// delayed the master's adverts on a shared event loop by 21–35 ms at the p99
// (docs/reliability.md); here the checks run on the worker's loop and the main
// thread only hears what changed (worker-messages.ts):
//   - update() resolves once the worker applied the services, after the status and
//     pools it produced arrived; it rejects with the worker's HealthConfigError;
//   - status() and quorumUp() read a snapshot the worker keeps current on change;
//   - events are republished on the agent's bus in the worker's order, with the
//     worker's timestamps; log lines go to the agent's logger;
//   - onPoolChange gets every service's pool, as from HealthMonitor, but only the
//     changed ones crossed the thread;
//   - check results come as periodic batches (onCheckResults).
// The thread starts with the first service to check: an agent without services (VRRP
// only) never pays for it. A worker that dies is logged, announced on the bus and
// restarted a bounded number of times; its successor resumes every real server from
// the last state the main thread knew, so a bug in a check does not empty pools that
// were serving. A reload that changes the heap the load needs is handed to a new
// thread the same way (heapOutgrown).
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort, type ResourceLimits } from 'node:worker_threads';
import { pino } from 'pino';
import type { EventBus } from '../events.js';
import { exponentialDelay } from '../backoff.js';
import { destinationId, serviceKeyId, type DesiredService } from '../ipvs/types.js';
import type { Logger } from '../log.js';
import { HealthConfigError, type RealServerStatus, type ServiceHead, type ServiceStatus } from './monitor.js';
import { codeRoot } from '../paths.js';
import { checksPerSecond } from './checks-thread.js';
import type { HealthServiceConfig } from './types.js';
import type { CheckResultBatch, FromWorker, MonitorWorkerData, OutboxItem, StatusChange, ToWorker } from './worker-messages.js';
import { SlicedQueue } from '../sliced-queue.js';
import type { TurnGate } from '../turn-gate.js';

export interface RestartPolicy {
  /** Crashes tolerated within `windowMs`; one more and the worker is not restarted. */
  maxRestarts: number;
  windowMs: number;
  /** Delay before the first restart, doubled for each further crash in the window. */
  backoffMs: number;
  maxBackoffMs: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicy = { maxRestarts: 5, windowMs: 10 * 60_000, backoffMs: 250, maxBackoffMs: 30_000 };

export interface WorkerHealthMonitorOptions {
  bus: EventBus;
  logger: Logger;
  /** Every service's desired pool whenever one of them changed (changes coalesced over `poolDelayMs`). */
  onPoolChange: (desired: DesiredService[]) => void;
  /** Check tallies (for metrics) and the last result per real server, every `resultsIntervalMs`. */
  onCheckResults?: (batch: CheckResultBatch) => void;
  /** The worker crashed more often than the restart policy allows and is not restarted. */
  onGiveUp?: (err: Error) => void;
  checksDirectory?: string;
  poolDelayMs?: number;
  resultsIntervalMs?: number;
  maxConcurrentChecks?: number;
  restart?: Partial<RestartPolicy>;
  /** How long stop() waits for the worker to abort its checks before terminating it. */
  stopTimeoutMs?: number;
  /** The longest the worker's messages are handled in one turn of the event loop. Default MESSAGE_SLICE_MS. */
  messageSliceMs?: number;
  /** No slice of them starts when this holds bulk work back (a VRRP deadline is near). */
  turnGate?: Pick<TurnGate, 'waitMs'>;
  /** Reads (deserializes) the worker's next message off its port, in a slice: receiveMessageOnPort. */
  readMessage?: (port: MessagePort) => { message: unknown } | undefined;
}

interface Generation {
  worker: Worker;
  /** The worker's messages, read one at a time (MonitorWorkerData.messages). */
  messages: MessagePort;
  /** Wake-ups not yet followed by a read. */
  unread: number;
  /** A read is queued in the inbox. */
  reading: boolean;
  ready: Promise<void>;
  markReady: () => void;
  stopped: Promise<void>;
  markStopped: () => void;
  exited: Promise<void>;
  pending: Map<number, { resolve: () => void; reject: (err: Error) => void }>;
  /** The heap the thread was started with. */
  limits: ResourceLimits;
  error?: Error;
  hasExited: boolean;
  /** Stopped on purpose (to be replaced with another heap): its exit is not a crash. */
  retired: boolean;
}

/**
 * The longest the main thread spends on the worker's messages in one turn of its event
 * loop. A master that starts with 10,000 real servers coming up gets 2,000 events and
 * log lines a second from the worker; taken a backlog at a time, they held its 20 ms
 * adverts up to 75 ms apart, past the Master_Down_Interval (docs/vrrp.md, run W).
 */
const MESSAGE_SLICE_MS = 5;

const workerUrl = (): URL => pathToFileURL(join(codeRoot(), 'src/health/monitor-worker.js'));

/** From this many checks a second the worker gets a busy thread's heap (workerResourceLimits). */
export const BUSY_WORKER_CHECKS_PER_SECOND = 5000;

/**
 * The worker's heap, sized to the work it is started with. Measured (bench/footprint):
 * its heap holds about 12 MB with 2 real servers, 28 MB with 1,000 and 52 MB with
 * 10,000; the old generation may grow to several times that (a reload may add
 * servers), while a leak in a check ends in a crash and a restart instead of a host
 * out of memory. A young generation of 8 MB instead of V8's default (up to 48 MB)
 * keeps a quiet thread small.
 *
 * A busy thread gets a 2 GB cap and a 32 MB young generation. V8 lets the old
 * generation grow past its live size before collecting it by a factor it takes from
 * the cap: 1.3 for small caps, rising to 4 at 2 GB. With the quiet cap (448 MB at
 * 10,000 real servers) the thread collected its whole old generation every 0.7 s at
 * 10,000 checks/s. Measured with bench/checks/check-load.ts --thread worker (docs/health.md):
 * at 6,000 checks/s the busy limits cut the CPU a check costs by about a quarter for
 * about 100 MB more RSS; at 3,000 by about 15 % for 70 MB; at 1,000 they saved under 3 %
 * of a core for 38 MB. Below 5,000 a second the thread keeps the small heap.
 */
export function workerResourceLimits(realServers: number, checksPerSecond: number): ResourceLimits {
  const guard = 128 + 32 * Math.ceil(realServers / 1000);
  if (checksPerSecond >= BUSY_WORKER_CHECKS_PER_SECOND)
    return { maxOldGenerationSizeMb: Math.max(2048, guard), maxYoungGenerationSizeMb: 32 };
  return { maxOldGenerationSizeMb: guard, maxYoungGenerationSizeMb: 8 };
}

/**
 * Whether a thread started with `running` should be replaced for services that want
 * `wanted`: the load crossed the busy threshold (either way: a busy heap is 150 MB or
 * more of RSS that a quiet load does not need), or the quiet cap grew with the real
 * servers. A cap larger than needed is harmless and kept.
 */
export function heapOutgrown(running: ResourceLimits, wanted: ResourceLimits): boolean {
  return (
    running.maxYoungGenerationSizeMb !== wanted.maxYoungGenerationSizeMb ||
    (running.maxOldGenerationSizeMb ?? 0) < (wanted.maxOldGenerationSizeMb ?? 0)
  );
}

const realServerCount = (services: readonly HealthServiceConfig[]): number => services.reduce((n, s) => n + s.realServers.length, 0);
const heapFor = (services: readonly HealthServiceConfig[]): ResourceLimits =>
  workerResourceLimits(realServerCount(services), checksPerSecond(services));

export class WorkerHealthMonitor {
  private readonly policy: RestartPolicy;
  private current: Generation | undefined;
  /** The generation to send updates to, once it is ready (and, after a restart, re-applied); none before the first service. */
  private live: Promise<Generation> | undefined;
  private services: readonly HealthServiceConfig[] | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private seq = 0;
  private crashes: number[] = [];
  private restartTimer: NodeJS.Timeout | undefined;
  private cancelRestart: ((err: Error) => void) | undefined;
  private stopping: Promise<void> | undefined;
  private snapshot = new Map<string, { head: ServiceHead; realServers: Map<string, RealServerStatus> }>();
  private pools = new Map<string, DesiredService>();
  private poolKeys: string[] = [];
  private readonly inbox: SlicedQueue;

  constructor(private readonly options: WorkerHealthMonitorOptions) {
    this.policy = { ...DEFAULT_RESTART_POLICY, ...options.restart };
    this.inbox = new SlicedQueue(
      options.messageSliceMs ?? MESSAGE_SLICE_MS,
      (err) => options.logger.error({ err }, `health-check worker: handling its message failed: ${(err as Error)?.message ?? String(err)}`),
      options.turnGate ? { gate: options.turnGate } : {},
    );
  }

  /** Whether the thread was started (it is, from the first update with a service on). */
  get started(): boolean {
    return this.live !== undefined;
  }

  /**
   * Starts (first call) or reconfigures monitoring in the worker. Rejects with the
   * worker's HealthConfigError, changing nothing, when the services are wrong.
   * `seed`: as HealthMonitor.update's (the agent's start seeds from the kernel's table).
   */
  update(services: readonly HealthServiceConfig[], seed?: ServiceStatus[]): Promise<void> {
    if (this.stopping) return Promise.reject(new Error('health monitor is stopped'));
    const run = this.queue.then(async () => {
      // Nothing to check and nothing checked yet: the status and the pools are already empty.
      if (!this.live && services.length === 0) {
        this.services = services;
        return;
      }
      if (!this.live) {
        this.live = this.launch('start', services);
        this.live.catch(() => undefined);
      }
      const generation = await this.readyGeneration();
      await this.apply(generation, services, seed);
      this.services = services;
      // Applied first: services the worker refuses change nothing, the thread included.
      if (heapOutgrown(generation.limits, heapFor(services))) await this.replaceForHeap(generation);
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  status(): ServiceStatus[] {
    return [...this.snapshot.values()].map((s) => ({ ...s.head, realServers: [...s.realServers.values()] }));
  }

  quorumUp(service: string): boolean | undefined {
    return this.snapshot.get(service)?.head.quorumUp;
  }

  /** Aborts the checks in flight and ends the thread; nothing of it is left running. */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    clearTimeout(this.restartTimer);
    this.cancelRestart?.(new Error('health monitor is stopped'));
    const generation = this.current;
    if (!generation) return;
    await this.endThread(generation);
    this.failPending(generation, new Error('health monitor is stopped'));
  }

  /** Lets the thread abort its checks and report its last changes, then ends it. */
  private async endThread(generation: Generation): Promise<void> {
    if (generation.hasExited) return;
    generation.worker.postMessage({ kind: 'stop' } satisfies ToWorker);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      generation.stopped,
      generation.exited,
      new Promise<void>((r) => {
        timer = setTimeout(r, this.options.stopTimeoutMs ?? 2000);
      }),
    ]);
    clearTimeout(timer);
    await generation.worker.terminate();
  }

  /**
   * V8 sizes a thread's heap only when the thread starts, so a reload that moved the
   * load across the busy threshold (or added thousands of real servers) gets a new
   * thread, which resumes every real server from the state the old one left, as after
   * a crash. Checks pause for the time the thread takes to start.
   */
  private async replaceForHeap(generation: Generation): Promise<void> {
    generation.retired = true;
    await this.endThread(generation);
    this.failPending(generation, new Error('the health-check worker was replaced'));
    // stop() while the old thread was ending: no successor.
    if (this.stopping) return;
    this.live = this.launch('heap', this.services ?? []);
    this.live.catch(() => undefined);
    await this.readyGeneration();
  }

  // ---- worker generations ---------------------------------------------------

  /**
   * Node alone knows which of the parent's options a worker takes: it refuses V8's
   * (`--max-old-space-size`, `--stack-trace-limit`) and the process-wide ones (`--title`),
   * which workerExecArgv's filter (the options NODE_OPTIONS may hold) lets through. A
   * refusal would leave the agent without checks, so the worker then starts without them.
   */
  private newWorker(data: Omit<MonitorWorkerData, 'messages'>, resourceLimits: ResourceLimits): { worker: Worker; messages: MessagePort } {
    // A channel per attempt: the one handed to a Worker that refused its options may be gone with it.
    const start = (execArgv: string[]): { worker: Worker; messages: MessagePort } => {
      const { port1, port2 } = new MessageChannel();
      try {
        const workerData: MonitorWorkerData = { ...data, messages: port2 };
        const worker = new Worker(workerUrl(), { workerData, transferList: [port2], name: 'failoverd-health', resourceLimits, execArgv });
        return { worker, messages: port1 };
      } catch (err) {
        port1.close();
        throw err;
      }
    };
    try {
      return start(workerExecArgv(process.execArgv));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw err;
      this.options.logger.warn(`health-check worker: ${(err as Error).message}; it starts without the agent's node options`);
      return start([]);
    }
  }

  private spawn(services: readonly HealthServiceConfig[]): Generation {
    const data: Omit<MonitorWorkerData, 'messages'> = {
      logLevel: this.options.logger.level,
      poolDelayMs: this.options.poolDelayMs ?? 50,
      resultsIntervalMs: this.options.resultsIntervalMs ?? 250,
      ...(this.options.checksDirectory ? { checksDirectory: this.options.checksDirectory } : {}),
      ...(this.options.maxConcurrentChecks ? { maxConcurrentChecks: this.options.maxConcurrentChecks } : {}),
    };
    const limits = heapFor(services);
    const { worker, messages } = this.newWorker(data, limits);
    let markReady!: () => void;
    let markStopped!: () => void;
    let markExited!: () => void;
    let failReady!: (err: Error) => void;
    const generation: Generation = {
      worker,
      messages,
      unread: 0,
      reading: false,
      ready: new Promise<void>((resolve, reject) => {
        markReady = resolve;
        failReady = reject;
      }),
      markReady: () => markReady(),
      stopped: new Promise<void>((resolve) => {
        markStopped = resolve;
      }),
      markStopped: () => markStopped(),
      exited: new Promise<void>((resolve) => {
        markExited = resolve;
      }),
      pending: new Map(),
      limits,
      hasExited: false,
      retired: false,
    };
    generation.ready.catch(() => undefined);
    worker.on('message', () => this.wakeUp(generation));
    worker.on('error', (err) => {
      generation.error = err;
    });
    worker.on('exit', (code) => {
      // What the thread said before it ended counts first: its last pools and status are what a successor resumes from.
      this.readAll(generation);
      generation.hasExited = true;
      const err = generation.error ?? new Error(`health-check worker exited with code ${code}`);
      failReady(err);
      markExited();
      this.failPending(generation, err);
      if (generation === this.current && !this.stopping && !generation.retired) this.crashed(err, code);
    });
    this.current = generation;
    return generation;
  }

  /** A new thread: the first (`start`), or one that resumes the services where the last left them. */
  private async launch(why: 'start' | 'crash' | 'heap', services: readonly HealthServiceConfig[]): Promise<Generation> {
    const generation = this.spawn(services);
    await generation.ready;
    if (why === 'start') return generation;
    if (this.services) await this.apply(generation, this.services, this.status());
    const resumed = 'every real server resumes from its last known state';
    if (why === 'crash') {
      this.options.logger.warn(`health-check worker restarted; ${resumed}`);
      this.options.bus.publish({
        type: 'health.worker-restarted',
        object: 'health/worker',
        from: 'crashed',
        to: 'running',
        reason: 'restarted after a crash; real servers resume from their last known state',
        data: { crashes: this.crashes.length },
      });
    } else {
      const heap = `old generation up to ${generation.limits.maxOldGenerationSizeMb} MB, young ${generation.limits.maxYoungGenerationSizeMb} MB`;
      const load = `${Math.round(checksPerSecond(services))} checks/s, ${realServerCount(services)} real servers`;
      this.options.logger.info(`health-check worker restarted with a heap sized to the new load (${load}: ${heap}); ${resumed}`);
      this.options.bus.publish({
        type: 'health.worker-restarted',
        object: 'health/worker',
        from: 'running',
        to: 'running',
        reason: `restarted with a heap sized to the new load (${heap}); real servers resume from their last known state`,
        data: { ...generation.limits },
      });
    }
    return generation;
  }

  private async readyGeneration(): Promise<Generation> {
    // A restart replaces `live`; follow it rather than fail with the crash it replaced.
    for (let attempt = 0; attempt <= this.policy.maxRestarts + 1; attempt++) {
      const live = this.live;
      if (!live) throw new Error('the health-check worker was not started');
      try {
        return await live;
      } catch (err) {
        if (this.live === live) throw err;
      }
    }
    throw new Error('the health-check worker keeps crashing');
  }

  private crashed(err: Error, code: number): void {
    const now = Date.now();
    this.crashes = [...this.crashes.filter((t) => now - t < this.policy.windowMs), now];
    const n = this.crashes.length;
    const window = `${Math.round(this.policy.windowMs / 1000)} s`;
    if (n > this.policy.maxRestarts) {
      const fatal = new Error(
        `the health-check worker crashed ${n} times within ${window} (last: ${err.message}); health checks have stopped`,
      );
      this.options.logger.fatal({ err, exitCode: code }, fatal.message);
      this.options.bus.publish({
        type: 'health.worker-crashed',
        object: 'health/worker',
        from: 'running',
        to: 'failed',
        reason: err.message,
        data: { exitCode: code, crashes: n },
      });
      this.live = Promise.reject(fatal);
      this.live.catch(() => undefined);
      this.options.onGiveUp?.(fatal);
      return;
    }
    const delay = exponentialDelay(n, { initialMs: this.policy.backoffMs, maxMs: this.policy.maxBackoffMs });
    this.options.logger.error(
      { err, exitCode: code, crashes: n },
      `health-check worker crashed: ${err.message}; restarting it in ${delay} ms (crash ${n} of ${this.policy.maxRestarts} allowed within ${window}); real servers will resume from their last known state`,
    );
    this.options.bus.publish({
      type: 'health.worker-crashed',
      object: 'health/worker',
      from: 'running',
      to: 'restarting',
      reason: err.message,
      data: { exitCode: code, crashes: n, restartInMs: delay },
    });
    this.live = new Promise<Generation>((resolve, reject) => {
      this.cancelRestart = reject;
      this.restartTimer = setTimeout(() => {
        this.restartTimer = undefined;
        this.cancelRestart = undefined;
        this.launch('crash', this.services ?? []).then(resolve, reject);
      }, delay);
    });
    this.live.catch(() => undefined);
  }

  private apply(generation: Generation, services: readonly HealthServiceConfig[], seed?: ServiceStatus[]): Promise<void> {
    if (generation.hasExited) return Promise.reject(generation.error ?? new Error('health-check worker has exited'));
    const seq = ++this.seq;
    return new Promise<void>((resolve, reject) => {
      generation.pending.set(seq, { resolve, reject });
      generation.worker.postMessage({ kind: 'update', seq, services, ...(seed ? { seed } : {}) } satisfies ToWorker);
    });
  }

  private failPending(generation: Generation, err: Error): void {
    for (const p of generation.pending.values()) p.reject(err);
    generation.pending.clear();
  }

  // ---- messages ---------------------------------------------------------------

  /** The worker posted a message: one read is queued at a time, so that a message's tasks run before the next is read. */
  private wakeUp(generation: Generation): void {
    generation.unread++;
    if (!generation.reading) this.queueRead(generation);
  }

  private queueRead(generation: Generation): void {
    generation.reading = true;
    this.inbox.push(() => this.readNext(generation));
  }

  private readNext(generation: Generation): void {
    generation.reading = false;
    const m = this.read(generation);
    if (m === 'none') {
      generation.unread = 0;
      return;
    }
    generation.unread--;
    if (m !== 'unreadable') this.receive(generation, m);
    if (generation.unread > 0) this.queueRead(generation);
  }

  /** At the thread's exit: every message it posted, read and handled now, in order. */
  private readAll(generation: Generation): void {
    this.inbox.drain();
    for (let m = this.read(generation); m !== 'none'; m = this.read(generation)) {
      if (m !== 'unreadable') this.receive(generation, m);
      this.inbox.drain();
    }
    generation.unread = 0;
    generation.messages.close();
  }

  private read(generation: Generation): FromWorker | 'none' | 'unreadable' {
    try {
      const got = (this.options.readMessage ?? receiveMessageOnPort)(generation.messages);
      return got === undefined ? 'none' : (got.message as FromWorker);
    } catch (err) {
      this.options.logger.error({ err }, `health-check worker: a message could not be read: ${(err as Error).message}`);
      return 'unreadable';
    }
  }

  /**
   * Queues what a message asks of the main thread (in slices: MESSAGE_SLICE_MS): a batch
   * of changes as one task per event or log line, a pool change as one task per service
   * parsed and one that hands them all over.
   */
  private receive(generation: Generation, m: FromWorker): void {
    if (m.kind === 'changes') {
      this.inbox.push(() => {
        if (!this.stopping) this.applyStatus(m.status);
      });
      for (const item of m.items)
        this.inbox.push(() => {
          if (!this.stopping) this.deliver(item);
        });
      return;
    }
    if (m.kind === 'pools') {
      const changed: DesiredService[] = [];
      for (const json of m.changed)
        this.inbox.push(() => {
          if (!this.stopping) changed.push(JSON.parse(json) as DesiredService);
        });
      this.inbox.push(() => {
        if (!this.stopping) this.applyPools(m.keys, changed);
      });
      return;
    }
    this.inbox.push(() => this.onMessage(generation, m));
  }

  private onMessage(generation: Generation, m: Exclude<FromWorker, { kind: 'changes' | 'pools' }>): void {
    switch (m.kind) {
      case 'ready':
        generation.markReady();
        return;
      case 'stopped':
        generation.markStopped();
        return;
      case 'updated': {
        const p = generation.pending.get(m.seq);
        generation.pending.delete(m.seq);
        if (!p) return;
        if (!m.error) p.resolve();
        else p.reject(m.error.problems ? new HealthConfigError(m.error.problems) : new Error(m.error.message));
        return;
      }
      case 'results':
        // Like HealthMonitor after stop(): nothing more reaches the agent.
        if (!this.stopping) this.options.onCheckResults?.(m.batch);
        return;
    }
  }

  /** An event goes on the agent's bus, a log line to its logger. */
  private deliver(item: OutboxItem): void {
    if ('event' in item) {
      const { id: _id, node: _node, ...event } = item.event;
      this.options.bus.publish(event);
    } else {
      this.relog(item.log);
    }
  }

  private applyStatus(change: StatusChange): void {
    if (change.full) {
      this.snapshot = new Map(
        change.full.map(({ realServers, ...head }) => [
          head.name,
          { head, realServers: new Map(realServers.map((rs) => [destinationId(rs), rs])) },
        ]),
      );
    }
    for (const head of change.heads ?? []) {
      const s = this.snapshot.get(head.name);
      if (s) s.head = head;
    }
    for (const { service, status } of change.realServers ?? []) this.snapshot.get(service)?.realServers.set(destinationId(status), status);
  }

  private applyPools(keys: string[], changed: DesiredService[]): void {
    for (const d of changed) this.pools.set(serviceKeyId(d.service.key), d);
    if (keys.join('\n') !== this.poolKeys.join('\n')) {
      const present = new Set(keys);
      for (const key of [...this.pools.keys()]) if (!present.has(key)) this.pools.delete(key);
      this.poolKeys = keys;
    }
    const desired = this.poolKeys.flatMap((k) => this.pools.get(k) ?? []);
    // A failing consumer must not stop the messages behind this one.
    try {
      this.options.onPoolChange(desired);
    } catch (err) {
      this.options.logger.error({ err }, 'applying the desired pools failed');
    }
  }

  private relog(line: string): void {
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(line) as Record<string, unknown>;
    } catch {
      this.options.logger.info(line.trimEnd());
      return;
    }
    const { level, msg, ...fields } = record;
    const label = pino.levels.labels[Number(level)] ?? 'info';
    const log = (this.options.logger as unknown as Record<string, (obj: object, msg?: string) => void>)[label];
    log?.call(this.options.logger, fields, typeof msg === 'string' ? msg : undefined);
  }
}

/**
 * The parent's Node options, less those about the parent's own entry point: a
 * worker inherits them, and `--input-type` without the `--eval` it went with (which
 * Node does not pass on) stops the worker from starting. V8's own flags
 * (`--single-threaded-gc`, `--trace-gc`) are process-wide and a worker refuses
 * them (ERR_WORKER_INVALID_EXEC_ARGV): only Node's options are passed on.
 */
export function workerExecArgv(argv: readonly string[]): string[] {
  // V8's own flags are not in allowedNodeEnvironmentFlags, except a few that NODE_OPTIONS
  // accepts; of those, the one the packaged realtime drop-in passes is left out here (the
  // others a worker refuses, and it starts without the agent's options, with a warning).
  const refusedByWorkers = new Set(['--expose-gc']);
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-e' || a === '--eval' || a === '-p' || a === '--print' || a === '--input-type') {
      i++;
      continue;
    }
    if (/^(--eval|--print|--input-type)=/.test(a)) continue;
    const name = a.split('=')[0]!.replaceAll('_', '-');
    if (a.startsWith('-') && (!process.allowedNodeEnvironmentFlags.has(name) || refusedByWorkers.has(name))) continue;
    out.push(a);
  }
  return out;
}
