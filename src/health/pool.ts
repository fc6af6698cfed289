// From a service's config and its real servers' health to the IPVS pool it should
// have. Pure: the reconciler diffs this against the kernel.
//   up server                → its weight (a check's dynamic weight wins over the configured one)
//   down, on_failure remove  → left out
//   down, on_failure inhibit → kept with weight 0 (no new connections, existing ones live on)
//   quorum lost + sorry server → the sorry server takes over; real servers leave
//                                (inhibit: stay at weight 0), as keepalived does
//   quorum held, sorry server inhibit → the sorry server waits in the table at weight 0
// A server's own on_failure overrides the service's. A service group gets the same pool
// in each of its kernel services.
import { destinationId, type DesiredService, type DestinationSpec } from '../ipvs/types.js';
import type { RealServerHealth } from './realserver.js';
import { kernelSpecsOf, type HealthRealServerConfig, type HealthServiceConfig } from './types.js';

export interface RealServerView {
  up: boolean;
  dynamicWeight?: number;
}

function destination(
  service: HealthServiceConfig,
  rs: HealthRealServerConfig | NonNullable<HealthServiceConfig['sorryServer']>,
  weight: number,
): DestinationSpec {
  const d: DestinationSpec = {
    address: rs.address,
    port: rs.port,
    weight,
    forwarding: rs.forwarding ?? service.forwarding,
    upperThreshold: 'upperThreshold' in rs ? (rs.upperThreshold ?? 0) : 0,
    lowerThreshold: 'lowerThreshold' in rs ? (rs.lowerThreshold ?? 0) : 0,
  };
  if (rs.tunnel) d.tunnel = rs.tunnel;
  return d;
}

/**
 * `health` is looked up by destinationId(real server) ("10.6.2.191:80"); a server
 * with no entry counts as down (it has not been seen yet), except one with no
 * checks, which is always up.
 */
export function desiredPool(
  service: HealthServiceConfig,
  health: ReadonlyMap<string, RealServerView | RealServerHealth>,
  quorumUp: boolean,
): DesiredService[] {
  const destinations: DestinationSpec[] = [];
  const sorry = !quorumUp && service.sorryServer ? service.sorryServer : undefined;
  const sorryId = sorry ? destinationId(sorry) : undefined;
  for (const rs of service.realServers) {
    const id = destinationId(rs);
    if (id === sorryId) continue;
    const h = health.get(id);
    const up = rs.checks.length === 0 || (h?.up ?? false);
    if (up && !sorry) destinations.push(destination(service, rs, h?.dynamicWeight ?? rs.weight));
    else if ((rs.onFailure ?? service.onFailure) === 'inhibit') destinations.push(destination(service, rs, 0));
  }
  if (sorry) destinations.push(destination(service, sorry, sorry.weight ?? 1));
  else if (service.sorryServer?.inhibit && !service.realServers.some((rs) => destinationId(rs) === destinationId(service.sorryServer!)))
    destinations.push(destination(service, service.sorryServer, 0));
  return kernelSpecsOf(service).map((spec) => ({ service: spec, destinations }));
}
