// The agent wires the subsystems: config → health monitor → desired pools → IPVS
// reconciler; VRRP instances hold the VIPs and drive the sync daemon; every
// transition goes through the event bus to alerts, metrics, logs and the status API.
// The I/O (IPVS table, VRRP sockets, API listeners, systemd, check plugins, clock)
// is handed in through AgentOptions: `failoverd run` passes the system's, unit tests
// in-memory twins.
import { isDeepStrictEqual } from 'node:util';
import { Alerts } from './alerts/alerts.js';
import { alertsFromConfig } from './alerts/from-config.js';
import { apiFromConfig } from './api/from-config.js';
import { AdminError, type AdminActions, type IpvsAuditResult, type StatusSnapshot, type StatusSource } from './api/status-types.js';
import type { ApiListener, ApiOpener, ClosableVrrpIo, SystemdNotifier, VrrpIoOpener } from './agent/io.js';
import { kernelSpecsOf, type HealthServiceConfig } from './health/types.js';
import { chooseChecksThread, type ChecksThread, type ChecksThreadChoice, type ChecksThreadSetting } from './health/checks-thread.js';
import { loadPlan } from './agent/load-plan.js';
import { serviceKeysOf, type RuntimePlan } from './agent/map-config.js';
import { statusLine, statusSnapshot } from './agent/status.js';
import { PoolGate } from './agent/pool-gate.js';
import { seedFromKernel } from './agent/kernel-seed.js';
import { systemClock, type Clock, type TimerHandle } from './clock.js';
import {
  DEFAULT_DRAIN_TIMEOUT,
  parseDuration,
  type CheckPluginRegistry,
  type CheckPluginSource,
  type FailoverdConfig,
  type LoadConfigFileOptions,
} from './config/index.js';
import { EventBus } from './events.js';
import type { CheckPlugin } from './health/check.js';
import { HealthMonitor, type ServiceStatus } from './health/monitor.js';
import { foldLastResults, type LastResult } from './health/worker-messages.js';
import { WorkerHealthMonitor } from './health/worker-monitor.js';
import { Reconciler } from './ipvs/reconciler.js';
import { TurnGate } from './turn-gate.js';
import type { IpvsTable, SyncDaemonState } from './ipvs/table.js';
import { destinationId, serviceKeyId, type DesiredService } from './ipvs/types.js';
import type { Logger } from './log.js';
import { Metrics } from './metrics/metrics.js';
import { endpointMatches } from './net/address.js';
import { schedulesFromConfig } from './maintenance/from-config.js';
import { MaintenanceScheduler } from './maintenance/scheduler.js';
import type { VrrpInstanceConfig } from './vrrp/config.js';
import { VrrpInstance, type SyncDaemonRole } from './vrrp/instance.js';
import { VrrpSyncGroup } from './vrrp/sync-group.js';
import { applyVrrpRealtime } from './vrrp/realtime.js';
import { ScavengePacer } from './vrrp/scavenge-pacer.js';
import { packageVersion } from './commands/version.js';
import { systemRoutingIo } from './routing/system.js';
import { Routing, type RoutingIo } from './routing/routing.js';

export interface AgentOptions {
  configPath: string;
  logger: Logger;
  /** The check plugins a config may name (checks/ for `failoverd run`, as a source: only the named ones load). */
  plugins: CheckPluginRegistry | CheckPluginSource;
  /** This node's name when the config sets none (the host name for `failoverd run`). */
  hostname: string;
  /** Opens the IPVS table, once, when the first service is configured (generic netlink for `failoverd run`). */
  openIpvsTable: () => Promise<IpvsTable>;
  /** Opens the VRRP I/O, once, when the first instance is configured (raw sockets, rtnetlink for `failoverd run`). */
  openVrrpIo: VrrpIoOpener;
  /** The status API's listeners (node:http for `failoverd run`). */
  openApi: ApiOpener;
  systemd: SystemdNotifier;
  env?: NodeJS.ProcessEnv;
  /** Each instance's VRRP sockets open in this network namespace (tests and labs run several agents in one host). */
  netns?: string;
  clock?: Clock;
  /** How often the reconciler re-reads the kernel table to repair drift. */
  auditIntervalMs?: number;
  /** Overrides the config's health.checks_thread; an injected clock always means 'main'. */
  checksThread?: ChecksThreadSetting;
  /** Something the agent cannot carry on without failed (the health-check worker kept crashing). */
  onFatal?: (err: Error) => void;
  /** Routing mode's I/O (announcement routes, sysctls, the maintenance file); default: the kernel's, in `netns`. */
  routingIo?: RoutingIo;
}

export class ConfigRejectedError extends Error {
  constructor(readonly lines: string[]) {
    super(`config rejected:\n${lines.join('\n')}`);
    this.name = 'ConfigRejectedError';
  }
}

type SyncDaemonSettings = NonNullable<VrrpInstanceConfig['syncDaemon']>;

const LOWEST_PRIORITY = 1;
/** How many of the reconciler's last kernel operations the status shows: enough for the last few changes, short enough to read. */
const STATUS_IPVS_OPS = 20;
const DEFAULT_DRAIN_TIMEOUT_MS = parseDuration(DEFAULT_DRAIN_TIMEOUT) ?? 0;
/**
 * How long before a backup's Master_Down deadline the agent's bulk work (the checks
 * thread's messages, IPVS diffs and applies) stops starting new pieces: a slice of
 * messages (MESSAGE_SLICE_MS) and the longest IPVS diff measured at 10,000 real servers
 * (about 10 ms) fit in it. It holds only once the master has been silent that close to
 * the Master_Down_Interval.
 */
