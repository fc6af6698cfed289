// Routing mode, assembled from the config: the host preparation, one announcement per
// `routing.announce` entry, and the maintenance marker watched on the clock. Every I/O
// comes in as a parameter; the agent passes the kernel's, tests pass fakes.
import type { Clock, TimerHandle } from '../clock.js';
import type { RoutingConfig, ServiceConfig } from '../config/schema.js';
import { Announcer, type AnnouncementSpec, type AnnouncementStatus, type AnnouncerDeps } from './announcer.js';
import { applyRoutingHost, routingHostPlan, type RoutingHostIo } from './host.js';

const MAINTENANCE_POLL_MS = 1000;

export function announcementSpecs(routing: RoutingConfig, services: ServiceConfig[]): AnnouncementSpec[] {
  return routing.announce.map((a) => ({
    name: a.name,
    vips: a.vips,
    services: a.services ?? services.filter((s) => s.vip !== undefined && a.vips.includes(s.vip)).map((s) => s.name),
    convergeMs: a.converge,
    adoptGraceMs: a.adopt_grace,
  }));
}

export interface RoutingDeps extends Omit<AnnouncerDeps, 'inMaintenance'> {
  clock: Clock;
  host: RoutingHostIo;
  fileExists: (path: string) => boolean;
}

export class Routing {
  private readonly announcer: Announcer;
  private poll: TimerHandle | undefined;
  private maintenance = false;
  private stopped = false;

  constructor(
    private readonly config: RoutingConfig,
    services: ServiceConfig[],
    private readonly deps: RoutingDeps,
  ) {
    this.announcer = new Announcer(announcementSpecs(config, services), { ...deps, inMaintenance: () => this.maintenance });
  }

  async start(): Promise<void> {
    const changes = await applyRoutingHost(routingHostPlan(this.config), this.deps.host);
    for (const c of changes) this.deps.logger.info(`routing mode: ${c}`);
    this.maintenance = this.readMaintenance();
    await this.announcer.start();
    if (this.config.maintenance_file) this.armPoll();
  }

  private readMaintenance(): boolean {
    return this.config.maintenance_file !== undefined && this.deps.fileExists(this.config.maintenance_file);
  }

  private armPoll(): void {
    this.poll = this.deps.clock.setTimer(MAINTENANCE_POLL_MS, () => {
      if (this.stopped) return;
      const now = this.readMaintenance();
      if (now !== this.maintenance) {
        this.maintenance = now;
        this.deps.logger.info(
          `routing: maintenance file ${this.config.maintenance_file} ${now ? 'appeared: withdrawing' : 'gone: announcing when healthy'}`,
        );
        this.announcer.evaluate();
      }
      this.armPoll();
    });
  }

  /** A gating input changed (quorum). */
  evaluate(): void {
    if (!this.stopped) this.announcer.evaluate();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.poll?.cancel();
    await this.announcer.stop();
  }

  async withdrawAll(): Promise<void> {
    this.stopped = true;
    this.poll?.cancel();
    await this.announcer.withdrawAll();
  }

  status(): AnnouncementStatus[] {
    return this.announcer.status();
  }
}
