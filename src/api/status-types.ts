import type { ActualService } from '../ipvs/types.js';
import type { DrainStatus, OpsLogEntry } from '../ipvs/reconciler.js';
import type { AlertsStats } from '../alerts/alerts.js';
import type { ScheduleStatus } from '../maintenance/scheduler.js';

// The agent's view, as GET /status returns it and `failoverd status` prints it.
// Stable JSON: fields are added, never renamed or removed.

export interface InstanceStatus {
  name: string;
  /** INIT | BACKUP | MASTER | FAULT */
  state: string;
  /** Configured priority. */
  priority: number;
  /** After tracking and maintenance adjustments. */
  effectivePriority: number;
  /** Address of the current master as last heard (or this node when MASTER). */
  master?: string;
  interface?: string;
  vrid?: number;
  vips: string[];
  /** ISO time of the last state change. */
  since?: string;
  /** Why it is in this state ("higher priority advert from 10.0.0.2", "forced backup until ..."). */
  reason?: string;
  /** Set while an operator forced it to BACKUP (ISO end). */
  forcedBackupUntil?: string;
  /** What it tracks: each object's weight and state; `fault` when a weight-0 object failed. */
  track?: TrackStatus[];
}

export interface TrackStatus {
  /** interface | service | script | file */
  kind: string;
  name: string;
  weight: number;
  /** up | down, or the number a tracked file holds. */
  state: string;
  /** This object puts the instance in FAULT. */
  fault?: boolean;
}

export interface LastCheck {
  ok: boolean;
  reason: string;
  latencyMs: number;
  /** ISO time of the check. */
  at: string;
}

export interface RealServerStatus {
  address: string;
  port: number;
  /** up | down | unknown */
  state: string;
  /** Weight in IPVS now (0 when drained or inhibited). */
  weight: number;
  configuredWeight: number;
  /** Drained by an operator or a maintenance window. */
  drained?: boolean;
  /** Who drains it: admin, maintenance (the whole service), schedule. */
  drainedBy?: string[];
  /** While drained: its connections in IPVS (the reconciler's last read); the drain is done at 0 active. */
  connections?: { active: number; inactive: number };
  checkType?: string;
  lastCheck?: LastCheck;
  reason?: string;
  since?: string;
}

export interface ServiceStatus {
  name: string;
  /** "tcp:10.6.2.195:80" style, as serviceKeyId() prints it; a service group's first and last (status.ts groupKeyText). */
  key: string;
  /** A service group: every kernel service's key. */
  keys?: string[];
  quorum: { required: number; up: number; met: boolean };
  /** Set while the service is in maintenance: every real server drained (ISO start). */
  maintenanceSince?: string;
  realServers: RealServerStatus[];
}

export interface StatusSnapshot {
  node: string;
  version?: string;
  pid?: number;
  startedAt?: string;
  config?: { file?: string; loadedAt?: string; generation?: number };
  instances: InstanceStatus[];
  services: ServiceStatus[];
  /** The kernel's IPVS table as the reconciler last read (audit) or changed it, with stats; not dumped per request. */
  ipvs?: ActualService[];
  /** Real servers and services removed from the config whose connections IPVS still drains before deleting them. */
  draining?: DrainStatus[];
  /** The agent's last changes to the IPVS table, oldest first, each with why and how it ended ("ok" or the errno). */
  ipvsOps?: OpsLogEntry[];
  schedules?: ScheduleStatus[];
  alerts?: AlertsStats;
  /** Routing mode's announcements (docs/ecmp.md). */
  routing?: Array<{ name: string; vips: string[]; announced: boolean; phase: string; reason: string; since: string }>;
}

/** The agent implements this; it is called per GET /status. */
export interface StatusSource {
  snapshot(): StatusSnapshot | Promise<StatusSnapshot>;
}

/** Operator actions over the API; the agent implements them. Throw AdminError for bad input. */
export interface AdminActions {
  /** on: weight 0, connections finish; off: back to the configured weight. */
  drain(service: string, realServer: string, on: boolean): void | Promise<void>;
  /** on: every real server of the service drained (weight 0, connections finish); off: back. */
  maintenance(service: string, on: boolean): void | Promise<void>;
  /** Force the instance to BACKUP for `forMs` (0 = release now). */
  forceBackup(instance: string, forMs: number): void | Promise<void>;
  /** A master steps down once (priority-0 advert, then BACKUP); resolves true when it was master. */
  resign(instance: string): boolean | Promise<boolean>;
  /** Reads the whole IPVS table now and repairs what differs from the agent's (as the periodic audit does). */
  auditIpvs(): IpvsAuditResult | Promise<IpvsAuditResult>;
}

/** What an audit found and did: `drift` kernel entries differed from the agent's view; `ops` repaired them. */
export interface IpvsAuditResult {
  drift: number;
  ops: number;
  failed: number;
  converged: boolean;
}

/** An error the API returns to the client with this HTTP status (e.g. 404 unknown service). */
export class AdminError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'AdminError';
  }
}
