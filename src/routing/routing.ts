// Routing mode, assembled from the config: the host preparation, one announcement per
// `routing.announce` entry, and the maintenance marker watched on the clock. Every I/O
// comes in as a parameter; the agent passes the kernel's, tests pass fakes. A reload
// (SIGHUP) hands the new config to update(): what did not change is not touched.
import { isDeepStrictEqual } from 'node:util';
import type { Clock, TimerHandle } from '../clock.js';
import type { RoutingConfig, ServiceConfig } from '../config/schema.js';
import { Announcer, type AnnouncementSpec, type AnnouncementStatus, type AnnouncerDeps } from './announcer.js';
import { gatingServices } from './gating.js';
import { applyRoutingHost, releasedVips, routingHostPlan, type RoutingHostIo } from './host.js';
import type { RouteIo, RouteMark } from './kernel-route.js';

const MAINTENANCE_POLL_MS = 1000;

export function announcementSpecs(routing: RoutingConfig, services: ServiceConfig[]): AnnouncementSpec[] {
  return routing.announce.map((a) => ({
    name: a.name,
    vips: a.vips,
    services: gatingServices(a, services),
    convergeMs: a.converge,
    adoptGraceMs: a.adopt_grace,
  }));
}

/** Routing mode's I/O: the kernel's for `failoverd run` (routing/system.ts), fakes in tests. */
export interface RoutingIo {
  /** The announcement routes marked with this table and protocol. */
  openRoutes: (mark: RouteMark) => RouteIo;
  host: RoutingHostIo;
  fileExists: (path: string) => boolean;
}

export type RoutingDeps = Omit<AnnouncerDeps, 'inMaintenance' | 'routes'> & RoutingIo & { clock: Clock };

const markOf = (config: RoutingConfig): RouteMark => ({ table: config.table, protocol: config.protocol });

export class Routing {
  private readonly announcer: Announcer;
  private config: RoutingConfig;
  private poll: TimerHandle | undefined;
  private maintenance = false;
  private stopped = false;
  /** VIPs a reload took out of routing, waiting for the router to converge before they are released. */
  private readonly releasing = new Map<string, TimerHandle>();

  constructor(
    config: RoutingConfig,
    services: ServiceConfig[],
    private readonly deps: RoutingDeps,
  ) {
    this.config = config;
    this.announcer = new Announcer(announcementSpecs(config, services), {
      ...deps,
      routes: deps.openRoutes(markOf(config)),
      inMaintenance: () => this.maintenance,
    });
  }

  async start(): Promise<void> {
    await this.prepare(this.config);
    this.maintenance = this.readMaintenance();
    await this.announcer.start();
    this.armPoll();
  }

  /**
   * The host side of `config` (the VIPs held on their interface, the ARP and sloppy
   * sysctls): idempotent, and the part of a reload that can fail (a missing interface),
   * so the agent runs it before it commits a reload and refuses the reload when it throws;
   * a reload refused after it runs this again with the running config. On a reload the
   * running config is `this.config` still (update() comes after).
   */
  async prepare(config: RoutingConfig): Promise<void> {
    const changes = await applyRoutingHost(routingHostPlan(config, this.config), this.deps.host);
    for (const c of changes) this.deps.logger.info(`routing mode: ${c}`);
  }

  /**
   * A reload: announcements are added, removed or changed by name without touching the
   * unchanged ones; a new table or protocol moves the announced routes; a new
   * maintenance_file is read at once. The host side was applied by prepare().
   */
  async update(config: RoutingConfig, services: ServiceConfig[]): Promise<void> {
    if (this.stopped) return;
    const before = this.config;
    this.config = config;
    if (!isDeepStrictEqual(markOf(before), markOf(config))) {
      this.deps.logger.info(
        `routing: announcements move from table ${before.table} proto ${before.protocol} to table ${config.table} proto ${config.protocol}`,
      );
      await this.announcer.moveRoutes(this.deps.openRoutes(markOf(config)));
    }
    if (before.maintenance_file !== config.maintenance_file) {
      this.poll?.cancel();
      this.poll = undefined;
      this.maintenance = this.readMaintenance();
      this.armPoll();
    }
    await this.announcer.update(announcementSpecs(config, services));
    this.releaseLater(releasedVips(before, config));
  }

  /**
   * A VIP the config no longer announces leaves its interface once its withdraw is in
   * the kernel and the router had the entry's converge time: the flows the router still
   * sends meanwhile are served. A reload that brings it back before then keeps it.
   */
  private releaseLater(vips: ReturnType<typeof releasedVips>): void {
    for (const v of vips) {
      const id = `${v.address}@${v.interface}`;
      this.releasing.get(id)?.cancel();
      void this.announcer.settled().then(() => {
        if (this.stopped) return;
        this.releasing.set(
          id,
          this.deps.clock.setTimer(v.convergeMs, () => {
            this.releasing.delete(id);
            if (this.stopped || routingHostPlan(this.config).vips.some((h) => `${h.address}@${h.interface}` === id)) return;
            this.deps.host.releaseAddress(v.address, v.interface).then(
              () => this.deps.logger.info(`routing: released ${v.address} from ${v.interface} (no longer announced)`),
              (err: Error) => this.deps.logger.error(`routing: releasing ${v.address} from ${v.interface} failed: ${err.message}`),
            );
          }),
        );
      });
    }
  }

  private readMaintenance(): boolean {
    return this.config.maintenance_file !== undefined && this.deps.fileExists(this.config.maintenance_file);
  }

  private armPoll(): void {
    if (this.config.maintenance_file === undefined) return;
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

  /** Resolves once every route change asked for so far is in the kernel. */
  settled(): Promise<void> {
    return this.announcer.settled();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.poll?.cancel();
    this.cancelReleases();
    await this.announcer.stop();
  }

  async withdrawAll(): Promise<void> {
    this.stopped = true;
    this.poll?.cancel();
    this.cancelReleases();
    await this.announcer.withdrawAll();
  }

  /** Stopping keeps the VIPs (as for every announcement): a release still pending is not made. */
  private cancelReleases(): void {
    for (const t of this.releasing.values()) t.cancel();
    this.releasing.clear();
  }

  status(): AnnouncementStatus[] {
    return this.announcer.status();
  }
}
