// Wires the health subsystem: scheduler results → real-server state machines →
// quorum → desired pools. Every transition is published on the event bus and
// logged once; pool changes go to the agent's onPoolChange callback (the IPVS
// reconciler). update() applies a new config without losing what is known: an
// unchanged (service, real server, check) keeps its counters and its schedule.
import { isDeepStrictEqual } from 'node:util';
import type { Logger } from 'pino';
import { systemClock, type Clock, type TimerHandle } from '../clock.js';
import type { EventBus } from '../events.js';
import { destinationId, type DesiredService } from '../ipvs/types.js';
import type { CheckPlugin, CheckResult, CheckTarget } from './check.js';
import { desiredPool } from './pool.js';
import {
  effectiveWeight,
  initialRealServerHealth,
  type CheckHealth,
  type KeptHealth,
  reduceRealServer,
  seededRealServerHealth,
  type RealServerHealth,
  type RealServerSpec,
  type RealServerTransition,
} from './realserver.js';
import { CheckScheduler, type RunInfo, type ScheduledCheck, type SchedulerStats } from './scheduler.js';
import { initialQuorum, reduceQuorum, type QuorumState, type QuorumTransition } from './service.js';
import { realServerKey, type HealthCheckConfig, type HealthRealServerConfig, type HealthServiceConfig } from './types.js';

export interface HealthMonitorOptions {
  bus: EventBus;
  logger: Logger;
  plugins: ReadonlyMap<string, CheckPlugin>;
  /** Called with every service's desired pool whenever one of them changes. */
  onPoolChange: (desired: DesiredService[]) => void;
  clock?: Clock;
  /** Global bound on checks in flight (the rest queue). Default 1024. */
  maxConcurrentChecks?: number;
  /** Every check result, for metrics (latency histograms, counters). */
  onCheckResult?: (info: CheckResultInfo) => void;
}

export interface CheckResultInfo {
  service: string;
  address: string;
  port: number;
  /** realServerKey(service, the real server), built once per check, not per result. */
  key: string;
  type: string;
  result: CheckResult;
  run: RunInfo;
}

export class HealthConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`health config: ${problems.join('; ')}`);
    this.name = 'HealthConfigError';
  }
}

export interface CheckStatus {
  type: string;
  up: boolean;
  successes: number;
  failures: number;
  lastReason?: string | undefined;
  lastLatencyMs?: number | undefined;
}

export interface RealServerStatus {
  address: string;
  port: number;
  up: boolean;
  /** Weight in the pool when up (dynamic or configured). */
  weight: number;
  reason: string;
  /** Wall time of the last up/down change. */
  since: string;
  checks: CheckStatus[];
}

export interface ServiceStatus {
  name: string;
  quorumUp: boolean;
  liveWeight: number;
  quorum: number;
  realServers: RealServerStatus[];
}

export type ServiceHead = Omit<ServiceStatus, 'realServers'>;

interface CheckRuntime {
  schedulerId: string;
  /** Its place among the real server's checks (and their counters in RealServerHealth). */
  index: number;
  checkId: string;
  /** What the check probes (its type and options): a reload that changes only when or how strictly it runs keeps its verdict. */
  probeId: string;
  config: HealthCheckConfig;
}

interface RealServerRuntime {
  id: string;
  config: HealthRealServerConfig;
  spec: RealServerSpec;
  checks: CheckRuntime[];
  health: RealServerHealth;
}

/**
 * Where a check's results go (the runtimes themselves, so a result looks nothing else
 * up) and what they are reported with. Built here in one shape, so a result reads
 * nothing from the caller's config objects: those come in any shape (an object made
 * by a spread gets a map of its own), and reading them thousands of times a second
 * makes every read megamorphic.
 */
interface CheckRef {
  svc: ServiceRuntime;
  rs: RealServerRuntime;
  check: CheckRuntime;
  service: string;
  address: string;
  port: number;
  key: string;
  type: string;
}

/** A check as scheduled; a reload that keeps it points it at the new runtimes. */
interface MonitoredCheck extends ScheduledCheck {
  ref: CheckRef;
}

interface ServiceRuntime {
  config: HealthServiceConfig;
  realServers: Map<string, RealServerRuntime>;
  quorum: QuorumState;
  /** One per kernel service (several for a service group). */
  desired: DesiredService[];
}

