// Runs one announcement per `routing.announce` entry: feeds the reducer
// (announce-state.ts) with the health gate, arms its timers on the injected clock,
// and carries out its actions on the injected route I/O. Every announce and withdraw
// is an event on the bus (webhooks, notify programs, metrics, logs).
import { isDeepStrictEqual } from 'node:util';
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
  /** The kernel's announcement routes; a reload that changes the table or protocol moves them (moveRoutes). */
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
    public spec: AnnouncementSpec,
    private readonly deps: AnnouncerDeps,
    private readonly routes: () => RouteIo,
  ) {
    this.since = deps.clock.wallNow();
  }

  get announced(): boolean {
    return this.state.announced;
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
      case 'withdraw': {
        const vips = this.spec.vips;
        this.queue = this.queue.then(() => this.change(action.kind, action.reason, vips));
        break;
      }
      case 'stopped':
        // The converge wait starts when the withdraw is in the kernel; stopping waits for both.
        void this.queue.then(() => {
          for (const w of this.stoppedWaiters.splice(0)) w();
        });
        break;
    }
  }

  /**
   * A reload changed the spec. The state stays (no withdraw/announce of what is kept);
   * while announced, VIPs that joined are announced and VIPs that left are withdrawn.
   * The gate is read again by the caller (the gating services may have changed).
   */
  update(spec: AnnouncementSpec): void {
    const before = this.spec.vips;
    this.spec = spec;
    if (!this.state.announced) return;
    const added = spec.vips.filter((v) => !before.includes(v));
    const removed = before.filter((v) => !spec.vips.includes(v));
    if (added.length) this.queue = this.queue.then(() => this.change('announce', 'added to the announcement on reload', added));
    if (removed.length) this.queue = this.queue.then(() => this.change('withdraw', 'removed from the announcement on reload', removed));
  }

  /** A reload moved the routes to another table or protocol: the new route goes in before the old one goes. */
  moveRoutes(from: RouteIo, to: RouteIo): Promise<void> {
    if (!this.state.announced) return this.queue;
    const vips = this.spec.vips;
    this.queue = this.queue.then(async () => {
      for (const vip of vips) {
        try {
          await to.add(vip);
          await from.remove(vip);
        } catch (err) {
          this.deps.logger.error(`routing ${this.spec.name}: moving ${hostPrefix(vip)} to the new table failed: ${(err as Error).message}`);
        }
      }
    });
    return this.queue;
  }

  /** Settles once every route change asked for so far is done. */
  settled(): Promise<void> {
    return this.queue;
  }

  private async change(kind: 'announce' | 'withdraw', reason: string, vips: string[]): Promise<void> {
    const { bus, logger } = this.deps;
    const routes = this.routes();
    const failed: string[] = [];
    for (const vip of vips) {
      try {
        if (kind === 'announce') await routes.add(vip);
        else await routes.remove(vip);
      } catch (err) {
        failed.push(`${hostPrefix(vip)}: ${(err as Error).message}`);
      }
    }
    const prefixes = vips.map(hostPrefix);
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
    const vips = this.spec.vips;
    if (wasAnnounced) this.queue = this.queue.then(() => this.change('withdraw', 'agent fault (last resort)', vips));
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
  private readonly announcements = new Map<string, Announcement>();
  /** Announcements a reload removed, until their withdraw is in the kernel. */
  private readonly retiring = new Set<Announcement>();
  private routes: RouteIo;

  constructor(
    specs: AnnouncementSpec[],
    private readonly deps: AnnouncerDeps,
  ) {
    this.routes = deps.routes;
    for (const s of specs) this.announcements.set(s.name, this.newAnnouncement(s));
  }

  private newAnnouncement(spec: AnnouncementSpec): Announcement {
    return new Announcement(spec, this.deps, () => this.routes);
  }

  /** Adopts what the kernel already holds (no withdraw/announce on an agent restart), then gates. */
  async start(): Promise<void> {
    await this.adopt([...this.announcements.values()]);
    this.evaluate();
  }

  private async adopt(announcements: Announcement[]): Promise<void> {
    if (announcements.length === 0) return;
    const present = new Set(await this.routes.list());
    for (const a of announcements) {
      a.dispatch({ kind: 'start', present: a.spec.vips.some((v) => present.has(hostPrefix(v))) });
    }
  }

  /**
   * A reload: announcements are matched by name. A removed one is withdrawn, a new one
   * starts as at agent start (adopting a route already in the kernel), a changed one
   * keeps its state and changes only what differs; an unchanged one is not touched.
   * Then the gate is read again for all of them.
   */
  async update(specs: AnnouncementSpec[]): Promise<void> {
    const names = new Set(specs.map((s) => s.name));
    for (const [name, a] of this.announcements) {
      if (names.has(name)) continue;
      this.announcements.delete(name);
      this.retiring.add(a);
      a.dispatch({ kind: 'retire', reason: 'removed from the config (reload)' });
      void a.settled().then(() => this.retiring.delete(a));
    }
    const added: Announcement[] = [];
    const next = new Map<string, Announcement>();
    for (const spec of specs) {
      let a = this.announcements.get(spec.name);
      if (!a) {
        a = this.newAnnouncement(spec);
        added.push(a);
      } else if (!isDeepStrictEqual(a.spec, spec)) {
        a.update(spec);
      }
      next.set(spec.name, a);
    }
    this.announcements.clear();
    for (const [name, a] of next) this.announcements.set(name, a);
    await this.adopt(added);
    this.evaluate();
  }

  /** A reload changed routing.table or routing.protocol: announced routes move to the new mark. */
  async moveRoutes(to: RouteIo): Promise<void> {
    const from = this.routes;
    this.routes = to;
    await Promise.all([...this.announcements.values()].map((a) => a.moveRoutes(from, to)));
    from.close();
  }

  /** Re-reads the gate (a quorum change, the maintenance marker). */
  evaluate(): void {
    for (const a of this.announcements.values()) a.dispatch({ kind: 'gate', verdict: a.verdict() });
  }

  /** SIGTERM: withdraw every announcement, keep serving for its converge time, then resolve. */
  async stop(): Promise<void> {
    const all = [...this.announcements.values()];
    for (const a of all) a.dispatch({ kind: 'stop' });
    await Promise.all([...all.map((a) => a.stopped()), ...[...this.retiring].map((a) => a.settled())]);
    this.routes.close();
  }

  /** The last-resort path: withdraw at once. */
  async withdrawAll(): Promise<void> {
    await Promise.all([...this.announcements.values(), ...this.retiring].map((a) => a.withdrawNow()));
  }

  /** Resolves once every route change asked for so far is in the kernel. */
  async settled(): Promise<void> {
    await Promise.all([...this.announcements.values(), ...this.retiring].map((a) => a.settled()));
  }

  status(): AnnouncementStatus[] {
    return [...this.announcements.values()].map((a) => a.status());
  }
}
