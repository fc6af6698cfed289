// Where each VIP of an instance goes: its own interface or the instance's, with the
// instance's label on the instance's interface only.
import { splitPrefix, type VrrpInstanceConfig } from './config.js';
import type { InterfaceAddress } from './ports.js';

/** A VIP as the host is asked to add or remove it. */
export interface PlacedVip {
  iface: string;
  address: InterfaceAddress;
}

/** The interface a VIP entry goes on: its own, or the instance's. */
export function vipInterfaceOf(c: Pick<VrrpInstanceConfig, 'interface' | 'vipInterfaces'>, vip: string): string {
  return c.vipInterfaces?.[vip] ?? c.interface;
}

/** The interfaces other than the instance's that carry VIPs, sorted. */
export function otherVipInterfaces(c: Pick<VrrpInstanceConfig, 'interface' | 'vipInterfaces' | 'vips'>): string[] {
  return [...new Set(c.vips.map((v) => vipInterfaceOf(c, v)).filter((i) => i !== c.interface))].sort();
}

/**
 * Places `vips` by the interfaces `placement` gives them. The label names the instance's
 * interface ("eth0:web") in `labelling`: it applies to IPv4 VIPs on that interface only.
 */
export function placeVips(
  vips: readonly string[],
  placement: Pick<VrrpInstanceConfig, 'interface' | 'vipInterfaces'>,
  labelling: { interface: string; vipLabel?: string | undefined; family: 4 | 6 },
): PlacedVip[] {
  return vips.map((v) => {
    const iface = vipInterfaceOf(placement, v);
    const label = labelling.family === 4 && iface === labelling.interface ? labelling.vipLabel : undefined;
    return { iface, address: { ...splitPrefix(v), ...(label ? { label } : {}) } };
  });
}

/** The VIPs' addresses (no prefix), grouped by the interface each goes on, in config order. */
export function vipAddressesByInterface(c: Pick<VrrpInstanceConfig, 'interface' | 'vipInterfaces' | 'vips'>): Map<string, string[]> {
  const byInterface = new Map<string, string[]>();
  for (const v of c.vips) {
    const iface = vipInterfaceOf(c, v);
    byInterface.set(iface, [...(byInterface.get(iface) ?? []), splitPrefix(v).address]);
  }
  return byInterface;
}
