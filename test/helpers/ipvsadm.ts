// Reading ipvsadm's listings (-Ln and its column variants, --daemon, --timeout)
// into plain objects, so tests compare the kernel table field by field with an
// independent tool's view of it; and rendering a table as `ipvsadm -R` input.
import type { DesiredService, DestinationSpec, ServiceKey, ServiceSpec } from '../../src/ipvs/types.js';

export interface IpvsadmService {
  /** "TCP" | "UDP" | "SCTP" | "FWM". */
  protocol: string;
  /** "10.6.2.195:80", "[2001:db8::1]:53", or the mark for FWM ("5"). */
  id: string;
  ipv6: boolean;
  /** Words after the address in the plain listing, e.g. ["wlc"], or numbers for --stats. */
  rest: string[];
  scheduler?: string | undefined;
  schedFlags: string[];
  persistent?: number;
  mask?: string | undefined;
  onePacket: boolean;
  pe?: string | undefined;
  destinations: IpvsadmDestination[];
}

export interface IpvsadmDestination {
  /** "10.6.2.191:80" or "[2001:db8::10]:53". */
  id: string;
  /** The remaining columns as printed. */
  columns: string[];
}

const SERVICE_LINE = /^(TCP|UDP|SCTP)\s+(\[[^\]]+\]:\d+|\S+:\d+)\s*(.*)$/;
const FWM_LINE = /^FWM\s+(\d+)(\s+IPv6)?\s*(.*)$/;
const DEST_LINE = /^\s+->\s+(\[[^\]]+\]:\d+|\S+:\d+)\s*(.*)$/;

/** Parses `ipvsadm -Ln [--stats|--rate|--thresholds|--persistent-conn|--tun-info] [--exact]`. */
export function parseIpvsadmList(text: string): IpvsadmService[] {
  const services: IpvsadmService[] = [];
  for (const line of text.split('\n')) {
    let m: RegExpMatchArray | null;
    let service: IpvsadmService | undefined;
    if ((m = line.match(SERVICE_LINE))) {
      service = {
        protocol: m[1]!,
        id: m[2]!,
        ipv6: m[2]!.startsWith('['),
        rest: words(m[3]!),
        schedFlags: [],
        onePacket: false,
        destinations: [],
      };
    } else if ((m = line.match(FWM_LINE))) {
      service = { protocol: 'FWM', id: m[1]!, ipv6: Boolean(m[2]), rest: words(m[3]!), schedFlags: [], onePacket: false, destinations: [] };
    } else if ((m = line.match(DEST_LINE))) {
      const last = services[services.length - 1];
      if (!last) throw new Error(`destination line before any service: ${line}`);
      last.destinations.push({ id: m[1]!, columns: words(m[2]!) });
      continue;
    } else {
      continue;
    }
    interpretServiceWords(service);
    services.push(service);
  }
  return services;
}

function words(s: string): string[] {
  return s.trim() === '' ? [] : s.trim().split(/\s+/);
}

function interpretServiceWords(s: IpvsadmService): void {
  const w = [...s.rest];
  if (w.length === 0 || /^\d/.test(w[0]!)) return;
  s.scheduler = w.shift();
  while (w.length > 0) {
    const word = w.shift()!;
    if (word.startsWith('(')) s.schedFlags = word.replace(/[()]/g, '').split(',').filter(Boolean);
    else if (word === 'persistent') s.persistent = Number(w.shift());
    else if (word === 'mask') s.mask = w.shift();
    else if (word === 'ops') s.onePacket = true;
    else if (word === 'pe') s.pe = w.shift();
    else throw new Error(`unexpected word ${JSON.stringify(word)} in ipvsadm service line ${s.rest.join(' ')}`);
  }
}

/** `ipvsadm -L --daemon`. */
export function parseIpvsadmDaemons(
  text: string,
): { state: string; interface: string; syncId: number; maxLength?: number; group?: string; port?: number; ttl?: number }[] {
  const out = [];
  for (const line of text.split('\n')) {
    const m = line.match(/^(master|backup) sync daemon \((.*)\)$/);
    if (!m) continue;
    const fields = Object.fromEntries(m[2]!.split(', ').map((kv) => kv.split('=') as [string, string]));
    const d: { state: string; interface: string; syncId: number; maxLength?: number; group?: string; port?: number; ttl?: number } = {
      state: m[1]!,
      interface: fields.mcast!,
      syncId: Number(fields.syncid),
    };
    if (fields.maxlen) d.maxLength = Number(fields.maxlen);
    if (fields.group) d.group = fields.group;
    if (fields.port) d.port = Number(fields.port);
    if (fields.ttl) d.ttl = Number(fields.ttl);
    out.push(d);
  }
  return out;
}

