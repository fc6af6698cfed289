// At start, the kernel's IPVS table is evidence of each real server's health: the
// agent before this one left a real server in its service at weight > 0 because its
// checks passed, and the kernel forwards to it now. A restarted agent (kill -9, OOM,
// upgrade) that began every real server in its checks' `initial` state would take
// them all out until their checks pass again, and `mh`/`sh` would then have no
// destination for new or moved flows. So such a real server begins up, its checks at
// zero failures: `fall` consecutive failures take it down as usual.
//
// What is not evidence, and begins as its config says:
//   - a real server absent from the kernel's service, or there at weight 0 (down and
//     inhibited, or drained: a drain does not outlive the agent that made it);
//   - a real server whose forwarding method the config changed (its kernel entry was
//     made for another path to the server);
//   - every real server of a service whose scheduler or scheduler flags the config
//     changed, or one of whose kernel services (a group's keys) is missing: the
//     kernel's choices were made for another service;
//   - a real server without checks (it is always up anyway).
// A real server in the kernel but not in the config is not seeded: the reconciler
// removes it as it always did.
import type { ServiceStatus } from '../health/monitor.js';
import { initialQuorum } from '../health/service.js';
import { kernelSpecsOf, type HealthCheckConfig, type HealthRealServerConfig, type HealthServiceConfig } from '../health/types.js';
import { canonicalAddress, normalizeFlags, normalizeServiceKey } from '../ipvs/normalize.js';
import { serviceKeyId, type ActualDestination, type ActualService, type ServiceSpec } from '../ipvs/types.js';

/** The reason a seeded real server shows in `failoverd status` until its first transition. */
export const SEEDED_REASON = "adopted from the kernel's IPVS table at start";

/**
 * Whether a check may set the real server's weight (exec with keepalived's
 * misc_dynamic convention, checks/exec.ts): then a kernel weight that differs from
 * the configured one is the check's, and is kept.
 */
function mayReportWeight(check: HealthCheckConfig): boolean {
  return check.type === 'exec' && check.options['misc_dynamic'] === true;
}

const sameScheduler = (want: ServiceSpec, have: ServiceSpec): boolean => {
  const w = normalizeFlags(want.flags);
  const h = normalizeFlags(have.flags);
  return want.scheduler === have.scheduler && w.schedFallback === h.schedFallback && w.schedPort === h.schedPort;
};

/** The kernel's entries for a real server, one per kernel service, when it is at weight > 0 in each with the configured forwarding. */
function liveEntries(
  svc: HealthServiceConfig,
  rs: HealthRealServerConfig,
  kernel: readonly ActualService[],
): ActualDestination[] | undefined {
  const address = canonicalAddress(rs.address);
  const forwarding = rs.forwarding ?? svc.forwarding;
  const found: ActualDestination[] = [];
  for (const have of kernel) {
    const d = have.destinations.find((x) => x.port === rs.port && canonicalAddress(x.address) === address);
    if (!d || d.weight <= 0 || d.forwarding !== forwarding) return undefined;
    found.push(d);
  }
  return found;
}

/**
 * The health monitor's seed (HealthMonitor.update's `seed`) from the kernel's table
 * as the agent found it at start: for each service it can be evidence for, the real
 * servers that begin up. `at`: the start's wall time (their `since`).
 */
export function seedFromKernel(services: readonly HealthServiceConfig[], actual: readonly ActualService[], at: Date): ServiceStatus[] {
  const byId = new Map(actual.map((a) => [serviceKeyId(normalizeServiceKey(a.service.key)), a]));
  const seed: ServiceStatus[] = [];
  for (const svc of services) {
    const kernel: ActualService[] = [];
    for (const spec of kernelSpecsOf(svc)) {
      const have = byId.get(serviceKeyId(normalizeServiceKey(spec.key)));
      if (!have || !sameScheduler(spec, have.service)) break;
      kernel.push(have);
    }
    if (kernel.length !== kernelSpecsOf(svc).length) continue;
    let liveWeight = 0;
    const realServers: ServiceStatus['realServers'] = [];
    for (const rs of svc.realServers) {
      if (rs.checks.length === 0) {
        liveWeight += rs.weight;
        continue;
      }
      const entries = liveEntries(svc, rs, kernel);
      if (!entries) continue;
      const weight = rs.checks.some(mayReportWeight) ? entries[0]!.weight : rs.weight;
      liveWeight += weight;
      realServers.push({
        address: rs.address,
        port: rs.port,
        up: true,
        weight,
        reason: `${SEEDED_REASON} (weight ${entries[0]!.weight})`,
        since: at.toISOString(),
        checks: rs.checks.map((c) => ({ type: c.type, up: true, successes: 0, failures: 0 })),
      });
    }
    if (realServers.length === 0) continue;
    seed.push({ name: svc.name, quorumUp: initialQuorum(svc, liveWeight).up, liveWeight, quorum: svc.quorum, realServers });
  }
  return seed;
}