/**
 * A real server's health across a reload, in the new checks' order. An unchanged
 * check (same id) keeps its state; a check whose interval, timeout, warmup, retries,
 * rise or fall changed probes the same thing, so it keeps its verdict and
 * counters (and gets a new schedule): a reload that only checks more often must not
 * take a serving real server out until it rises again.
 */
function carriedHealth(old: RealServerRuntime, checks: readonly CheckRuntime[]): KeptHealth {
  const byId = new Map(old.checks.map((c) => [c.checkId, c]));
  const byProbe = new Map(old.checks.map((c) => [c.probeId, c]));
  const carried = checks.map((c): CheckHealth | undefined => {
    const same = byId.get(c.checkId);
    if (same) return old.health.checks[same.index];
    const was = byProbe.get(c.probeId);
    const health = was && old.health.checks[was.index];
    // A verdict still the old `initial` (no result yet) was nobody's: a changed `initial` applies.
    return health && (health.lastResult || was.config.initial === c.config.initial) ? health : undefined;
  });
  return { ...old.health, checks: carried };
}

/**
 * A check's identity in the scheduler is a string key, so it is a canonical JSON text:
 * key order must not change it (a reload that only reorders a check's options keeps
 * its schedule and state).
 */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const keys = Object.keys(value)
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function liveWeightOf(svc: { realServers: Map<string, RealServerRuntime> }): number {
  let sum = 0;
  for (const rs of svc.realServers.values()) if (rs.health.up) sum += effectiveWeight(rs.spec, rs.health);
  return sum;
}

function headOf(svc: ServiceRuntime): ServiceHead {
  return { name: svc.config.name, quorumUp: svc.quorum.up, liveWeight: svc.quorum.liveWeight, quorum: svc.config.quorum };
}

function rsStatusOf(rs: RealServerRuntime, wallOffset: number): RealServerStatus {
  return {
    address: rs.config.address,
    port: rs.config.port,
    up: rs.health.up,
    weight: effectiveWeight(rs.spec, rs.health),
    reason: rs.health.reason,
    since: new Date(wallOffset + rs.health.since).toISOString(),
    checks: rs.checks.map((c) => {
      const h = rs.health.checks[c.index]!;
      return {
        type: c.config.type,
        up: h.up,
        successes: h.successes,
        failures: h.failures,
        lastReason: h.lastResult?.reason,
        lastLatencyMs: h.lastResult?.latencyMs,
      };
    }),
  };
}

export class HealthMonitor {
  private readonly clock: Clock;
  private readonly scheduler: CheckScheduler<MonitoredCheck>;
  private services = new Map<string, ServiceRuntime>();
  /** Every scheduled check by its scheduler id. */
  private scheduled = new Map<string, MonitoredCheck>();
  private dirty = new Set<string>();
  private flushTimer: TimerHandle | undefined;
  private stopped = false;

  constructor(private readonly options: HealthMonitorOptions) {
    this.clock = options.clock ?? systemClock;
    this.scheduler = new CheckScheduler<MonitoredCheck>({
      clock: this.clock,
      maxConcurrent: options.maxConcurrentChecks ?? 1024,
      onResult: (check, result, run) => this.onResult(check.ref, result, run),
    });
  }

