// Runs one announcement per `routing.announce` entry: feeds the reducer
// (announce-state.ts) with the health gate, arms its timers on the injected clock,
// and carries out its actions on the injected route I/O. Every announce and withdraw
// is an event on the bus (webhooks, notify programs, metrics, logs).
import type { Clock, TimerHandle } from '../clock.js';
import type { EventBus } from '../events.js';
import type { Logger } from '../log.js';
import {
  gateVerdict,
  initialAnnounceState,
  reduceAnnounce,
  type AnnounceAction,
  type AnnounceInput,
  type AnnounceState,
  type GateVerdict,
} from './announce-state.js';
import { hostPrefix, type RouteIo } from './kernel-route.js';

export interface AnnouncementSpec {
  name: string;
  vips: string[];
  /** Services that must have quorum for the VIPs to be announced. */
  services: string[];
  /** SIGTERM: how long to keep serving after the withdraw, for the router to converge. */
  convergeMs: number;
  /** At start, how long an adopted route waits for the gate before it is withdrawn. */
  adoptGraceMs: number;
}

export interface AnnouncementStatus {
  name: string;
  vips: string[];
  announced: boolean;
  phase: AnnounceState['phase'];
  reason: string;
  since: string;
}

export interface AnnouncerDeps {
  clock: Clock;
  bus: EventBus;
  logger: Logger;
  routes: RouteIo;
  /** A service's quorum; undefined while the monitor does not know it. */
  quorumUp: (service: string) => boolean | undefined;
  /** The operator's maintenance marker is present. */
  inMaintenance: () => boolean;
}

class Announcement {
  private state: AnnounceState = initialAnnounceState;
  private since: Date;
  private timers = new Map<string, TimerHandle>();
  private stoppedWaiters: (() => void)[] = [];
  /** Route changes run one after another, in the order the reducer asked for them. */
  private queue: Promise<void> = Promise.resolve();

  constructor(
    readonly spec: AnnouncementSpec,
    private readonly deps: AnnouncerDeps,
  ) {
    this.since = deps.clock.wallNow();
  }

  dispatch(input: AnnounceInput): void {
    const before = this.state;
    const { state, actions } = reduceAnnounce(this.state, input);
    this.state = state;
    if (state.phase !== before.phase || state.announced !== before.announced) this.since = this.deps.clock.wallNow();
    for (const action of actions) this.run(action);
  }

  private run(action: AnnounceAction): void {
    const { clock } = this.deps;
    switch (action.kind) {
      case 'arm': {
        const ms = action.timer === 'adopt' ? this.spec.adoptGraceMs : this.spec.convergeMs;
        this.timers.get(action.timer)?.cancel();
        this.timers.set(
          action.timer,
          clock.setTimer(ms, () => {
            this.timers.delete(action.timer);
            this.dispatch({ kind: action.timer === 'adopt' ? 'adopt-expired' : 'converged' });
          }),
        );
        break;
      }
      case 'disarm':
        this.timers.get(action.timer)?.cancel();
        this.timers.delete(action.timer);
        break;
      case 'announce':
      case 'withdraw':
        this.queue = this.queue.then(() => this.change(action.kind, action.reason));
        break;
      case 'stopped':
        // The converge wait starts when the withdraw is in the kernel; stopping waits for both.
        void this.queue.then(() => {
          for (const w of this.stoppedWaiters.splice(0)) w();
        });
        break;
    }
  }

  private async change(kind: 'announce' | 'withdraw', reason: string): Promise<void> {
    const { routes, bus, logger } = this.deps;
    const failed: string[] = [];
    for (const vip of this.spec.vips) {
      try {
        if (kind === 'announce') await routes.add(vip);
        else await routes.remove(vip);
      } catch (err) {
        failed.push(`${hostPrefix(vip)}: ${(err as Error).message}`);
      }
    }
    const prefixes = this.spec.vips.map(hostPrefix);
    if (failed.length) logger.error(`routing ${this.spec.name}: ${kind} failed for ${failed.join('; ')}`);
    const type = kind === 'announce' ? 'route.announced' : 'route.withdrawn';
    logger.info(
      { announcement: this.spec.name, prefixes, reason },
      `routing ${this.spec.name}: ${kind === 'announce' ? 'announced' : 'withdrew'} ${prefixes.join(', ')} (${reason})`,
    );
    bus.publish({
      type,
      object: `route/${this.spec.name}`,
      from: kind === 'announce' ? 'withdrawn' : 'announced',
      to: kind === 'announce' ? 'announced' : 'withdrawn',
      reason,
      data: { prefixes, ...(failed.length ? { errors: failed } : {}) },
    });
  }

  /** Resolves once stopped and the withdraw (if any) is in the kernel. */
  stopped(): Promise<void> {
    if (this.state.phase === 'stopped') return this.queue;
    return new Promise((resolve) => this.stoppedWaiters.push(resolve));
  }

  /** The crash path: withdraw now, without the converge wait. */
  async withdrawNow(): Promise<void> {
    for (const t of this.timers.values()) t.cancel();
    this.timers.clear();
    const wasAnnounced = this.state.announced;
    this.state = { ...this.state, phase: 'stopped', announced: false, reason: 'withdrawn after a fault' };
    if (wasAnnounced) this.queue = this.queue.then(() => this.change('withdraw', 'agent fault (last resort)'));
    await this.queue;
  }

  cancelTimers(): void {
    for (const t of this.timers.values()) t.cancel();
    this.timers.clear();
  }

  status(): AnnouncementStatus {
    return {
      name: this.spec.name,
      vips: this.spec.vips,
      announced: this.state.announced,
      phase: this.state.phase,
      reason: this.state.reason,
      since: this.since.toISOString(),
    };
  }

  verdict(): GateVerdict {
    return gateVerdict({
      services: this.spec.services.map((name) => ({ name, quorumUp: this.deps.quorumUp(name) })),
      maintenance: this.deps.inMaintenance(),
    });
  }
}

export class Announcer {
  private readonly announcements: Announcement[];

  constructor(
    specs: AnnouncementSpec[],
    private readonly deps: AnnouncerDeps,
  ) {
    this.announcements = specs.map((s) => new Announcement(s, deps));
  }

  /** Adopts what the kernel already holds (no withdraw/announce on an agent restart), then gates. */
  async start(): Promise<void> {
    const present = new Set(await this.deps.routes.list());
    for (const a of this.announcements) {
      a.dispatch({ kind: 'start', present: a.spec.vips.some((v) => present.has(hostPrefix(v))) });
    }
    this.evaluate();
  }

  /** Re-reads the gate (a quorum change, the maintenance marker). */
  evaluate(): void {
    for (const a of this.announcements) a.dispatch({ kind: 'gate', verdict: a.verdict() });
  }

  /** SIGTERM: withdraw every announcement, keep serving for its converge time, then resolve. */
  async stop(): Promise<void> {
    for (const a of this.announcements) a.dispatch({ kind: 'stop' });
    await Promise.all(this.announcements.map((a) => a.stopped()));
    this.deps.routes.close();
  }

  /** The last-resort path: withdraw at once. */
  async withdrawAll(): Promise<void> {
    await Promise.all(this.announcements.map((a) => a.withdrawNow()));
  }

  status(): AnnouncementStatus[] {
    return this.announcements.map((a) => a.status());
  }
}
