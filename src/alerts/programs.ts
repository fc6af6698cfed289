import { childEnvironment, runChild } from '../children.js';
import { systemClock, type Clock } from '../clock.js';
import type { AgentEvent, EventBus } from '../events.js';
import { silentLogger, type Logger } from '../log.js';
import { instanceArguments, notifyDispatcher, notifyEventTypes, type NotifyTarget } from './notify-dispatch.js';

/** One program to run on transitions, as the config maps `alerts.notify[]` to it. */
export interface NotifyHookConfig {
  /** Absolute path of an executable; run directly, never through a shell. */
  program: string;
  /** Event type patterns with `*` wildcards; default ["*"]. */
  events?: string[];
  /**
   * Per run, default 10000; then the program's whole process group gets SIGTERM, and SIGKILL 1 s later.
   * When the program exits on its own its group is killed too (src/children.ts).
   */
  timeoutMs?: number;
  /** Runs waiting per object beyond this many are dropped, oldest first; default 100. */
  queueSize?: number;
  /**
   * A keepalived-style hook of one instance, sync group, service or real server: it runs
   * the commands notify-dispatch.ts picks per event (in order, each with its own argv)
   * instead of `program` with instanceArguments (keepalived's INSTANCE NAME STATE PRIORITY); `events` is then ignored.
   */
  target?: NotifyTarget;
}

export interface NotifyHookStats {
  program: string;
  runs: number;
  /** Runs that exited non-zero or could not start. */
  failures: number;
  timeouts: number;
  dropped: number;
  queued: number;
}

const KILL_GRACE_MS = 1000;
const OUTPUT_LIMIT = 4096;

export function notifyEnvironment(event: AgentEvent): Record<string, string> {
  return {
    FAILOVERD_EVENT_ID: event.id,
    FAILOVERD_EVENT_TYPE: event.type,
    FAILOVERD_NODE: event.node,
    FAILOVERD_OBJECT: event.object,
    FAILOVERD_FROM: event.from ?? '',
    FAILOVERD_TO: event.to ?? '',
    FAILOVERD_REASON: event.reason ?? '',
    FAILOVERD_TIME: event.time,
  };
}

export interface NotifyRunResult {
  event: AgentEvent;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  error?: string;
  output: string;
  /** The argv that ran (program first). */
  argv: string[];
}

interface QueuedRun {
  event: AgentEvent;
  argv: string[];
}
type RunQueue = { runs: QueuedRun[]; running: boolean };

export interface NotifyRunnerOptions {
  clock?: Clock;
  logger?: Logger;
  /** Called after each run (tests, metrics). */
  onResult?: (hook: NotifyHookConfig, result: NotifyRunResult) => void;
}

/**
 * Runs notify programs: strictly one at a time and in order per (hook, object), so a
 * script never sees BACKUP after MASTER for the same instance out of order. Objects
 * run independently of each other. Spawning is asynchronous; publishing only enqueues.
 */
export class NotifyRunner {
  private readonly queues = new Map<string, RunQueue>();
  private readonly counters = new Map<NotifyHookConfig, Omit<NotifyHookStats, 'program' | 'queued'>>();
  private readonly unsubscribe: Array<() => void> = [];
  private readonly abort = new AbortController();
  private readonly idleWaiters: Array<() => void> = [];
  private closed = false;
  private readonly clock: Clock;
  private readonly logger: Logger;

  constructor(
    bus: EventBus,
    private readonly hooks: NotifyHookConfig[],
    private readonly options: NotifyRunnerOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger();
    hooks.forEach((hook, index) => {
      this.counters.set(hook, { runs: 0, failures: 0, timeouts: 0, dropped: 0 });
      if (hook.target) {
        // One target is one object: its runs share one queue, so they keep their order.
        const dispatch = notifyDispatcher(hook.target);
        this.unsubscribe.push(
          bus.subscribe(notifyEventTypes(hook.target), (event) => {
            for (const argv of dispatch(event)) this.enqueue(index, `${index}\0target`, { event, argv });
          }),
        );
        return;
      }
      const patterns = hook.events?.length ? hook.events : ['*'];
      this.unsubscribe.push(
        bus.subscribe(patterns, (event) =>
          this.enqueue(index, `${index}\0${event.object}`, { event, argv: [hook.program, ...instanceArguments(event)] }),
        ),
      );
    });
  }