  /**
   * Starts (first call) or reconfigures monitoring. Validates everything first and
   * throws HealthConfigError without changing anything when the config is wrong.
   * Calls onPoolChange synchronously when any pool differs from before.
   * `seed`: the last known status of services this monitor has never seen (a
   * restarted health-check thread resumes where its predecessor was, see
   * seededRealServerHealth; the agent's start seeds from the kernel's IPVS table,
   * src/agent/kernel-seed.ts); ignored for services it already monitors.
   */
  update(services: readonly HealthServiceConfig[], seed?: readonly ServiceStatus[]): void {
    if (this.stopped) throw new Error('health monitor is stopped');
    const parsedOptions = this.validate(services);
    const now = this.clock.now();
    const seeds = new Map((seed ?? []).map((svc) => [svc.name, svc]));
    const wallOffset = this.wallOffset();
    const nextServices = new Map<string, ServiceRuntime>();
    const nextIndex = new Map<string, CheckRef>();
    const toAdd: Array<{ svc: HealthServiceConfig; rs: HealthRealServerConfig; check: CheckRuntime; options: unknown }> = [];
    let poolChanged = services.length !== this.services.size;

    for (const svcConfig of services) {
      const old = this.services.get(svcConfig.name);
      if (!old) poolChanged = true;
      const seeded = old ? undefined : seeds.get(svcConfig.name);
      const seededRs = new Map(seeded?.realServers.map((rs) => [destinationId(rs), rs]));
      const realServers = new Map<string, RealServerRuntime>();
      const runtime: ServiceRuntime = {
        config: svcConfig,
        realServers,
        quorum: { up: false, liveWeight: 0 },
        desired: [],
      };
      for (const rsConfig of svcConfig.realServers) {
        const rsId = destinationId(rsConfig);
        const oldRs = old?.realServers.get(rsId);
        const seen = new Map<string, number>();
        const nth = (base: string): string => {
          const n = (seen.get(base) ?? 0) + 1;
          seen.set(base, n);
          return n === 1 ? base : `${base}#${n}`;
        };
        const checks: CheckRuntime[] = rsConfig.checks.map((config, index) => {
          const checkId = nth(canonicalJson(config));
          const probeId = nth(`probe:${canonicalJson({ type: config.type, options: config.options })}`);
          return { schedulerId: `${svcConfig.name}|${rsId}|${checkId}`, index, checkId, probeId, config };
        });
        const spec: RealServerSpec = {
          weight: rsConfig.weight,
          checks: checks.map((c) => ({
            label: c.config.type,
            thresholds: { rise: c.config.rise, fall: c.config.fall, initial: c.config.initial },
          })),
        };
        const last = seededRs.get(rsId);
        const health = last
          ? seededRealServerHealth(spec, { ...last, since: Date.parse(last.since) - wallOffset }, now)
          : initialRealServerHealth(spec, now, oldRs && carriedHealth(oldRs, checks));
        const rs: RealServerRuntime = { id: rsId, config: rsConfig, spec, checks, health };
        realServers.set(rsId, rs);
        if (oldRs) this.reloadTransitions(svcConfig.name, rs, oldRs);
        for (const check of checks) {
          nextIndex.set(check.schedulerId, {
            svc: runtime,
            rs,
            check,
            service: svcConfig.name,
            address: rsConfig.address,
            port: rsConfig.port,
            key: realServerKey(svcConfig.name, rsConfig),
            type: check.config.type,
          });
          if (!this.scheduled.has(check.schedulerId))
            toAdd.push({ svc: svcConfig, rs: rsConfig, check, options: parsedOptions.get(check.config)! });
        }
      }
      const liveWeight = liveWeightOf(runtime);
      if (old) {
        const { state, transition } = reduceQuorum(svcConfig, old.quorum, liveWeight);
        runtime.quorum = state;
        if (transition) this.publishQuorum(svcConfig, transition, state, 'config reload: ');
      } else if (seeded) {
        // Inside the hysteresis band the predecessor's verdict stands, as it would have.
        const { state } = reduceQuorum(svcConfig, { up: seeded.quorumUp, liveWeight: seeded.liveWeight }, liveWeight);
        runtime.quorum = state;
      } else {
        runtime.quorum = initialQuorum(svcConfig, liveWeight);
      }
      runtime.desired = desiredPool(svcConfig, new Map([...realServers].map(([id, r]) => [id, r.health])), runtime.quorum.up);
      if (!old || !isDeepStrictEqual(old.desired, runtime.desired)) poolChanged = true;
      nextServices.set(svcConfig.name, runtime);
    }

    for (const [id, scheduled] of this.scheduled) {
      const ref = nextIndex.get(id);
      if (ref) scheduled.ref = ref;
      else {
        this.scheduler.remove(id);
        this.scheduled.delete(id);
      }
    }
    this.services = nextServices;
    this.dirty.clear();
    for (const { svc, rs, check, options } of toAdd) {
      const plugin = this.options.plugins.get(check.config.type)!;
      const target: CheckTarget = { service: svc.name, address: rs.address, port: rs.port };
      const scheduled: MonitoredCheck = {
        id: check.schedulerId,
        intervalMs: check.config.intervalMs,
        timeoutMs: check.config.timeoutMs,
        warmupMs: check.config.warmupMs,
        retry: check.config.retry,
        delayBeforeRetryMs: check.config.delayBeforeRetryMs,
        run: (signal) => plugin.run(target, options, signal),
        ref: nextIndex.get(check.schedulerId)!,
      };
      this.scheduled.set(check.schedulerId, scheduled);
      this.scheduler.add(scheduled);
    }
    if (poolChanged) this.notifyPools();
  }