/** `ipvsadm -L --timeout`. */
export function parseIpvsadmTimeouts(text: string): { tcp: number; tcpFin: number; udp: number } {
  const m = text.match(/Timeout \(tcp tcpfin udp\): (\d+) (\d+) (\d+)/);
  if (!m) throw new Error(`no timeout line in ${JSON.stringify(text)}`);
  return { tcp: Number(m[1]), tcpFin: Number(m[2]), udp: Number(m[3]) };
}

/** The header line: "IP Virtual Server version 1.2.1 (size=4096)". */
export function parseIpvsadmHeader(text: string): { version: string; size: number } {
  const m = text.match(/IP Virtual Server version (\S+) \(size=(\d+)\)/);
  if (!m) throw new Error(`no header in ${JSON.stringify(text)}`);
  return { version: m[1]!, size: Number(m[2]) };
}

// ---- rendering a desired table as `ipvsadm -R` input ------------------------

const hostPort = (address: string, port: number): string => (address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`);

export function ipvsadmServiceArgs(key: ServiceKey): string {
  if (key.kind === 'fwmark') return `-f ${key.fwmark}${key.family === 'inet6' ? ' -6' : ''}`;
  const flag = { tcp: '-t', udp: '-u', sctp: '--sctp-service' }[key.protocol];
  return `${flag} ${hostPort(key.address, key.port)}`;
}

export function ipvsadmServiceRule(s: ServiceSpec, command = '-A'): string {
  const parts = [command, ipvsadmServiceArgs(s.key), `-s ${s.scheduler}`];
  if (s.flags.persistent) parts.push(`-p ${s.persistenceTimeoutSec}`, `-M ${s.netmask}`);
  const sched = [s.flags.schedFallback && `${s.scheduler}-fallback`, s.flags.schedPort && `${s.scheduler}-port`].filter(Boolean);
  if (sched.length) parts.push(`-b ${sched.join(',')}`);
  if (s.flags.onePacket) parts.push('-o');
  if (s.persistenceEngine) parts.push(`--pe ${s.persistenceEngine}`);
  return parts.join(' ');
}

export function ipvsadmDestinationRule(key: ServiceKey, d: DestinationSpec, command = '-a'): string {
  const parts = [
    command,
    ipvsadmServiceArgs(key),
    `-r ${hostPort(d.address, d.port)}`,
    { dr: '-g', nat: '-m', tun: '-i' }[d.forwarding],
    `-w ${d.weight}`,
  ];
  if (d.upperThreshold) parts.push(`-x ${d.upperThreshold}`);
  if (d.lowerThreshold) parts.push(`-y ${d.lowerThreshold}`);
  if (d.forwarding === 'tun' && d.tunnel) {
    parts.push(`--tun-type ${d.tunnel.type}`);
    if (d.tunnel.type === 'gue') parts.push(`--tun-port ${d.tunnel.port}`);
    if (d.tunnel.checksum === 'csum') parts.push('--tun-csum');
    if (d.tunnel.checksum === 'remcsum') parts.push('--tun-remcsum');
  }
  return parts.join(' ');
}

/** The whole table as `ipvsadm -R` input. */
export function toIpvsadmRules(desired: DesiredService[]): string {
  const lines: string[] = [];
  for (const { service, destinations } of desired) {
    lines.push(ipvsadmServiceRule(service));
    for (const d of destinations) lines.push(ipvsadmDestinationRule(service.key, d));
  }
  return `${lines.join('\n')}\n`;
}

/** Connections scheduled per destination ("10.6.2.191:80" → Conns), from `ipvsadm -Ln --stats`. */
export function destinationConnections(statsListing: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of parseIpvsadmList(statsListing)) for (const d of s.destinations) out.set(d.id, Number(d.columns[0]));
  return out;
}