  stats(): NotifyHookStats[] {
    return this.hooks.map((hook, index) => {
      let queued = 0;
      for (const [key, q] of this.queues) if (key.startsWith(`${index}\0`)) queued += q.runs.length;
      return { program: hook.program, ...this.counters.get(hook)!, queued };
    });
  }

  /** Resolves when no run is queued or running. */
  idle(): Promise<void> {
    if ([...this.queues.values()].every((q) => !q.running)) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops taking events; running programs' process groups are killed. */
  close(): void {
    this.closed = true;
    for (const off of this.unsubscribe.splice(0)) off();
    this.abort.abort();
    for (const q of this.queues.values()) q.runs.length = 0;
  }

  private enqueue(hookIndex: number, key: string, run: QueuedRun): void {
    if (this.closed) return;
    const hook = this.hooks[hookIndex]!;
    let queue = this.queues.get(key);
    if (!queue) this.queues.set(key, (queue = { runs: [], running: false }));
    if (queue.runs.length >= Math.max(1, hook.queueSize ?? 100)) {
      queue.runs.shift();
      this.counters.get(hook)!.dropped++;
    }
    queue.runs.push(run);
    if (!queue.running) {
      queue.running = true;
      setImmediate(() => {
        void this.drain(hook, key, queue);
      });
    }
  }

  private async drain(hook: NotifyHookConfig, key: string, queue: RunQueue): Promise<void> {
    try {
      while (!this.closed && queue.runs.length) {
        // A spawn that fails reports on the next tick, so without this turn a burst of
        // failing runs would chain through microtasks and starve timers and sockets.
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (this.closed) break;
        const { event, argv } = queue.runs.shift()!;
        const result = await this.run(hook, event, argv);
        const counters = this.counters.get(hook)!;
        counters.runs++;
        if (result.timedOut) counters.timeouts++;
        if (result.timedOut || result.error || result.exitCode !== 0) {
          counters.failures++;
          this.logger.warn(
            {
              program: argv[0],
              event: event.id,
              type: event.type,
              exitCode: result.exitCode,
              signal: result.signal,
              timedOut: result.timedOut,
              err: result.error,
              output: result.output,
            },
            'notify program failed',
          );
        }
        try {
          this.options.onResult?.(hook, result);
        } catch (err) {
          this.logger.error({ err }, 'notify result handler threw');
        }
      }
    } finally {
      queue.running = false;
      this.queues.delete(key);
      if ([...this.queues.values()].every((q) => !q.running)) {
        for (const resolve of this.idleWaiters.splice(0)) resolve();
      }
    }
  }

  private async run(hook: NotifyHookConfig, event: AgentEvent, argv: string[]): Promise<NotifyRunResult> {
    const run = await runChild(argv[0]!, {
      args: argv.slice(1),
      env: childEnvironment(notifyEnvironment(event)),
      stdin: `${JSON.stringify(event)}\n`,
      timeoutMs: hook.timeoutMs ?? 10_000,
      killGraceMs: KILL_GRACE_MS,
      signal: this.abort.signal,
      outputLimit: OUTPUT_LIMIT,
      setTimer: (delayMs, fn) => this.clock.setTimer(delayMs, fn),
    });
    return {
      event,
      argv,
      exitCode: run.exitCode,
      signal: run.signal,
      timedOut: run.timedOut,
      output: run.output,
      ...(run.error !== undefined ? { error: run.error } : {}),
    };
  }
}