  stop(): void {
    this.stopped = true;
    this.scheduler.stop();
    this.flushTimer?.cancel();
    this.flushTimer = undefined;
  }

  /** Every kernel service's desired pool, in config order. */
  desired(): DesiredService[] {
    return [...this.services.values()].flatMap((s) => s.desired);
  }

  quorumUp(service: string): boolean | undefined {
    return this.services.get(service)?.quorum.up;
  }

  schedulerStats(): SchedulerStats {
    return this.scheduler.stats();
  }

  status(): ServiceStatus[] {
    const wallOffset = this.wallOffset();
    return [...this.services.values()].map((svc) => ({
      ...headOf(svc),
      realServers: [...svc.realServers.values()].map((rs) => rsStatusOf(rs, wallOffset)),
    }));
  }

  /** A service's status without its real servers (for snapshots sent when they change). */
  serviceHead(service: string): ServiceHead | undefined {
    const svc = this.services.get(service);
    return svc && headOf(svc);
  }

  /** One real server's status; `realServer` is its destination id ("10.6.2.191:80"). */
  realServerStatus(service: string, realServer: string): RealServerStatus | undefined {
    const rs = this.services.get(service)?.realServers.get(realServer);
    return rs && rsStatusOf(rs, this.wallOffset());
  }

  private wallOffset(): number {
    return this.clock.wallNow().getTime() - this.clock.now();
  }

  private validate(services: readonly HealthServiceConfig[]): Map<HealthCheckConfig, unknown> {
    const problems: string[] = [];
    const parsed = new Map<HealthCheckConfig, unknown>();
    const names = new Set<string>();
    for (const svc of services) {
      if (names.has(svc.name)) problems.push(`service "${svc.name}" is defined twice`);
      names.add(svc.name);
      const seen = new Set<string>();
      for (const rs of svc.realServers) {
        const where = `service "${svc.name}" real server ${destinationId(rs)}`;
        if (seen.has(destinationId(rs))) problems.push(`${where} is listed twice`);
        seen.add(destinationId(rs));
        rs.checks.forEach((check, i) => {
          const at = `${where} check ${i + 1} (${check.type})`;
          const plugin = this.options.plugins.get(check.type);
          if (!plugin) {
            problems.push(`${at}: unknown check type; known: ${[...this.options.plugins.keys()].sort().join(', ')}`);
            return;
          }
          const result = plugin.options.safeParse(check.options ?? {});
          if (!result.success) {
            problems.push(
              `${at}: ${result.error.issues.map((issue) => `${issue.path.join('.') || 'options'}: ${issue.message}`).join(', ')}`,
            );
          } else {
            parsed.set(check, result.data);
          }
          if (!(check.intervalMs > 0) || !(check.timeoutMs > 0)) problems.push(`${at}: interval and timeout must be positive`);
          if (!(check.rise >= 1) || !(check.fall >= 1)) problems.push(`${at}: rise and fall must be at least 1`);
        });
      }
    }
    if (problems.length) throw new HealthConfigError(problems);
    return parsed;
  }

  private onResult(ref: CheckRef, result: CheckResult, run: RunInfo): void {
    const { svc, rs, check, service } = ref;
    this.options.onCheckResult?.({ service, address: ref.address, port: ref.port, key: ref.key, type: ref.type, result, run });
    const before = rs.health;
    const { state, transitions } = reduceRealServer(rs.spec, before, { check: check.index, result }, this.clock.now());
    rs.health = state;
    if (transitions.length === 0) return;
    for (const t of transitions) this.publishRealServer(service, rs, t, result, ref.type);
    const liveWeight =
      svc.quorum.liveWeight - (before.up ? effectiveWeight(rs.spec, before) : 0) + (state.up ? effectiveWeight(rs.spec, state) : 0);
    const { state: quorum, transition } = reduceQuorum(svc.config, svc.quorum, liveWeight);
    svc.quorum = quorum;
    if (transition) this.publishQuorum(svc.config, transition, quorum);
    this.markDirty(service);
  }

