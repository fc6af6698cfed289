// The IPVS table as failoverd models it: what the reconciler wants and what the
// kernel has. Shared by the config mapping, health (desired pool) and the netlink client.

export type IpFamily = 'inet' | 'inet6';
export type IpvsProtocol = 'tcp' | 'udp' | 'sctp';
export type Forwarding = 'dr' | 'nat' | 'tun';
export type TunnelType = 'ipip' | 'gue' | 'gre';

/** Identifies a virtual service: by address:port:protocol, or by firewall mark. */
export type ServiceKey =
  | { kind: 'address'; family: IpFamily; protocol: IpvsProtocol; address: string; port: number }
  | { kind: 'fwmark'; family: IpFamily; fwmark: number };

export interface ServiceFlags {
  /** Persistence (ipvsadm -p); the timeout is `persistenceTimeoutSec`. */
  persistent?: boolean;
  onePacket?: boolean;
  /** Scheduler flags for sh/mh (ipvsadm -b sh-fallback,sh-port / mh-fallback,mh-port). */
  schedFallback?: boolean;
  schedPort?: boolean;
}

export interface ServiceSpec {
  key: ServiceKey;
  scheduler: string;
  flags: ServiceFlags;
  /** Persistence timeout in seconds (0 when not persistent). */
  persistenceTimeoutSec: number;
  /** Persistence netmask: dotted IPv4 mask or IPv6 prefix length. */
  netmask: string | number;
  /** Persistence engine, e.g. "sip"; empty when none. */
  persistenceEngine?: string;
}

export interface TunnelSpec {
  type: TunnelType;
  port?: number | undefined;
  /** GUE/GRE checksum options (ipvsadm --tun-nocsum/--tun-csum/--tun-remcsum). */
  checksum?: 'none' | 'csum' | 'remcsum' | undefined;
}

export interface DestinationSpec {
  address: string;
  port: number;
  weight: number;
  forwarding: Forwarding;
  tunnel?: TunnelSpec;
  upperThreshold: number;
  lowerThreshold: number;
}

/** One service with the destinations it should have. */
export interface DesiredService {
  service: ServiceSpec;
  destinations: DestinationSpec[];
}

export interface IpvsStats {
  connections: number;
  packetsIn: number;
  packetsOut: number;
  bytesIn: number;
  bytesOut: number;
  cps: number;
  ppsIn: number;
  ppsOut: number;
  bpsIn: number;
  bpsOut: number;
}

export interface ActualDestination extends DestinationSpec {
  activeConnections: number;
  inactiveConnections: number;
  persistentConnections: number;
  stats?: IpvsStats;
}

export interface ActualService {
  service: ServiceSpec;
  destinations: ActualDestination[];
  stats?: IpvsStats;
}

/** A stable string for a service key: "tcp:10.6.2.195:80", "fwmark:inet:5". */
export function serviceKeyId(key: ServiceKey): string {
  return key.kind === 'fwmark'
    ? `fwmark:${key.family}:${key.fwmark}`
    : `${key.protocol}:${key.family === 'inet6' ? `[${key.address}]` : key.address}:${key.port}`;
}

/** A stable string for a destination within a service: "10.6.2.191:80". */
export function destinationId(d: Pick<DestinationSpec, 'address' | 'port'>): string {
  return d.address.includes(':') ? `[${d.address}]:${d.port}` : `${d.address}:${d.port}`;
}
