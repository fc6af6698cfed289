// Readers for the kernel's own views in /proc/PID/net/* — what the kernel of a
// namespace holds (IPVS table, IPVS connections, ARP cache), independent of
// failoverd. PID is any process living in that namespace. Parsers are pure.
import { readFileSync } from 'node:fs';

export interface ProcIpvsDestination {
  address: string;
  port: number;
  forward: string;
  weight: number;
  active: number;
  inactive: number;
}
export interface ProcIpvsService {
  protocol: string;
  address: string;
  port: number;
  scheduler: string;
  destinations: ProcIpvsDestination[];
}
export interface ProcIpvsConnection {
  protocol: string;
  client: string;
  clientPort: number;
  vip: string;
  vipPort: number;
  destination: string;
  destinationPort: number;
  state: string;
  expiresS: number;
}
export interface ProcArpEntry {
  address: string;
  mac: string;
  complete: boolean;
  device: string;
}

function hexIp(hex: string): string {
  const n = Number.parseInt(hex, 16);
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
}

function hexEndpoint(text: string): { address: string; port: number } | undefined {
  const m = /^([0-9A-F]{8}):([0-9A-F]{4})$/i.exec(text);
  return m ? { address: hexIp(m[1]!), port: Number.parseInt(m[2]!, 16) } : undefined;
}

/** /proc/net/ip_vs (IPv4 entries; other lines are skipped). */
export function parseProcIpvs(text: string): ProcIpvsService[] {
  const services: ProcIpvsService[] = [];
  for (const line of text.split('\n')) {
    const svc = /^(TCP|UDP|SCTP)\s+(\S+)\s+(\S+)/.exec(line);
    if (svc) {
      const at = hexEndpoint(svc[2]!);
      if (at) services.push({ protocol: svc[1]!, ...at, scheduler: svc[3]!, destinations: [] });
      continue;
    }
    const dest = /^\s+->\s+(\S+)\s+(\S+)\s+(\d+)\s+(\d+)\s+(\d+)/.exec(line);
    const last = services.at(-1);
    if (dest && last) {
      const at = hexEndpoint(dest[1]!);
      if (at)
        last.destinations.push({ ...at, forward: dest[2]!, weight: Number(dest[3]), active: Number(dest[4]), inactive: Number(dest[5]) });
    }
  }
  return services;
}

/** /proc/net/ip_vs_conn (IPv4 entries). */
export function parseProcIpvsConn(text: string): ProcIpvsConnection[] {
  const out: ProcIpvsConnection[] = [];
  for (const line of text.split('\n')) {
    const m =
      /^(TCP|UDP|SCTP)\s+([0-9A-F]{8})\s+([0-9A-F]{4})\s+([0-9A-F]{8})\s+([0-9A-F]{4})\s+([0-9A-F]{8})\s+([0-9A-F]{4})\s+(\S+)\s+(\d+)/i.exec(
        line,
      );
    if (!m) continue;
    out.push({
      protocol: m[1]!,
      client: hexIp(m[2]!),
      clientPort: Number.parseInt(m[3]!, 16),
      vip: hexIp(m[4]!),
      vipPort: Number.parseInt(m[5]!, 16),
      destination: hexIp(m[6]!),
      destinationPort: Number.parseInt(m[7]!, 16),
      state: m[8]!,
      expiresS: Number(m[9]),
    });
  }
  return out;
}

/** /proc/net/arp. */
export function parseProcArp(text: string): ProcArpEntry[] {
  const out: ProcArpEntry[] = [];
  for (const line of text.split('\n').slice(1)) {
    const m = /^(\d+\.\d+\.\d+\.\d+)\s+0x[0-9a-f]+\s+(0x[0-9a-f]+)\s+([0-9a-f:]{17})\s+\S+\s+(\S+)/i.exec(line);
    if (m) out.push({ address: m[1]!, mac: m[3]!.toLowerCase(), complete: (Number.parseInt(m[2]!, 16) & 0x2) !== 0, device: m[4]! });
  }
  return out;
}

/** Reads /proc/PID/net/NAME; undefined when the process (or its namespace) is gone. */
export function readProcNet(pid: number, name: 'ip_vs' | 'ip_vs_conn' | 'arp'): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/net/${name}`, 'utf8');
  } catch {
    return undefined;
  }
}