  private reloadTransitions(service: string, rs: RealServerRuntime, old: RealServerRuntime): void {
    if (rs.health.up !== old.health.up) {
      this.publishRealServer(service, rs, { kind: rs.health.up ? 'up' : 'down', reason: rs.health.reason });
    } else if (rs.health.up) {
      const from = effectiveWeight(old.spec, old.health);
      const to = effectiveWeight(rs.spec, rs.health);
      if (from !== to) this.publishRealServer(service, rs, { kind: 'weight', from, to, reason: 'config reload' });
    }
  }

  private publishRealServer(
    service: string,
    rs: RealServerRuntime,
    t: RealServerTransition,
    result?: CheckResult,
    checkType?: string,
  ): void {
    const object = `service/${service}/${rs.id}`;
    const weight = effectiveWeight(rs.spec, rs.health);
    const data: Record<string, unknown> = { service, address: rs.config.address, port: rs.config.port, weight };
    if (checkType) data.check = checkType;
    if (result) data.latencyMs = result.latencyMs;
    const [type, from, to] =
      t.kind === 'weight'
        ? ['realserver.weight' as const, String(t.from), String(t.to)]
        : [`realserver.${t.kind}` as const, t.kind === 'up' ? 'down' : 'up', t.kind];
    this.options.bus.publish({ type, object, from, to, reason: t.reason, data });
    const log = { event: type, object, from, to, reason: t.reason };
    if (t.kind === 'down') this.options.logger.warn(log, `real server ${rs.id} of ${service} is down: ${t.reason}`);
    else if (t.kind === 'up') this.options.logger.info(log, `real server ${rs.id} of ${service} is up: ${t.reason}`);
    else this.options.logger.info(log, `real server ${rs.id} of ${service} weight ${from} → ${to}: ${t.reason}`);
  }

  private publishQuorum(svc: HealthServiceConfig, t: QuorumTransition, q: QuorumState, prefix = ''): void {
    const type = t.kind === 'lost' ? 'quorum.lost' : 'quorum.regained';
    const object = `service/${svc.name}`;
    const [from, to] = t.kind === 'lost' ? ['up', 'down'] : ['down', 'up'];
    const reason = `${prefix}${t.reason}`;
    const data: Record<string, unknown> = { service: svc.name, liveWeight: q.liveWeight, quorum: svc.quorum, hysteresis: svc.hysteresis };
    if (svc.sorryServer) data.sorryServer = destinationId(svc.sorryServer);
    this.options.bus.publish({ type, object, from, to, reason, data });
    const log = { event: type, object, from, to, reason };
    if (t.kind === 'lost') this.options.logger.warn(log, `service ${svc.name} lost quorum: ${reason}`);
    else this.options.logger.info(log, `service ${svc.name} regained quorum: ${reason}`);
  }

  // Results that land together (a switch port dies: many servers fail in the same
  // millisecond) are batched into one pool update.
  private markDirty(service: string): void {
    this.dirty.add(service);
    if (this.flushTimer) return;
    this.flushTimer = this.clock.setTimer(0, () => this.flush());
  }

  private flush(): void {
    this.flushTimer = undefined;
    if (this.stopped) return;
    let changed = false;
    for (const name of this.dirty) {
      const svc = this.services.get(name);
      if (!svc) continue;
      const health = new Map<string, RealServerHealth>();
      for (const [id, rs] of svc.realServers) health.set(id, rs.health);
      const desired = desiredPool(svc.config, health, svc.quorum.up);
      if (!isDeepStrictEqual(svc.desired, desired)) {
        svc.desired = desired;
        changed = true;
      }
    }
    this.dirty.clear();
    if (changed) this.notifyPools();
  }

  // A failing consumer must not take health checking down with it.
  private notifyPools(): void {
    try {
      this.options.onPoolChange(this.desired());
    } catch (err) {
      this.options.logger.error({ err }, 'applying the desired pools failed');
    }
  }
}
