import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { AlertsStats } from '../alerts/alerts.js';
import type { EventBus } from '../events.js';
import type { ActualService } from '../ipvs/types.js';
import { destinationId, serviceKeyId } from '../ipvs/types.js';
import type { ScheduleStatus } from '../maintenance/scheduler.js';
import { BatchedHistogram } from './batched-histogram.js';
import { CHECK_LATENCY_BUCKETS, type CheckTally } from './check-tally.js';

export interface VrrpInstanceCounters {
  instance: string;
  /** INIT | BACKUP | MASTER | FAULT */
  state: string;
  effectivePriority: number;
  advertsSent: number;
  advertsReceived: number;
  /** Cumulative drops by reason: "bad_checksum", "wrong_vrid", "auth", "ttl", "malformed", ... */
  advertsDropped: Record<string, number>;
  /** Accepted adverts whose address list differs from the instance's VIPs. */
  addressMismatches?: number;
}

export interface RealServerGauge {
  service: string;
  address: string;
  port: number;
  up: boolean;
  weight: number;
}

/**
 * Where gauges and cumulative counters come from at scrape time; the agent
 * implements what it has (every member is optional). Calls must be cheap: the
 * IPVS one should return the table as last read, not query the kernel.
 */
export interface MetricsSources {
  vrrp?(): VrrpInstanceCounters[];
  realServers?(): RealServerGauge[];
  /** Service name by key id ("tcp:10.6.2.195:80" → "web-80"), for readable labels. */
  ipvs?():
    { services: ActualService[]; names?: Record<string, string> } | Promise<{ services: ActualService[]; names?: Record<string, string> }>;
  alerts?(): AlertsStats;
  schedules?(): ScheduleStatus[];
  /** Routing mode's announcements (docs/ecmp.md). */
  routes?(): Array<{ name: string; vips: string[]; announced: boolean }>;
}

export const VRRP_STATES = ['INIT', 'BACKUP', 'MASTER', 'FAULT'];

