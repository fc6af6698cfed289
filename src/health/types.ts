// The health subsystem's input: what the config layer maps each service to.
// Durations are milliseconds; names mirror the YAML keys (documented in docs/health.md).
import { destinationId, type DestinationSpec, type Forwarding, type ServiceKey, type ServiceSpec, type TunnelSpec } from '../ipvs/types.js';

export interface HealthCheckConfig {
  /** Plugin type: "tcp", "http", "https", "exec", or any file in checks/. */
  type: string;
  /** The plugin's own options (validated by its schema), e.g. { path: "/healthz" } for http. */
  options: Record<string, unknown>;
  intervalMs: number;
  timeoutMs: number;
  /** Consecutive successes to come up / failures to go down. */
  rise: number;
  fall: number;
  /** Delay before the first run. */
  warmupMs: number;
  /** Quick re-runs after a failure, `delayBeforeRetryMs` apart (keepalived's retry / delay_before_retry). */
  retry: number;
  delayBeforeRetryMs: number;
  /** 'down' until proven up (keepalived's alpha) or 'up' until it fails. */
  initial: 'up' | 'down';
}

export interface HealthRealServerConfig {
  address: string;
  port: number;
  weight: number;
  /** Defaults to the service's `forwarding`. */
  forwarding?: Forwarding;
  tunnel?: TunnelSpec;
  upperThreshold?: number;
  lowerThreshold?: number;
  /** Overrides the service's onFailure for this server (keepalived's per-real_server inhibit_on_failure). */
  onFailure?: 'remove' | 'inhibit';
  /** Every check must be up for the server to be up; none = always up (keepalived). */
  checks: HealthCheckConfig[];
}

export interface SorryServerConfig {
  address: string;
  port: number;
  weight?: number;
  forwarding?: Forwarding;
  tunnel?: TunnelSpec;
  /** Stays in the pool at weight 0 while not in use, instead of leaving it (keepalived's sorry_server_inhibit). */
  inhibit?: boolean;
}

export interface HealthServiceConfig {
  /** Service name, unique; events use "service/NAME". */
  name: string;
  /** The kernel service's settings and key (a group's first key). */
  spec: ServiceSpec;
  /**
   * A service group (keepalived's virtual_server_group): every kernel service's key, each
   * with `spec`'s settings and the same pool. Absent: the one service `spec` names.
   */
  groupKeys?: ServiceKey[];
  /** Default forwarding for real servers. */
  forwarding: Forwarding;
  /** Minimum sum of weights of live real servers (keepalived's quorum; 1 = at least one live server of weight ≥ 1). */
  quorum: number;
  /** Lost below quorum − hysteresis, regained at quorum + hysteresis (keepalived's hysteresis). */
  hysteresis: number;
  /** remove: a down server leaves the table; inhibit: it stays with weight 0 (keepalived's inhibit_on_failure). */
  onFailure: 'remove' | 'inhibit';
  /** Takes the traffic while quorum is lost (keepalived's sorry_server). */
  sorryServer?: SorryServerConfig;
  realServers: HealthRealServerConfig[];
}

/** Defaults the config layer may use for keys the user left out. */
export const CHECK_DEFAULTS: Omit<HealthCheckConfig, 'type' | 'options'> = {
  intervalMs: 2000,
  timeoutMs: 1000,
  rise: 2,
  fall: 3,
  warmupMs: 0,
  retry: 0,
  delayBeforeRetryMs: 1000,
  initial: 'down',
};

/** "service|address:port": the agent's key for a real server of a service (its last check result, its drains). */
export function realServerKey(service: string, realServer: Pick<DestinationSpec, 'address' | 'port'>): string {
  return `${service}|${destinationId(realServer)}`;
}

/** The kernel services a health service stands for: its spec, once per key of its group. */
export function kernelSpecsOf(service: Pick<HealthServiceConfig, 'spec' | 'groupKeys'>): ServiceSpec[] {
  return service.groupKeys ? service.groupKeys.map((key) => ({ ...service.spec, key })) : [service.spec];
}
