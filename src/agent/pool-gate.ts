// Operator and maintenance drains laid over the health monitor's pools: a
// drained real server stays in IPVS with weight 0 so its connections finish.
import { destinationId, serviceKeyId, type DesiredService } from '../ipvs/types.js';

export class PoolGate {
  private pools: DesiredService[] = [];
  private names: Record<string, string> = {};
  /** "service|addr:port" → who drained it (admin, schedule); drained while any holds it. */
  private readonly drained = new Map<string, Set<string>>();

  setPools(pools: DesiredService[], namesByKey: Record<string, string>): void {
    this.pools = pools;
    this.names = namesByKey;
  }

  setDrained(service: string, address: string, port: number, by: string, on: boolean): void {
    const key = `${service}|${destinationId({ address, port })}`;
    const holders = this.drained.get(key) ?? new Set<string>();
    if (on) holders.add(by);
    else holders.delete(by);
    if (holders.size) this.drained.set(key, holders);
    else this.drained.delete(key);
  }

  isDrained(service: string, address: string, port: number): boolean {
    return this.drained.has(`${service}|${destinationId({ address, port })}`);
  }

  effective(): DesiredService[] {
    if (this.drained.size === 0) return this.pools;
    return this.pools.map((pool) => {
      const name = this.names[serviceKeyId(pool.service.key)];
      if (name === undefined) return pool;
      return { ...pool, destinations: pool.destinations.map((d) => (this.isDrained(name, d.address, d.port) ? { ...d, weight: 0 } : d)) };
    });
  }
}
