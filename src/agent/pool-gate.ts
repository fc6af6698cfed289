// Operator and maintenance drains laid over the health monitor's pools: a
// drained real server stays in IPVS with weight 0 so its connections finish. A whole
// service in maintenance drains every real server it has, also those a reload adds.
import { serviceKeyId, type DesiredService } from '../ipvs/types.js';
import { realServerKey } from '../health/types.js';

export class PoolGate {
  private pools: DesiredService[] = [];
  private names: Record<string, string> = {};
  /** "service|addr:port" → who drained it (admin, schedule); drained while any holds it. */
  private readonly drained = new Map<string, Set<string>>();
  /** Service name → when its maintenance began. */
  private readonly maintenance = new Map<string, Date>();
  /**
   * A pool with the drains laid over it, until the drains change: a pool the health
   * monitor hands over again unchanged comes out as the same object, which tells the
   * reconciler it needs no look (normalizeDesired).
   */
  private laidOver = new WeakMap<DesiredService, { name: string; pool: DesiredService }>();

  setPools(pools: DesiredService[], namesByKey: Record<string, string>): void {
    this.pools = pools;
    this.names = namesByKey;
  }

  setDrained(service: string, address: string, port: number, by: string, on: boolean): void {
    const key = realServerKey(service, { address, port });
    const holders = this.drained.get(key) ?? new Set<string>();
    if (on) holders.add(by);
    else holders.delete(by);
    if (holders.size) this.drained.set(key, holders);
    else this.drained.delete(key);
    this.laidOver = new WeakMap();
  }

  /** Maintenance on: every real server of the service drained (by "maintenance"); off: as before. */
  setMaintenance(service: string, on: boolean, since: Date): void {
    if (!on) this.maintenance.delete(service);
    else if (!this.maintenance.has(service)) this.maintenance.set(service, since);
    this.laidOver = new WeakMap();
  }

  /** Services in maintenance, with when it began. */
  inMaintenance(): ReadonlyMap<string, Date> {
    return this.maintenance;
  }

  /** Ends the maintenance of services no longer configured (a reload removed them). */
  keepMaintenance(services: ReadonlySet<string>): void {
    for (const name of [...this.maintenance.keys()]) if (!services.has(name)) this.maintenance.delete(name);
    this.laidOver = new WeakMap();
  }

  isDrained(service: string, address: string, port: number): boolean {
    return this.maintenance.has(service) || this.drained.has(realServerKey(service, { address, port }));
  }

  /** Who drains this real server: admin, schedule, maintenance (empty when none). */
  drainedBy(service: string, address: string, port: number): string[] {
    const by = [...(this.drained.get(realServerKey(service, { address, port })) ?? [])];
    if (this.maintenance.has(service)) by.push('maintenance');
    return by.sort();
  }

  effective(): DesiredService[] {
    if (this.drained.size === 0 && this.maintenance.size === 0) return this.pools;
    return this.pools.map((pool) => {
      const name = this.names[serviceKeyId(pool.service.key)];
      if (name === undefined) return pool;
      const memo = this.laidOver.get(pool);
      if (memo?.name === name) return memo.pool;
      let drainedAny = false;
      const destinations = pool.destinations.map((d) => {
        if (!this.isDrained(name, d.address, d.port)) return d;
        drainedAny = true;
        return { ...d, weight: 0 };
      });
      const out = drainedAny ? { ...pool, destinations } : pool;
      this.laidOver.set(pool, { name, pool: out });
      return out;
    });
  }
}
