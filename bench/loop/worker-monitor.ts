// A prototype of the design docs/reliability.md proposes: the health monitor in a
// worker thread, behind the part of HealthMonitor's interface the agent uses to
// feed it and hear from it. Pool changes, events and result counts come back as
// messages, so the main thread's loop carries none of the check traffic.
import { Worker } from 'node:worker_threads';
import type { AgentEvent, EventBus } from '../../src/events.js';
import type { HealthServiceConfig } from '../../src/health/types.js';
import type { DesiredService } from '../../src/ipvs/types.js';

export interface WorkerHealthMonitorOptions {
  bus: EventBus;
  /** The pools of the services that changed (coalesced over 50 ms), not every pool. */
  onPoolChange: (changed: DesiredService[]) => void;
  /** Batched: how many results (and timeouts) since the last call. */
  onResults?: (results: number, timeouts: number) => void;
}

type FromWorker =
  | { kind: 'ready' | 'stopped' }
  | { kind: 'pool'; desired: DesiredService[] }
  | { kind: 'event'; event: AgentEvent }
  | { kind: 'results'; results: number; timeouts: number };

export class WorkerHealthMonitor {
  private readonly worker: Worker;
  private readonly ready: Promise<void>;
  private stopped?: Promise<void>;

  constructor(private readonly options: WorkerHealthMonitorOptions) {
    this.worker = new Worker(new URL('./health-worker.js', import.meta.url));
    let ready!: () => void;
    this.ready = new Promise((r) => { ready = r; });
    this.worker.on('message', (m: FromWorker) => {
      if (m.kind === 'ready') ready();
      else if (m.kind === 'pool') this.options.onPoolChange(m.desired);
      else if (m.kind === 'results') this.options.onResults?.(m.results, m.timeouts);
      else if (m.kind === 'event') {
        const { id: _id, node: _node, ...input } = m.event;
        this.options.bus.publish(input);
      }
    });
  }

  async update(services: readonly HealthServiceConfig[]): Promise<void> {
    await this.ready;
    this.worker.postMessage({ kind: 'update', services });
  }

  stop(): Promise<void> {
    this.stopped ??= new Promise<void>((resolve) => {
      this.worker.once('exit', () => resolve());
      this.worker.postMessage({ kind: 'stop' });
      setTimeout(() => { void this.worker.terminate(); }, 5000).unref();
    });
    return this.stopped;
  }
}