/**
 * failoverd's metrics on their own Registry (never prom-client's global one):
 * event-driven counters from the bus, scrape-time gauges from `MetricsSources`,
 * and prom-client's default process metrics (event-loop lag among them).
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly checkResults: Counter<'type' | 'result'>;
  private readonly checkLatency: BatchedHistogram;
  private readonly workerHeap: Gauge;
  private readonly unsubscribe: () => void;

  constructor(
    bus: EventBus,
    private readonly sources: MetricsSources = {},
    options: { defaultMetrics?: boolean } = {},
  ) {
    const registers = [this.registry];
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 10 });

    const events = new Counter({
      name: 'failoverd_events_total',
      help: 'Agent events published, by type.',
      labelNames: ['type'],
      registers,
    });
    const vrrpTransitions = new Counter({
      name: 'failoverd_vrrp_transitions_total',
      help: 'VRRP state transitions.',
      labelNames: ['instance', 'from', 'to'],
      registers,
    });
    const rsTransitions = new Counter({
      name: 'failoverd_realserver_transitions_total',
      help: 'Real server up/down transitions.',
      labelNames: ['service', 'real_server', 'to'],
      registers,
    });
    const reloads = new Counter({
      name: 'failoverd_config_reloads_total',
      help: 'Configuration reloads by result.',
      labelNames: ['result'],
      registers,
    });
    new Counter({
      name: 'failoverd_event_subscriber_errors_total',
      help: 'Errors thrown by event subscribers (metrics, alerts, logs); logged, never fatal.',
      registers,
      collect() {
        this.reset();
        this.inc(bus.subscriberErrors);
      },
    });
    const quorumLost = new Counter({
      name: 'failoverd_quorum_lost_total',
      help: 'Times a service lost quorum.',
      labelNames: ['service'],
      registers,
    });
    this.checkResults = new Counter({
      name: 'failoverd_check_results_total',
      help: 'Health check results by check type.',
      labelNames: ['type', 'result'],
      registers,
    });
    this.workerHeap = new Gauge({
      name: 'failoverd_health_worker_heap_used_bytes',
      help: 'V8 heap in use by the health-check worker thread.',
      registers,
    });
    this.checkLatency = new BatchedHistogram({
      name: 'failoverd_check_latency_seconds',
      help: 'Health check latency by check type.',
      labelNames: ['type'],
      buckets: CHECK_LATENCY_BUCKETS,
      registers,
    });

    this.unsubscribe = bus.subscribe('*', (event) => {
      events.inc({ type: event.type });
      const name = event.object.split('/').slice(1);
      switch (event.type) {
        case 'vrrp.state':
          vrrpTransitions.inc({ instance: name.join('/'), from: event.from ?? '', to: event.to ?? '' });
          break;
        case 'realserver.up':
        case 'realserver.down':
          rsTransitions.inc({ service: name[0] ?? '', real_server: name.slice(1).join('/'), to: event.type.slice('realserver.'.length) });
          break;
        case 'config.reloaded':
        case 'config.rejected':
          reloads.inc({ result: event.type === 'config.reloaded' ? 'ok' : 'rejected' });
          break;
        case 'quorum.lost':
          quorumLost.inc({ service: name.join('/') });
          break;
        default:
          break; // counted in events only
      }
    });

    this.vrrpMetrics(registers);
    this.routeMetrics(registers);
    this.realServerMetrics(registers);
    this.ipvsMetrics(registers);
    this.alertMetrics(registers);
    this.scheduleMetrics(registers);
  }

  /** Called by the health scheduler after every check (checks are too frequent for the bus). */
  recordCheck(type: string, ok: boolean, latencyMs: number): void {
    this.checkResults.inc({ type, result: ok ? 'ok' : 'fail' });
    this.checkLatency.observe({ type }, latencyMs / 1000);
  }

  /** The health-check thread's heap in use, as it last reported it. */
  recordWorkerHeap(bytes: number): void {
    this.workerHeap.set(bytes);
  }

  /** The same for results counted elsewhere (the health worker's periodic tallies). */
  recordChecks(tallies: readonly CheckTally[]): void {
    for (const t of tallies) {
      if (t.ok) this.checkResults.inc({ type: t.type, result: 'ok' }, t.ok);
      if (t.fail) this.checkResults.inc({ type: t.type, result: 'fail' }, t.fail);
      this.checkLatency.add({ type: t.type }, t.counts, t.sumSeconds);
    }
  }

  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  close(): void {
    this.unsubscribe();
    this.registry.clear();
  }

  private vrrpMetrics(registers: Registry[]): void {
    const sources = this.sources;
    new Gauge({
      name: 'failoverd_vrrp_state',
      help: 'VRRP state: 1 for the current state, 0 for the others.',
      labelNames: ['instance', 'state'],
      registers,
      collect() {
        this.reset();
        for (const i of sources.vrrp?.() ?? [])
          for (const s of VRRP_STATES) this.set({ instance: i.instance, state: s }, i.state === s ? 1 : 0);
      },
    });
    new Gauge({
      name: 'failoverd_vrrp_priority',
      help: 'Effective VRRP priority (after tracking and maintenance).',
      labelNames: ['instance'],
      registers,
      collect() {
        this.reset();
        for (const i of sources.vrrp?.() ?? []) this.set({ instance: i.instance }, i.effectivePriority);
      },
    });
    cumulative('failoverd_vrrp_adverts_sent_total', 'VRRP adverts sent.', ['instance'], registers, () =>
      (sources.vrrp?.() ?? []).map((i) => [{ instance: i.instance }, i.advertsSent]),
    );
    cumulative('failoverd_vrrp_adverts_received_total', 'VRRP adverts received and accepted.', ['instance'], registers, () =>
      (sources.vrrp?.() ?? []).map((i) => [{ instance: i.instance }, i.advertsReceived]),
    );
    cumulative(
      'failoverd_vrrp_advert_address_mismatch_total',
      "Accepted VRRP adverts whose addresses differ from this instance's VIPs (the pair's configs disagree).",
      ['instance'],
      registers,
      () => (sources.vrrp?.() ?? []).map((i) => [{ instance: i.instance }, i.addressMismatches ?? 0]),
    );
    cumulative('failoverd_vrrp_adverts_dropped_total', 'VRRP adverts dropped, by reason.', ['instance', 'reason'], registers, () =>
      (sources.vrrp?.() ?? []).flatMap((i) =>
        Object.entries(i.advertsDropped).map(([reason, n]) => [{ instance: i.instance, reason }, n] as const),
      ),
    );
  }

  private routeMetrics(registers: Registry[]): void {
    const sources = this.sources;
    new Gauge({
      name: 'failoverd_route_announced',
      help: 'Routing mode: 1 while the VIP is announced to the routing daemon, 0 while withdrawn.',
      labelNames: ['announcement', 'vip'],
      registers,
      collect() {
        this.reset();
        for (const r of sources.routes?.() ?? []) for (const vip of r.vips) this.set({ announcement: r.name, vip }, r.announced ? 1 : 0);
      },
    });
  }

  private realServerMetrics(registers: Registry[]): void {
    const sources = this.sources;
    new Gauge({
      name: 'failoverd_realserver_up',
      help: '1 when the real server passes its health check.',
      labelNames: ['service', 'real_server'],
      registers,
      collect() {
        this.reset();
        for (const r of sources.realServers?.() ?? []) this.set({ service: r.service, real_server: destinationId(r) }, r.up ? 1 : 0);
      },
    });
    new Gauge({
      name: 'failoverd_realserver_weight',
      help: 'Weight the agent wants in IPVS (0 when drained or inhibited).',
      labelNames: ['service', 'real_server'],
      registers,
      collect() {
        this.reset();
        for (const r of sources.realServers?.() ?? []) this.set({ service: r.service, real_server: destinationId(r) }, r.weight);
      },
    });
  }

  private ipvsMetrics(registers: Registry[]): void {
    // One read of the source per scrape, shared by the families below.
    let pending:
      | Promise<
          Array<{ service: string; destination?: string; active?: number; inactive?: number; stats: NonNullable<ActualService['stats']> }>
        >
      | undefined;
    const read = async () => {
      if (!pending) {
        pending = (async () => {
          const table = await this.sources.ipvs?.();
          const rows: Array<{
            service: string;
            destination?: string;
            active?: number;
            inactive?: number;
            stats: NonNullable<ActualService['stats']>;
          }> = [];
          for (const s of table?.services ?? []) {
            const id = serviceKeyId(s.service.key);
            const service = table?.names?.[id] ?? id;
            if (s.stats) rows.push({ service, stats: s.stats });
            for (const d of s.destinations) {
              if (d.stats)
                rows.push({
                  service,
                  destination: destinationId(d),
                  active: d.activeConnections,
                  inactive: d.inactiveConnections,
                  stats: d.stats,
                });
            }
          }
          return rows;
        })();
        setImmediate(() => {
          pending = undefined;
        });
      }
      return pending;
    };
    const labels = (r: { service: string; destination?: string }) => ({ service: r.service, destination: r.destination ?? '' });
    const family = (name: string, help: string, pick: (s: NonNullable<ActualService['stats']>) => number): void => {
      new Counter({
        name,
        help: `${help} Destination "" is the whole service.`,
        labelNames: ['service', 'destination'],
        registers,
        async collect() {
          this.reset();
          for (const r of await read()) this.inc(labels(r), counterValue(pick(r.stats)));
        },
      });
    };
    family('failoverd_ipvs_connections_total', 'IPVS connections scheduled.', (s) => s.connections);
    family('failoverd_ipvs_packets_in_total', 'IPVS packets in.', (s) => s.packetsIn);
    family('failoverd_ipvs_packets_out_total', 'IPVS packets out (0 in DR mode: replies bypass the director).', (s) => s.packetsOut);
    family('failoverd_ipvs_bytes_in_total', 'IPVS bytes in.', (s) => s.bytesIn);
    family('failoverd_ipvs_bytes_out_total', 'IPVS bytes out.', (s) => s.bytesOut);
    new Gauge({
      name: 'failoverd_ipvs_active_connections',
      help: 'IPVS active connections per destination.',
      labelNames: ['service', 'destination', 'kind'],
      registers,
      async collect() {
        this.reset();
        for (const r of await read()) {
          if (r.destination === undefined) continue;
          this.set({ ...labels(r), kind: 'active' }, r.active ?? 0);
          this.set({ ...labels(r), kind: 'inactive' }, r.inactive ?? 0);
        }
      },
    });
  }

  private alertMetrics(registers: Registry[]): void {
    const sources = this.sources;
    const webhooks = () => sources.alerts?.().webhooks ?? [];
    cumulative('failoverd_webhook_deliveries_total', 'Webhook events delivered (2xx).', ['endpoint'], registers, () =>
      webhooks().map((w) => [{ endpoint: w.name }, w.delivered]),
    );
    cumulative('failoverd_webhook_failures_total', 'Webhook events given up on after all retries.', ['endpoint'], registers, () =>
      webhooks().map((w) => [{ endpoint: w.name }, w.failed]),
    );
    cumulative('failoverd_webhook_attempt_failures_total', 'Webhook attempts that failed (retried or not).', ['endpoint'], registers, () =>
      webhooks().map((w) => [{ endpoint: w.name }, w.attemptFailures]),
    );
    cumulative('failoverd_webhook_dropped_total', 'Webhook events dropped because the queue was full.', ['endpoint'], registers, () =>
      webhooks().map((w) => [{ endpoint: w.name }, w.dropped]),
    );
    new Gauge({
      name: 'failoverd_webhook_queue_depth',
      help: 'Webhook events waiting per endpoint.',
      labelNames: ['endpoint'],
      registers,
      collect() {
        this.reset();
        for (const w of webhooks()) this.set({ endpoint: w.name }, w.queueDepth);
      },
    });
    const notify = () => sources.alerts?.().notify ?? [];
    cumulative('failoverd_notify_runs_total', 'Notify program runs.', ['program'], registers, () =>
      notify().map((n) => [{ program: n.program }, n.runs]),
    );
    cumulative('failoverd_notify_failures_total', 'Notify program runs that failed or timed out.', ['program'], registers, () =>
      notify().map((n) => [{ program: n.program }, n.failures]),
    );
  }

  private scheduleMetrics(registers: Registry[]): void {
    const sources = this.sources;
    new Gauge({
      name: 'failoverd_schedule_active',
      help: '1 while a maintenance window is open.',
      labelNames: ['schedule', 'action'],
      registers,
      collect() {
        this.reset();
        for (const s of sources.schedules?.() ?? []) this.set({ schedule: s.name, action: s.action }, s.active ? 1 : 0);
      },
    });
  }
}

/** A counter whose value is a cumulative number kept elsewhere, read at scrape time. */
function cumulative<L extends string>(
  name: string,
  help: string,
  labelNames: L[],
  registers: Registry[],
  read: () => ReadonlyArray<readonly [Record<L, string>, number]>,
): void {
  new Counter({
    name,
    help,
    labelNames,
    registers,
    collect() {
      this.reset();
      for (const [labels, value] of read()) this.inc(labels as never, counterValue(value));
    },
  });
}

/** A source bug (NaN, negative after a kernel counter reset) must not fail the whole scrape. */
function counterValue(value: number): number {
  return Number.isFinite(value) && value > 0 ? value : 0;
}
