// What a direct-routing real server needs, as data: each VIP on lo (so it accepts
// packets addressed to the VIP and answers from it), and ARP settings so it never
// answers or announces the VIP on the wire (only the director may own it there).
import { isIP } from 'node:net';

export interface SysctlSetting {
  key: string;
  value: string;
  why: string;
}
export interface LoAddress {
  address: string;
  prefixLength: number;
}

export const DR_SYSCTLS: readonly SysctlSetting[] = [
  { key: 'net.ipv4.conf.all.arp_ignore', value: '1', why: 'answer ARP only for addresses on the interface asked' },
  { key: 'net.ipv4.conf.lo.arp_ignore', value: '1', why: 'answer ARP only for addresses on the interface asked' },
  { key: 'net.ipv4.conf.all.arp_announce', value: '2', why: 'never use the VIP as the ARP source address' },
  { key: 'net.ipv4.conf.lo.arp_announce', value: '2', why: 'never use the VIP as the ARP source address' },
];

/** "net.ipv4.conf.all.arp_ignore" → "/proc/sys/net/ipv4/conf/all/arp_ignore" */
export function sysctlPath(key: string): string {
  return `/proc/sys/${key.replace(/\./g, '/')}`;
}

/** Parses "--vip 10.6.2.195,2001:db8::5" into lo addresses, or an error message. */
export function parseVips(text: string): LoAddress[] | string {
  const out: LoAddress[] = [];
  for (const part of text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const family = isIP(part);
    if (family === 0) return `"${part}" is not an IP address`;
    out.push({ address: part, prefixLength: family === 4 ? 32 : 128 });
  }
  return out.length ? out : 'no VIP given';
}

export interface RealServerState {
  /** Addresses on lo now. */
  loAddresses: LoAddress[];
  /** Current sysctl values by key (undefined when unreadable). */
  sysctls: Record<string, string | undefined>;
}

export type RealServerGap =
  { kind: 'address'; address: LoAddress; message: string } | { kind: 'sysctl'; setting: SysctlSetting; message: string };

/** What is missing for these VIPs; empty when the server is ready. */
export function realServerGaps(vips: LoAddress[], state: RealServerState): RealServerGap[] {
  const gaps: RealServerGap[] = [];
  for (const vip of vips) {
    const present = state.loAddresses.find((a) => a.address === vip.address);
    if (!present) gaps.push({ kind: 'address', address: vip, message: `${vip.address}/${vip.prefixLength} is not on lo` });
    else if (present.prefixLength !== vip.prefixLength)
      gaps.push({
        kind: 'address',
        address: vip,
        message: `${vip.address} is on lo as /${present.prefixLength}, expected /${vip.prefixLength} (a wider prefix makes lo claim its neighbours)`,
      });
  }
  // The ARP settings matter only for IPv4 VIPs (IPv6 has no ARP).
  if (vips.some((v) => v.prefixLength === 32 && isIP(v.address) === 4)) {
    for (const setting of DR_SYSCTLS) {
      const now = state.sysctls[setting.key];
      if (now !== setting.value)
        gaps.push({
          kind: 'sysctl',
          setting,
          message: `${setting.key} is ${now ?? 'unreadable'}, expected ${setting.value} (${setting.why})`,
        });
    }
  }
  return gaps;
}