const TURN_GATE_LEAD_MS = 15;
/** And how long after it: the backup's timer has run by then, unless the loop was held by something else. */
const TURN_GATE_GRACE_MS = 2;

export class Agent implements StatusSource, AdminActions {
  readonly bus: EventBus;
  private readonly clock: Clock;
  private logger: Logger;
  private config: FailoverdConfig;
  private namesByKey: { plan: RuntimePlan; names: Record<string, string> } | undefined;
  private drainTimeouts: { config: FailoverdConfig; byKey: Map<string, number>; longest: number } | undefined;
  private plan: RuntimePlan;
  private generation = 1;
  private loadedAt: Date;
  private readonly startedAt: Date;
  private table: IpvsTable | undefined;
  private reconciler: Reconciler | undefined;
  private monitor: HealthMonitor | WorkerHealthMonitor | undefined;
  private readonly gate = new PoolGate();
  private readonly turnGate: TurnGate;
  private vrrpIo: ClosableVrrpIo | undefined;
  private scavengePacer: ScavengePacer | undefined;
  /** vrrp_realtime is read once, when the VRRP I/O first opens. */
  private realtimeRead = false;
  private readonly instances = new Map<string, VrrpInstance>();
  private readonly syncGroups = new Map<string, VrrpSyncGroup>();
  private readonly demotions = new Map<string, Map<string, number>>();
  private readonly forcedBackup = new Map<string, { until: Date; timer: TimerHandle }>();
  private alerts: Alerts | undefined;
  private metrics: Metrics | undefined;
  private api: ApiListener | undefined;
  private schedules: MaintenanceScheduler | undefined;
  /** ECMP routing mode (docs/ecmp.md): health-gated announcements. */
  private routing: Routing | undefined;
  private watchdog: { stop(): void } | undefined;
  private unsubscribe: (() => void)[] = [];
  private lastCheck = new Map<string, LastResult>();
  private reloading: Promise<boolean> | undefined;
  /** Where the checks run now: decided at start, and again by each reload. */
  private checksOn: ChecksThread = 'main';
  private stopped = false;
  /** What the loader warned about (a world-readable file holding secrets, YAML oddities): logged at start. */
  private loadWarnings: string[] = [];

  /** The check types the configs loaded so far named; the main-thread monitor reads it as it grows. */
  private readonly plugins = new Map<string, CheckPlugin>();

  private constructor(
    private readonly options: AgentOptions,
    config: FailoverdConfig,
    plan: RuntimePlan,
  ) {
    this.clock = options.clock ?? systemClock;
    this.turnGate = new TurnGate(() => this.clock.now(), TURN_GATE_LEAD_MS, TURN_GATE_GRACE_MS);
    this.logger = options.logger;
    this.config = config;
    this.startedAt = this.clock.wallNow();
    this.loadedAt = this.startedAt;
    this.plan = plan;
    this.bus = new EventBus(
      this.plan.node,
      () => this.clock.wallNow(),
      (err, event) => {
        // The first ones with their stack; then a sample, so that a subscriber failing on
        // every event cannot flood the log (the metric counts them all).
        const n = this.bus.subscriberErrors;
        if (n <= 10 || n % 1000 === 0) {
          this.logger.error(
            { err, event: event.type, object: event.object, errors: n },
            `an event subscriber failed on ${event.type} (error ${n}); the agent carries on`,
          );
        }
      },
    );
  }

  /** Loads and validates the config; rejects with ConfigRejectedError listing every problem. */
  static async create(options: AgentOptions): Promise<Agent> {
    const loaded = await loadPlan(options.configPath, loadOptions(options), options.hostname);
    if (!loaded.ok) throw new ConfigRejectedError(loaded.errors);
    const agent = new Agent(options, loaded.config, loaded.plan);
    agent.usePlugins(loaded.checkPlugins);
    agent.loadWarnings = loaded.warnings;
    return agent;
  }

  private usePlugins(plugins: CheckPluginRegistry): void {
    for (const [type, plugin] of plugins) this.plugins.set(type, plugin);
  }

  /** Replaces the logger before start() (the config decides the log format). */
  useLogger(logger: Logger): void {
    this.logger = logger;
  }

  get configuration(): FailoverdConfig {
    return this.config;
  }

  async start(): Promise<void> {
    const log = this.logger;
    for (const w of [...this.loadWarnings, ...this.plan.warnings]) log.warn(w);
    // Each subsystem logs its own transitions once; the bus trace is for debugging.
    this.unsubscribe.push(this.bus.subscribe('*', (e) => log.debug({ event: e }, `event ${e.type} ${e.object}`)));

    this.alerts = this.newAlerts(this.config);
    this.metrics = new Metrics(this.bus, {
      vrrp: () =>
        [...this.instances.values()].map((i) => {
          const s = i.status();
          return {
            instance: s.name,
            state: s.state.toUpperCase(),
            effectivePriority: s.effectivePriority,
            advertsSent: s.counters.advertsSent,
            advertsReceived: s.counters.advertsReceived,
            advertsDropped: s.counters.dropped,
            addressMismatches: s.counters.addressMismatches,
          };
        }),
      realServers: () =>
        (this.monitor?.status() ?? []).flatMap((svc) =>
          svc.realServers.map((rs) => ({
            service: svc.name,
            address: rs.address,
            port: rs.port,
            up: rs.up,
            weight: this.gate.isDrained(svc.name, rs.address, rs.port) ? 0 : rs.up ? rs.weight : 0,
          })),
        ),
      ipvs: () => ({ services: this.reconciler?.lastActual() ?? [], names: this.serviceNames() }),
      alerts: () => this.alerts!.stats(),
      schedules: () => this.schedules?.status() ?? [],
      routes: () => this.routing?.status() ?? [],
    });

    if (this.config.services.length > 0 || this.plan.ipvsTimeouts) await this.startIpvs();
    await this.applyTimeouts(undefined, this.plan.ipvsTimeouts);
    const checksOn = this.checksThread(this.config, this.plan.services);
    this.checksOn = checksOn.thread;
    this.monitor = this.newMonitor(checksOn.thread);
    if (this.plan.services.length > 0) log.info(`the health checks run on the ${checksOn.thread} thread (${checksOn.reason})`);
    await this.monitor.update(this.plan.services, await this.kernelSeed());
    this.unsubscribe.push(
      this.bus.subscribe(['quorum.lost', 'quorum.regained'], (e) =>
        this.trackQuorum(e.object.replace(/^service\//, ''), e.type === 'quorum.regained'),
      ),
    );
    // A restarted worker resumes from the last known state and publishes no quorum
    // change; should a service come back otherwise, the tracking instances learn it here.
    this.unsubscribe.push(this.bus.subscribe('health.worker-restarted', () => this.retrackQuorum()));

    await this.startVrrp(this.plan.instances);
    this.unsubscribe.push(
      this.bus.subscribe(['quorum.lost', 'quorum.regained', 'health.worker-restarted'], () => this.routing?.evaluate()),
    );
    if (this.config.routing.announce.length > 0) {
      this.routing = this.newRouting(this.config);
      await this.routing.start();
    }

    this.schedules = this.newScheduler();
    this.schedules.start();

    this.api = this.newApiServer(this.config.api);
    await this.api.start();

    this.watchdog = this.options.systemd.startWatchdog(this.clock);
    this.options.systemd.ready(this.statusLine());
    log.info(
      { node: this.plan.node, services: this.plan.services.length, instances: this.plan.instances.length, checksThread: this.checksOn },
      'failoverd started',
    );
  }

  private newMonitor(thread: ChecksThread): HealthMonitor | WorkerHealthMonitor {
    if (thread === 'worker')
      return new WorkerHealthMonitor({
        bus: this.bus,
        logger: this.logger,
        onPoolChange: (desired) => this.applyPools(desired),
        onCheckResults: ({ tallies, last, heapUsedBytes }) => {
          this.metrics?.recordChecks(tallies);
          this.metrics?.recordWorkerHeap(heapUsedBytes);
          foldLastResults(this.lastCheck, last);
        },
        onGiveUp: (err) => this.options.onFatal?.(err),
        turnGate: this.turnGate,
      });
    return new HealthMonitor({
      bus: this.bus,
      logger: this.logger,
      plugins: this.plugins,
      clock: this.clock,
      onPoolChange: (desired) => this.applyPools(desired),
      onCheckResult: (info) => {
        this.metrics?.recordCheck(info.type, info.result.ok, info.result.latencyMs);
        this.lastCheck.set(info.key, {
          ok: info.result.ok,
          reason: info.result.reason,
          latencyMs: info.result.latencyMs,
          atMs: this.clock.wallNow().getTime(),
          type: info.type,
        });
      },
    });
  }

  /**
   * A reload changed where the checks belong (the load crossed auto's threshold, or the
   * setting changed): the running monitor stops, and one on the other thread resumes
   * every real server from the state the first one left (up or down, each check's
   * counters, quorum), as a restarted worker does; no pool changes. Checks pause for
   * the time the new monitor takes to start. Should it fail to start, a monitor on the
   * same thread as before resumes from that state instead.
   */
  private async moveChecks(services: readonly HealthServiceConfig[], to: ChecksThreadChoice): Promise<void> {
    const from = this.checksOn;
    const old = this.monitor!;
    await old.stop();
    await this.closeMainThreadHttpAgents();
    const state = old.status();
    const resume = async (thread: ChecksThread): Promise<void> => {
      const monitor = this.newMonitor(thread);
      try {
        await monitor.update(services, state);
      } catch (err) {
        await monitor.stop();
        throw err;
      }
      this.monitor = monitor;
      this.checksOn = thread;
      // No worker, no worker heap: the gauge would keep the gone thread's last figure.
      if (thread === 'main') this.metrics?.recordWorkerHeap(0);
    };
    try {
      await resume(to.thread);
      this.logger.info(
        `health checks moved from the ${from} thread to the ${to.thread} thread (${to.reason}); every real server resumed from its last state`,
      );
    } catch (err) {
      this.logger.error(
        { err },
        `health checks: could not start them on the ${to.thread} thread (${(err as Error).message}); they stay on the ${from} thread`,
      );
      await resume(from).catch((again: unknown) => {
        // No thread runs the checks now: running on would keep traffic on whatever was up last.
        const fatal = new Error(`health checks could not be restarted on the ${from} thread either: ${(again as Error).message}`);
        this.logger.fatal({ err: again }, fatal.message);
        this.options.onFatal?.(fatal);
      });
    }
  }

  /**
   * After the monitor stopped: the HTTP(S) checks' keep-alive clients live in the thread
   * that ran them (the worker closes its own); imported here so that an agent without
   * them never loads the client.
   */
  private async closeMainThreadHttpAgents(): Promise<void> {
    if (this.checksOn === 'main' && (this.plugins.has('http') || this.plugins.has('https'))) {
      await (await import('../checks/lib/http-probe.js')).closeHttpAgents();
    }
  }

  /** Routing mode from a config; started by the caller. */
  private newRouting(config: FailoverdConfig): Routing {
    return new Routing(config.routing, config.services, {
      ...(this.options.routingIo ?? systemRoutingIo(this.options.netns)),
      clock: this.clock,
      bus: this.bus,
      logger: this.logger,
      quorumUp: (s) => this.monitor?.quorumUp(s),
    });
  }

  /**
   * A reload's routing: the first announcements start routing mode; otherwise the running
   * one takes the new config, touching only what changed. Route failures are logged
   * and published by the announcer; a failure here leaves the reload applied.
   */
  private async reloadRouting(next: FailoverdConfig, startNow: boolean): Promise<void> {
    try {
      if (startNow) await this.routing?.start();
      else await this.routing?.update(next.routing, next.services);
    } catch (err) {
      this.logger.error({ err }, `routing: applying the reloaded routing section: ${(err as Error).message}`);
    }
  }

  private checksThread(config: FailoverdConfig, services: readonly HealthServiceConfig[]): ChecksThreadChoice {
    // An injected clock (tests drive a fake one) cannot cross into a thread.
    const fakeClock = this.options.clock && this.options.clock !== systemClock;
    return chooseChecksThread(fakeClock ? 'main' : (this.options.checksThread ?? config.health.checks_thread), services);
  }

  private async startIpvs(): Promise<void> {
    const table = await this.options.openIpvsTable().catch((err: Error & { code?: string }) => {
      throw Object.assign(new Error(`IPVS is not available (${err.message}); load it with "modprobe ip_vs"`), { code: err.code });
    });
    this.table = table;
    this.reconciler = new Reconciler({
      table,
      clock: this.clock,
      logger: this.logger,
      events: this.bus,
      ...(this.options.auditIntervalMs !== undefined ? { auditIntervalMs: this.options.auditIntervalMs } : {}),
      drainTimeoutMs: (key) => this.drainTimeoutFor(key),
      turnGate: this.turnGate,
    });
    this.reconciler.start();
  }

  /**
   * What the kernel's table says of the real servers at start (src/agent/kernel-seed.ts):
   * those a previous agent left in service begin up, so a restart takes none of them
   * out before a check fails. A table that cannot be read seeds nothing: every real
   * server then begins in its checks' initial state, as on a first start.
   */
  private async kernelSeed(): Promise<ServiceStatus[]> {
    if (!this.reconciler || this.plan.services.length === 0) return [];
    try {
      const seed = seedFromKernel(this.plan.services, await this.reconciler.readActual(), this.clock.wallNow());
      const n = seed.reduce((sum, s) => sum + s.realServers.length, 0);
      if (n > 0) {
        this.logger.info(
          { seeded: seed.map((s) => ({ service: s.name, realServers: s.realServers.map((rs) => destinationId(rs)) })) },
          `${n} real server${n === 1 ? '' : 's'} found in service in the kernel's IPVS table begin up; their checks take them down after fall failures`,
        );
      }
      return seed;
    } catch (err) {
      this.logger.warn(
        { err },
        `reading the IPVS table at start: ${(err as Error).message}; every real server begins in its checks' initial state`,
      );
      return [];
    }
  }

  /** ipvs.timeouts into the kernel when set and changed; a failure is logged, the agent carries on. */
  private async applyTimeouts(before: RuntimePlan['ipvsTimeouts'], after: RuntimePlan['ipvsTimeouts']): Promise<void> {
    if (!after || !this.table || isDeepStrictEqual(before, after)) return;
    try {
      await this.table.setTimeouts(after);
      this.logger.info({ timeouts: after }, 'IPVS timeouts set');
    } catch (err) {
      this.logger.error({ err }, `IPVS timeouts: ${(err as Error).message}`);
    }
  }

  /** A service removed from the config drains with the longest timeout any service declares. */
  private drainTimeoutFor(key: string): number {
    // Asked once per real server leaving the table: built once per config, not per call.
    if (this.drainTimeouts?.config !== this.config) {
      const byKey = new Map(this.config.services.flatMap((s) => serviceKeysOf(s).map((k) => [serviceKeyId(k), s.drain_timeout] as const)));
      this.drainTimeouts = { config: this.config, byKey, longest: Math.max(DEFAULT_DRAIN_TIMEOUT_MS, ...byKey.values()) };
    }
    return this.drainTimeouts.byKey.get(key) ?? this.drainTimeouts.longest;
  }

  private applyPools(desired: DesiredService[]): void {
    this.gate.setPools(desired, this.serviceNames());
    // Never rejects: the pass reports its own failures (log, ipvs.error).
    void this.reconciler?.setDesired(this.gate.effective());
  }

  /** Kernel service key → the configured service's name; built once per plan (every pool change asks). */
  private serviceNames(): Record<string, string> {
    if (this.namesByKey?.plan !== this.plan)
      this.namesByKey = {
        plan: this.plan,
        names: Object.fromEntries(this.plan.services.flatMap((s) => kernelSpecsOf(s).map((spec) => [serviceKeyId(spec.key), s.name]))),
      };
    return this.namesByKey.names;
  }

  // ---- VRRP ---------------------------------------------------------------

  private async startVrrp(configs: VrrpInstanceConfig[]): Promise<void> {
    if (configs.length === 0) return;
    this.vrrpIo ??= this.openVrrpIo();
    for (const config of configs) await this.startInstance(config);
  }

  private openVrrpIo(): ClosableVrrpIo {
    const io = this.options.openVrrpIo((e) => {
      if (e.kind === 'resync') this.logger.warn(`link watcher resynchronised: ${e.links} links re-read after lost notifications`);
      else if (e.kind === 'overrun')
        this.logger.warn({ err: e.error }, 'link watcher: notifications lost (receive buffer overrun); re-reading every link');
      else this.logger.error({ err: e.error }, `link watcher socket error: ${e.error.message}`);
    });
    // Once per process, from the thread that sends the adverts (src/vrrp/realtime.ts).
    if (!this.realtimeRead) applyVrrpRealtime(this.config.vrrp_realtime, io, this.logger);
    this.realtimeRead = true;
    this.scavengePacer = io.youngGeneration ? new ScavengePacer(io.youngGeneration, this.turnGate) : undefined;
    return io;
  }

  private async startInstance(config: VrrpInstanceConfig): Promise<void> {
    let group: VrrpSyncGroup | undefined;
    if (config.syncGroup) {
      group = this.syncGroups.get(config.syncGroup) ?? new VrrpSyncGroup(config.syncGroup);
      this.syncGroups.set(config.syncGroup, group);
    }
    const instance = new VrrpInstance(this.adjusted(config), {
      io: this.vrrpIo!,
      clock: this.clock,
      events: this.bus,
      log: this.logger,
      ...(this.options.netns ? { netns: this.options.netns } : {}),
      ...(group ? { syncGroup: group } : {}),
      onSyncDaemon: (role, sd) => this.syncDaemon(role, sd),
      turnGate: this.turnGate,
      ...(this.scavengePacer ? { scavengePacer: this.scavengePacer } : {}),
    });
    // Listed once running: one that cannot start (its interface is missing) is not reported as INIT forever.
    await instance.start();
    this.instances.set(config.name, instance);
    for (const t of config.track.services) {
      const up = this.monitor?.quorumUp(t.name);
      if (up !== undefined) instance.setTracked('service', t.name, up);
    }
  }

  private trackQuorum(service: string, up: boolean): void {
    for (const instance of this.instances.values()) instance.setTracked('service', service, up);
  }

  private retrackQuorum(): void {
    for (const config of this.plan.instances) {
      for (const t of config.track.services) {
        const up = this.monitor?.quorumUp(t.name);
        if (up !== undefined) this.instances.get(config.name)?.setTracked('service', t.name, up);
      }
    }
  }

  /** The instance's config after maintenance demotions and operator overrides. */
  private adjusted(config: VrrpInstanceConfig): VrrpInstanceConfig {
    if (this.forcedBackup.has(config.name)) return { ...config, priority: LOWEST_PRIORITY, preempt: false };
    const by = [...(this.demotions.get(config.name)?.values() ?? [])].reduce((a, b) => a + b, 0);
    if (by === 0) return config;
    // The address owner (255) gives up ownership while demoted.
    return { ...config, priority: Math.max(LOWEST_PRIORITY, Math.min(254, config.priority) - by) };
  }

  private async reapplyInstance(name: string): Promise<void> {
    const config = this.plan.instances.find((c) => c.name === name);
    const instance = this.instances.get(name);
    if (config && instance) await instance.update(this.adjusted(config));
  }

  private daemonRoles = new Map<SyncDaemonState, string>();

  private syncDaemonQueue: Promise<void> = Promise.resolve();

  /**
   * Switches run one after another. A flap (backup → master → backup within a few
   * hundred ms, as at start-up in UML) used to run two switches across each other's
   * awaits: the second saw the first's daemons not yet recorded and did nothing, then
   * the first stopped the backup daemon, leaving a BACKUP with only a master daemon
   * (connections were no longer synced to it).
   */
  private syncDaemon(role: SyncDaemonRole, sd: SyncDaemonSettings): Promise<void> {
    this.syncDaemonQueue = this.syncDaemonQueue.then(() => this.switchSyncDaemon(role, sd));
    return this.syncDaemonQueue;
  }

  private async switchSyncDaemon(role: SyncDaemonRole, sd: SyncDaemonSettings): Promise<void> {
    if (!this.table) return;
    const want = new Set<SyncDaemonState>(role === 'none' ? [] : [role]);
    for (const state of ['master', 'backup'] as const) {
      const running = this.daemonRoles.get(state);
      // Any changed setting (a reload's new group, port, maxlen or ttl) restarts the daemon.
      const desiredId = JSON.stringify([sd.interface, sd.syncId, sd.group, sd.port, sd.maxLength, sd.ttl]);
      try {
        if (!want.has(state) && running) {
          await this.table.stopDaemon(state);
          this.daemonRoles.delete(state);
        } else if (want.has(state) && running !== desiredId) {
          if (running) await this.table.stopDaemon(state);
          await this.table.startDaemon({ state, ...sd });
          this.daemonRoles.set(state, desiredId);
        }
      } catch (err) {
        const code = (err as { code?: string }).code;
        // Already running (a previous agent left it) or already stopped: the goal holds.
        if (code === 'EEXIST') await this.adoptSyncDaemon(state, sd, desiredId);
        else if (code !== 'ESRCH' && code !== 'ENOENT') this.logger.error({ err }, `IPVS sync daemon ${state}: ${(err as Error).message}`);
      }
    }
  }

  /**
   * The daemon switches on VRRP transitions; a reload that changes an instance's
   * sync_daemon (or drops it) applies in the role of its state now.
   */
  private async resyncDaemons(before: VrrpInstanceConfig[], after: VrrpInstanceConfig[]): Promise<void> {
    for (const was of before) {
      const now = after.find((c) => c.name === was.name);
      if (!was.syncDaemon || isDeepStrictEqual(was.syncDaemon, now?.syncDaemon)) continue;
      if (!now?.syncDaemon) await this.syncDaemon('none', was.syncDaemon);
    }
    for (const config of after) {
      const was = before.find((c) => c.name === config.name);
      const state = this.instances.get(config.name)?.status().state;
      if (!config.syncDaemon || !was || isDeepStrictEqual(was.syncDaemon, config.syncDaemon) || !state || state === 'init') continue;
      await this.syncDaemon(state === 'master' ? 'master' : 'backup', config.syncDaemon);
    }
  }

  /** A daemon a previous agent left running is kept if it has these settings, else restarted with them. */
  private async adoptSyncDaemon(state: SyncDaemonState, sd: SyncDaemonSettings, desiredId: string): Promise<void> {
    try {
      const running = (await this.table!.listDaemons()).find((d) => d.state === state);
      const same =
        running &&
        running.interface === sd.interface &&
        running.syncId === sd.syncId &&
        (sd.group === undefined || running.group === sd.group) &&
        (sd.port === undefined || running.port === sd.port) &&
        (sd.maxLength === undefined || running.maxLength === sd.maxLength) &&
        (sd.ttl === undefined || running.ttl === sd.ttl);
      if (running && !same) {
        await this.table!.stopDaemon(state);
        await this.table!.startDaemon({ state, ...sd });
      }
      this.daemonRoles.set(state, desiredId);
    } catch (err) {
      this.logger.error({ err }, `IPVS sync daemon ${state}: ${(err as Error).message}`);
    }
  }

  // ---- schedules and admin ------------------------------------------------

  private newScheduler(): MaintenanceScheduler {
    return new MaintenanceScheduler(schedulesFromConfig(this.config.schedules), {
      clock: this.clock,
      bus: this.bus,
      logger: this.logger,
      actions: {
        drain: (service, realServer, on) => this.setDrain(service, realServer, on, 'schedule'),
        demote: async (instance, by, on) => {
          const entries = this.demotions.get(instance) ?? new Map<string, number>();
          if (on) entries.set('schedule', by);
          else entries.delete('schedule');
          this.demotions.set(instance, entries);
          await this.reapplyInstance(instance);
        },
      },
    });
  }

  private setDrain(service: string, realServer: string, on: boolean, by: string): void {
    const svc = this.plan.services.find((s) => s.name === service);
    if (!svc) throw new AdminError(404, `no service "${service}"`);
    const rs = svc.realServers.find((r) => endpointMatches(realServer, r));
    if (!rs)
      throw new AdminError(
        404,
        `service ${service} has no real server "${realServer}" (it has ${svc.realServers.map((r) => destinationId(r)).join(', ')})`,
      );
    this.gate.setDrained(service, rs.address, rs.port, by, on);
    // Never rejects: the pass reports its own failures (log, ipvs.error).
    void this.reconciler?.setDesired(this.gate.effective());
  }

  drain(service: string, realServer: string, on: boolean): void {
    this.setDrain(service, realServer, on, 'admin');
  }

  /** Every real server of the service drained (weight 0, connections finish), also those a reload adds; off: back. */
  maintenance(service: string, on: boolean): void {
    if (!this.plan.services.some((s) => s.name === service)) throw new AdminError(404, `no service "${service}"`);
    this.gate.setMaintenance(service, on, this.clock.wallNow());
    // Never rejects: the pass reports its own failures (log, ipvs.error).
    void this.reconciler?.setDesired(this.gate.effective());
  }

  /**
   * The instance and the other members of its sync group: an admin action on one member
   * acts on all, since they change state together, and a member left at its own priority
   * would preempt back and pull the forced one with it.
   */
  private membersWith(instance: string): string[] {
    if (!this.instances.has(instance)) throw new AdminError(404, `no vrrp instance "${instance}"`);
    const group = this.plan.instances.find((c) => c.name === instance)?.syncGroup;
    if (group === undefined) return [instance];
    return this.plan.instances.filter((c) => c.syncGroup === group && this.instances.has(c.name)).map((c) => c.name);
  }

  /**
   * Holds the instance (with its sync group) at the lowest priority for `forMs` (0
   * releases it now). A master resigns first: a lowered priority alone never makes it
   * step down, and a nopreempt peer would then never take over.
   */
  async forceBackup(instance: string, forMs: number): Promise<void> {
    const members = this.membersWith(instance);
    for (const name of members) {
      this.forcedBackup.get(name)?.timer.cancel();
      this.forcedBackup.delete(name);
    }
    if (forMs > 0) {
      const until = new Date(this.clock.wallNow().getTime() + forMs);
      const timer = this.clock.setTimer(forMs, () => {
        for (const name of members) this.forcedBackup.delete(name);
        void Promise.all(members.map((name) => this.reapplyInstance(name)));
      });
      for (const name of members) this.forcedBackup.set(name, { until, timer });
    }
    await Promise.all(members.map((name) => this.reapplyInstance(name)));
    if (forMs > 0) for (const name of members) this.instances.get(name)?.resign();
  }

  /** A one-shot step down (priority 0, then BACKUP); its sync group follows, each member with its own priority 0. True when it was master. */
  resign(instance: string): boolean {
    const vrrp = this.instances.get(instance);
    if (!vrrp) throw new AdminError(404, `no vrrp instance "${instance}"`);
    return vrrp.resign();
  }

  /** An audit now: the whole IPVS table read and repaired, e.g. after someone changed it by hand. */
  async auditIpvs(): Promise<IpvsAuditResult> {
    if (!this.reconciler) throw new AdminError(409, 'this agent manages no IPVS table (no services configured)');
    const report = await this.reconciler.audit();
    if (report.error) throw new AdminError(500, `IPVS audit failed: ${report.error}`);
    return { drift: report.drift, ops: report.ops, failed: report.failed, converged: report.converged };
  }

  // ---- reload and stop ----------------------------------------------------

  /** SIGHUP: validate first; on any error keep running as before. Resolves true when applied. */
  reload(): Promise<boolean> {
    this.reloading ??= this.doReload().finally(() => {
      this.reloading = undefined;
    });
    return this.reloading;
  }

  /**
   * Validates the new config, then applies it in the steps that can fail (VRRP
   * instances, the API listeners, the health monitor), each with its undo: a step that
   * fails undoes those before it, newest first, and the running config stays whole.
   * The health monitor comes last because it hands the new pools to the reconciler:
   * once it runs the kernel's IPVS table changes, and a reload refused before that
   * leaves the table as it was.
   */
  private async doReload(): Promise<boolean> {
    if (this.stopped) return false;
    this.options.systemd.reloading('reloading configuration');
    const path = this.options.configPath;
    const loaded = await loadPlan(path, loadOptions(this.options), this.options.hostname);
    if (!loaded.ok) return this.rejectReload(loaded.errors);
    this.usePlugins(loaded.checkPlugins);
    for (const w of loaded.warnings) this.logger.warn(w);
    const { config: next, plan } = loaded;
    const previous = this.plan;
    const previousConfig = this.config;
    const undo: (() => Promise<void>)[] = [];
    const routingBefore = this.routing;
    try {
      // Opening the table changes nothing in it; the reconciler must exist before the monitor hands over pools.
      if ((next.services.length > 0 || plan.ipvsTimeouts) && !this.table) await this.startIpvs();
      // Routing's host side (VIPs on their interface, sloppy and ARP sysctls) is what can fail
      // (a missing interface): it refuses the reload before anything else changes. A reload
      // refused later sets the sysctls back; the VIPs it added stay held (nothing announces them).
      if (!routingBefore && next.routing.announce.length > 0) {
        this.routing = this.newRouting(next);
        undo.push(async () => {
          this.routing = routingBefore;
        });
      }
      if (routingBefore) undo.push(() => routingBefore.prepare(previousConfig.routing));
      await this.routing?.prepare(next.routing);
      await this.reloadInstances(previous.instances, plan.instances, undo);
      if (!isDeepStrictEqual(previousConfig.api, next.api)) {
        undo.push(async () => {
          await this.replaceApi(previousConfig.api);
        });
        const failed = await this.replaceApi(next.api);
        if (failed) throw new Error(`api: ${failed.message}`);
      }
      // The pools are named after the plan: the new one is in place before the monitor hands them over.
      this.plan = plan;
      undo.push(async () => {
        this.plan = previous;
      });
      await this.monitor!.update(plan.services);
    } catch (err) {
      for (const step of undo.reverse()) {
        await step().catch((e: unknown) => {
          this.logger.error({ err: e }, `undoing the reload: ${(e as Error).message}`);
        });
      }
      return this.rejectReload([`${path}: ${(err as Error).message}`]);
    }
    this.config = next;
    this.gate.keepMaintenance(new Set(plan.services.map((s) => s.name)));
    await this.resyncDaemons(previous.instances, plan.instances);
    await this.applyTimeouts(previous.ipvsTimeouts, plan.ipvsTimeouts);
    // Instances that track a service they did not track before learn its quorum now.
    this.retrackQuorum();
    for (const w of plan.warnings) this.logger.warn(w);
    await this.reloadRouting(next, this.routing !== routingBefore);
    if (!isDeepStrictEqual(previousConfig.vrrp_realtime, next.vrrp_realtime))
      this.logger.warn('vrrp_realtime changed: that applies when failoverd restarts; the VRRP thread keeps its scheduling');
    const checksOn = this.checksThread(next, plan.services);
    if (checksOn.thread !== this.checksOn) await this.moveChecks(plan.services, checksOn);

    // Unchanged alerts keep their queues and running notify programs; changed ones are swapped.
    if (!isDeepStrictEqual(alertsFromConfig(previousConfig.alerts, previousConfig), alertsFromConfig(next.alerts, next))) {
      const oldAlerts = this.alerts!;
      this.alerts = this.newAlerts(next);
      void oldAlerts.close(2000);
    }
    // Open windows stay applied across the swap; the new scheduler re-applies what is still active.
    await this.schedules?.stop();
    this.schedules = this.newScheduler();
    this.schedules.start();

    this.generation++;
    this.loadedAt = this.clock.wallNow();
    this.bus.publish({
      type: 'config.reloaded',
      object: `config/${path}`,
      reason: `generation ${this.generation}`,
      data: { generation: this.generation },
    });
    this.options.systemd.ready(this.statusLine());
    return true;
  }

  /**
   * Stops the instances the new plan drops, starts the ones it adds and updates the
   * changed ones, pushing each step's undo. An undo is pushed before its step runs: an
   * update that fails half-way (stopped for a new interface that then cannot start) is
   * put back too.
   */
  private async reloadInstances(before: VrrpInstanceConfig[], after: VrrpInstanceConfig[], undo: (() => Promise<void>)[]): Promise<void> {
    for (const config of before) {
      const instance = this.instances.get(config.name);
      if (!instance || after.some((c) => c.name === config.name)) continue;
      undo.push(async () => {
        await instance.start();
        this.instances.set(config.name, instance);
      });
      await instance.stop();
      this.instances.delete(config.name);
    }
    for (const config of after) {
      const instance = this.instances.get(config.name);
      const was = before.find((c) => c.name === config.name);
      if (!instance || !was) {
        this.vrrpIo ??= this.openVrrpIo();
        await this.startInstance(config);
        undo.push(async () => {
          await this.instances.get(config.name)?.stop();
          this.instances.delete(config.name);
        });
      } else if (!isDeepStrictEqual(was, config)) {
        // update() of a stopped instance only takes the config; start() is a no-op on a running one.
        undo.push(async () => {
          await instance.update(this.adjusted(was));
          await instance.start();
        });
        await instance.update(this.adjusted(config));
      }
    }
  }

  private newApiServer(config: FailoverdConfig['api']): ApiListener {
    const deps = { status: this, admin: this, metrics: this.metrics!.registry, bus: this.bus, logger: this.logger };
    return this.options.openApi(apiFromConfig(config), deps);
  }

  /** The alerts: `alerts:`, and the notify programs of instances, sync groups, services and real servers. */
  private newAlerts(config: FailoverdConfig): Alerts {
    return new Alerts(this.bus, alertsFromConfig(config.alerts, config), {
      logger: this.logger,
      clock: this.clock,
      userAgent: `failoverd/${packageVersion()}`,
    });
  }

  /**
   * A changed `api:` on reload: the old listeners close first (the same socket path may be
   * reused), then the new ones open. Returns the error when they cannot (address in use,
   * no such directory); the caller then puts the previous ones back.
   */
  private async replaceApi(config: FailoverdConfig['api']): Promise<Error | undefined> {
    await this.api?.stop();
    const api = this.newApiServer(config);
    try {
      await api.start();
      this.api = api;
      return undefined;
    } catch (err) {
      await api.stop().catch(() => undefined);
      this.api = undefined;
      this.logger.error({ err }, 'status API: cannot listen with the new api settings');
      return err as Error;
    }
  }

  private rejectReload(lines: string[]): false {
    for (const line of lines) this.logger.error(line);
    this.bus.publish({
      type: 'config.rejected',
      object: `config/${this.options.configPath}`,
      reason: lines.join('; '),
      data: { errors: lines },
    });
    this.options.systemd.ready(`config rejected, running generation ${this.generation}`);
    return false;
  }

  /**
   * The last-resort path (src/agent/last-resort.ts): every instance stops as on SIGTERM
   * (a master sends priority 0 and removes its VIPs), every routing announcement is
   * withdrawn at once (no converge wait), and nothing else is touched: the
   * IPVS table, the sync daemon and the health checks are left for the next agent.
   */
  async resignAll(): Promise<void> {
    this.stopped = true;
    await Promise.all([
      ...[...this.instances.values()].map((i) => i.stop().catch((err) => this.logger.error({ err }, `resigning vrrp ${i.name}`))),
      this.routing?.withdrawAll().catch((err) => this.logger.error({ err }, 'withdrawing the routing announcements')),
    ]);
  }

  /** SIGTERM/SIGINT: masters resign (priority 0) and drop their VIPs; IPVS kept or removed per on_stop. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.options.systemd.stopping('stopping');
    this.watchdog?.stop();
    await this.reloading?.catch(() => false);
    // Withdraw first and keep serving while the router converges (routing.announce[].converge).
    await this.routing?.stop().catch((err) => this.logger.error({ err }, 'withdrawing the routing announcements'));
    await this.schedules?.stop({ endActive: false });
    await Promise.all(
      [...this.instances.values()].map((i) => i.stop().catch((err) => this.logger.error({ err }, `stopping vrrp ${i.name}`))),
    );
    for (const state of [...this.daemonRoles.keys()]) await this.table?.stopDaemon(state).catch(() => undefined);
    await this.monitor?.stop();
    await this.closeMainThreadHttpAgents();
    await this.reconciler?.stop();
    if (this.config.on_stop === 'remove') await this.reconciler?.removeOwned();
    this.table?.close();
    this.vrrpIo?.close();
    await this.api?.stop();
    for (const u of this.unsubscribe) u();
    await this.alerts?.close(2000);
    this.metrics?.close();
    for (const f of this.forcedBackup.values()) f.timer.cancel();
    this.logger.info('failoverd stopped');
  }

  // ---- status -------------------------------------------------------------

  private statusLine(): string {
    return statusLine(
      this.generation,
      this.plan.services.length,
      [...this.instances.values()].map((i) => i.status()),
    );
  }

  snapshot(): StatusSnapshot {
    return statusSnapshot({
      node: this.plan.node,
      version: packageVersion(),
      pid: process.pid,
      startedAt: this.startedAt,
      config: { file: this.options.configPath, loadedAt: this.loadedAt, generation: this.generation },
      plan: this.plan,
      instances: [...this.instances.values()].map((i) => i.status()),
      forcedBackupUntil: new Map([...this.forcedBackup].map(([name, f]) => [name, f.until])),
      health: this.monitor?.status() ?? [],
      isDrained: (service, address, port) => this.gate.isDrained(service, address, port),
      drainedBy: (service, address, port) => this.gate.drainedBy(service, address, port),
      maintenance: this.gate.inMaintenance(),
      draining: this.reconciler?.draining() ?? [],
      ipvsOps: this.reconciler?.opsLog(STATUS_IPVS_OPS) ?? [],
      lastChecks: this.lastCheck,
      // The reconciler's view (last audit plus its own acknowledged changes): no netlink dump per request.
      ipvs: this.reconciler?.lastActual() ?? [],
      schedules: this.schedules?.status() ?? [],
      ...(this.alerts ? { alerts: this.alerts.stats() } : {}),
      ...(this.routing ? { routing: this.routing.status() } : {}),
    });
  }
}

function loadOptions(options: AgentOptions): LoadConfigFileOptions {
  return { checkPlugins: options.plugins, env: options.env ?? process.env, defaultNodeName: options.hostname };
}
