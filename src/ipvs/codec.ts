// IPVS generic netlink attributes ⇄ failoverd's table types. Pure: no sockets.
// Attribute order follows ipvsadm (libipvs), so requests can be compared byte for
// byte with captures of ipvsadm (test/fixtures/ipvs/).
import { AttrWriter } from '../net/attr-writer.js';
import { AttrMap, attr, NetlinkDecodeError, safeDecode, type Attr, type Decoded } from '../net/netlink.js';
import { AF_INET, AF_INET6 } from '../net/constants.js';
import { bytesToIp, ipToBytes } from '../net/sockaddr.js';
import {
  IPPROTO_SCTP,
  IPPROTO_TCP,
  IPPROTO_UDP,
  IPVS_CMD,
  IPVS_CMD_ATTR,
  IPVS_DAEMON_ATTR,
  IPVS_DEST_ATTR,
  IPVS_INFO_ATTR,
  IPVS_STATS_ATTR,
  IPVS_SVC_ATTR,
  IP_VS_CONN_F_DROUTE,
  IP_VS_CONN_F_FWD_MASK,
  IP_VS_CONN_F_MASQ,
  IP_VS_CONN_F_TUNNEL,
  IP_VS_STATE_BACKUP,
  IP_VS_STATE_MASTER,
  IP_VS_SVC_F_ONEPACKET,
  IP_VS_SVC_F_PERSISTENT,
  IP_VS_SVC_F_SCHED1,
  IP_VS_SVC_F_SCHED2,
  IP_VS_TUNNEL_ENCAP_FLAG_CSUM,
  IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM,
  IP_VS_TUNNEL_TYPE,
} from './constants.js';
import { addressFamily, normalizeDestination, normalizeService, normalizeServiceKey } from './normalize.js';
import type { IpvsInfo, IpvsTimeouts, SyncDaemonConfig, SyncDaemonState, SyncDaemonStatus, DestinationKey } from './table.js';
import type {
  ActualDestination,
  ActualService,
  DestinationSpec,
  Forwarding,
  IpFamily,
  IpvsProtocol,
  IpvsStats,
  ServiceKey,
  ServiceSpec,
  TunnelType,
} from './types.js';

/** One generic netlink request: command, top-level attributes, dump or not. */
export interface IpvsRequest {
  cmd: number;
  attrs: Attr[];
  dump: boolean;
  operation: string;
}

// ---- encoding --------------------------------------------------------------

const familyNumber = (f: IpFamily): number => (f === 'inet6' ? AF_INET6 : AF_INET);
const protocolNumber: Record<IpvsProtocol, number> = { tcp: IPPROTO_TCP, udp: IPPROTO_UDP, sctp: IPPROTO_SCTP };
const forwardingNumber: Record<Forwarding, number> = { nat: IP_VS_CONN_F_MASQ, tun: IP_VS_CONN_F_TUNNEL, dr: IP_VS_CONN_F_DROUTE };
const checksumFlags = { none: 0, csum: IP_VS_TUNNEL_ENCAP_FLAG_CSUM, remcsum: IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM } as const;

// A table names the same few addresses over and over, and every request names
// two: their encodings are shared (never written to: encoding copies them). Bounded.
const inetAddrCache = new Map<string, Buffer>();

/** union nf_inet_addr: always 16 bytes, IPv4 in the first four. */
function inetAddr(address: string): Buffer {
  const hit = inetAddrCache.get(address);
  if (hit) return hit;
  const out = Buffer.alloc(16);
  ipToBytes(address).copy(out);
  if (inetAddrCache.size >= 100_000) inetAddrCache.clear();
  inetAddrCache.set(address, out);
  return out;
}

// Service and real-server attributes are written with one AttrWriter (no
// attribute tree per request: a reload sends hundreds of them).
const writer = new AttrWriter();

function writeServiceKey(key: ServiceKey): void {
  const k = normalizeServiceKey(key);
  writer.u16(IPVS_SVC_ATTR.AF, familyNumber(k.family));
  if (k.kind === 'fwmark') {
    writer.u32(IPVS_SVC_ATTR.FWMARK, k.fwmark);
    return;
  }
  writer
    .u16(IPVS_SVC_ATTR.PROTOCOL, protocolNumber[k.protocol])
    .bytes(IPVS_SVC_ATTR.ADDR, inetAddr(k.address))
    .be16(IPVS_SVC_ATTR.PORT, k.port);
}

export function serviceFlagBits(flags: ServiceSpec['flags']): number {
  return (
    (flags.persistent ? IP_VS_SVC_F_PERSISTENT : 0) |
    (flags.onePacket ? IP_VS_SVC_F_ONEPACKET : 0) |
    (flags.schedFallback ? IP_VS_SVC_F_SCHED1 : 0) |
    (flags.schedPort ? IP_VS_SVC_F_SCHED2 : 0)
  );
}

/** The nested IPVS_CMD_ATTR_SERVICE: the key alone, or the full entry. */
export function encodeService(service: ServiceSpec | ServiceKey): Attr {
  writer.reset();
  if (!('scheduler' in service)) {
    writeServiceKey(service);
    return { type: IPVS_CMD_ATTR.SERVICE, value: writer.take(), nested: true };
  }
  const s = normalizeService(service);
  const flags = Buffer.alloc(8);
  flags.writeUInt32LE(serviceFlagBits(s.flags), 0);
  flags.writeUInt32LE(0xffffffff, 4);
  writeServiceKey(s.key);
  writer.string(IPVS_SVC_ATTR.SCHED_NAME, s.scheduler);
  if (s.persistenceEngine) writer.string(IPVS_SVC_ATTR.PE_NAME, s.persistenceEngine);
  writer.bytes(IPVS_SVC_ATTR.FLAGS, flags).u32(IPVS_SVC_ATTR.TIMEOUT, s.persistenceTimeoutSec);
  // Netmask: IPv4, the mask itself, network order; IPv6, the prefix length as a
  // host-order u32 in the same __be32 field (what the kernel compares against 128).
  if (s.key.family === 'inet') writer.bytes(IPVS_SVC_ATTR.NETMASK, ipToBytes(String(s.netmask)));
  else writer.u32(IPVS_SVC_ATTR.NETMASK, Number(s.netmask));
  return { type: IPVS_CMD_ATTR.SERVICE, value: writer.take(), nested: true };
}

function writeDestinationKey(d: DestinationKey): void {
  writer
    .u16(IPVS_DEST_ATTR.ADDR_FAMILY, familyNumber(addressFamily(d.address)))
    .bytes(IPVS_DEST_ATTR.ADDR, inetAddr(d.address))
    .be16(IPVS_DEST_ATTR.PORT, d.port);
}

/** The nested IPVS_CMD_ATTR_DEST: the key alone, or the full entry. */
export function encodeDestination(destination: DestinationSpec | DestinationKey): Attr {
  writer.reset();
  if (!('weight' in destination)) {
    writeDestinationKey(destination);
    return { type: IPVS_CMD_ATTR.DEST, value: writer.take(), nested: true };
  }
  const d = normalizeDestination(destination);
  const tunnel = d.tunnel;
  writeDestinationKey(d);
  writer
    .u32(IPVS_DEST_ATTR.FWD_METHOD, forwardingNumber[d.forwarding])
    .u32(IPVS_DEST_ATTR.WEIGHT, d.weight)
    .u8(IPVS_DEST_ATTR.TUN_TYPE, IP_VS_TUNNEL_TYPE[tunnel?.type ?? 'ipip'])
    .be16(IPVS_DEST_ATTR.TUN_PORT, tunnel?.port ?? 0)
    .u16(IPVS_DEST_ATTR.TUN_FLAGS, checksumFlags[tunnel?.checksum ?? 'none'])
    .u32(IPVS_DEST_ATTR.U_THRESH, d.upperThreshold)
    .u32(IPVS_DEST_ATTR.L_THRESH, d.lowerThreshold);
  return { type: IPVS_CMD_ATTR.DEST, value: writer.take(), nested: true };
}

const daemonStateNumber = (s: SyncDaemonState): number => (s === 'master' ? IP_VS_STATE_MASTER : IP_VS_STATE_BACKUP);

export function encodeDaemon(config: SyncDaemonConfig): Attr {
  const group = config.group;
  return attr.nested(IPVS_CMD_ATTR.DAEMON, [
    attr.u32(IPVS_DAEMON_ATTR.STATE, daemonStateNumber(config.state)),
    attr.string(IPVS_DAEMON_ATTR.MCAST_IFN, config.interface),
    attr.u32(IPVS_DAEMON_ATTR.SYNC_ID, config.syncId),
    config.maxLength !== undefined && attr.u16(IPVS_DAEMON_ATTR.SYNC_MAXLEN, config.maxLength),
    group !== undefined && addressFamily(group) === 'inet' && attr.bytes(IPVS_DAEMON_ATTR.MCAST_GROUP, ipToBytes(group)),
    group !== undefined && addressFamily(group) === 'inet6' && attr.bytes(IPVS_DAEMON_ATTR.MCAST_GROUP6, ipToBytes(group)),
    config.port !== undefined && attr.u16(IPVS_DAEMON_ATTR.MCAST_PORT, config.port),
    config.ttl !== undefined && attr.u8(IPVS_DAEMON_ATTR.MCAST_TTL, config.ttl),
  ]);
}

// ---- requests --------------------------------------------------------------

const req = (cmd: number, attrs: (Attr | undefined)[], operation: string, dump = false): IpvsRequest => ({
  cmd,
  attrs: attrs.filter((a): a is Attr => Boolean(a)),
  dump,
  operation,
});

export const ipvsRequests = {
  getInfo: () => req(IPVS_CMD.GET_INFO, [], 'IPVS_CMD_GET_INFO'),
  listServices: () => req(IPVS_CMD.GET_SERVICE, [], 'IPVS_CMD_GET_SERVICE (dump)', true),
  getService: (key: ServiceKey) => req(IPVS_CMD.GET_SERVICE, [encodeService(key)], 'IPVS_CMD_GET_SERVICE'),
  listDestinations: (key: ServiceKey) => req(IPVS_CMD.GET_DEST, [encodeService(key)], 'IPVS_CMD_GET_DEST (dump)', true),
  addService: (s: ServiceSpec) => req(IPVS_CMD.NEW_SERVICE, [encodeService(s)], 'IPVS_CMD_NEW_SERVICE'),
  editService: (s: ServiceSpec) => req(IPVS_CMD.SET_SERVICE, [encodeService(s)], 'IPVS_CMD_SET_SERVICE'),
  deleteService: (key: ServiceKey) => req(IPVS_CMD.DEL_SERVICE, [encodeService(key)], 'IPVS_CMD_DEL_SERVICE'),
  addDestination: (key: ServiceKey, d: DestinationSpec) =>
    req(IPVS_CMD.NEW_DEST, [encodeService(key), encodeDestination(d)], 'IPVS_CMD_NEW_DEST'),
  editDestination: (key: ServiceKey, d: DestinationSpec) =>
    req(IPVS_CMD.SET_DEST, [encodeService(key), encodeDestination(d)], 'IPVS_CMD_SET_DEST'),
  deleteDestination: (key: ServiceKey, d: DestinationKey) =>
    req(IPVS_CMD.DEL_DEST, [encodeService(key), encodeDestination({ address: d.address, port: d.port })], 'IPVS_CMD_DEL_DEST'),
  zero: (key?: ServiceKey) => req(IPVS_CMD.ZERO, [key ? encodeService(key) : undefined], 'IPVS_CMD_ZERO'),
  getTimeouts: () => req(IPVS_CMD.GET_CONFIG, [], 'IPVS_CMD_GET_CONFIG'),
  setTimeouts: (t: Partial<IpvsTimeouts>) =>
    req(
      IPVS_CMD.SET_CONFIG,
      [
        attr.u32(IPVS_CMD_ATTR.TIMEOUT_TCP, t.tcp ?? 0),
        attr.u32(IPVS_CMD_ATTR.TIMEOUT_TCP_FIN, t.tcpFin ?? 0),
        attr.u32(IPVS_CMD_ATTR.TIMEOUT_UDP, t.udp ?? 0),
      ],
      'IPVS_CMD_SET_CONFIG',
    ),
  startDaemon: (c: SyncDaemonConfig) => req(IPVS_CMD.NEW_DAEMON, [encodeDaemon(c)], 'IPVS_CMD_NEW_DAEMON'),
  stopDaemon: (state: SyncDaemonState) =>
    req(
      IPVS_CMD.DEL_DAEMON,
      [attr.nested(IPVS_CMD_ATTR.DAEMON, [attr.u32(IPVS_DAEMON_ATTR.STATE, daemonStateNumber(state))])],
      'IPVS_CMD_DEL_DAEMON',
    ),
  listDaemons: () => req(IPVS_CMD.GET_DAEMON, [], 'IPVS_CMD_GET_DAEMON (dump)', true),
};

// ---- decoding --------------------------------------------------------------

function decodeFamily(n: number | undefined, what: string): IpFamily {
  if (n === AF_INET) return 'inet';
  if (n === AF_INET6) return 'inet6';
  throw new NetlinkDecodeError(`${what}: address family ${n ?? 'missing'} is neither AF_INET nor AF_INET6`);
}

function decodeAddress(raw: Buffer | undefined, family: IpFamily, what: string): string {
  if (raw === undefined) throw new NetlinkDecodeError(`missing attribute: ${what}`);
  const size = family === 'inet' ? 4 : 16;
  if (raw.length < size) throw new NetlinkDecodeError(`${what} has ${raw.length} bytes, need ${size}`);
  return bytesToIp(raw.subarray(0, size));
}

function decodeStatsMap(m: AttrMap, wide: boolean): IpvsStats {
  const n = (type: number): number => (wide ? m.u64n(type) : m.u32(type)) ?? 0;
  // The 32-bit STATS attribute still carries bytes as u64.
  const bytes = (type: number): number => m.u64n(type) ?? 0;
  return {
    connections: n(IPVS_STATS_ATTR.CONNS),
    packetsIn: n(IPVS_STATS_ATTR.INPKTS),
    packetsOut: n(IPVS_STATS_ATTR.OUTPKTS),
    bytesIn: bytes(IPVS_STATS_ATTR.INBYTES),
    bytesOut: bytes(IPVS_STATS_ATTR.OUTBYTES),
    cps: n(IPVS_STATS_ATTR.CPS),
    ppsIn: n(IPVS_STATS_ATTR.INPPS),
    ppsOut: n(IPVS_STATS_ATTR.OUTPPS),
    bpsIn: n(IPVS_STATS_ATTR.INBPS),
    bpsOut: n(IPVS_STATS_ATTR.OUTBPS),
  };
}

/** STATS64 when the kernel sends it, else the older 32-bit STATS. */
function decodeStatsFrom(m: AttrMap, stats64Type: number, statsType: number): IpvsStats | undefined {
  const wide = m.nested(stats64Type);
  if (wide) return decodeStatsMap(wide, true);
  const narrow = m.nested(statsType);
  return narrow ? decodeStatsMap(narrow, false) : undefined;
}

const protocolName = (n: number | undefined): IpvsProtocol => {
  if (n === IPPROTO_TCP) return 'tcp';
  if (n === IPPROTO_UDP) return 'udp';
  if (n === IPPROTO_SCTP) return 'sctp';
  throw new NetlinkDecodeError(`service protocol ${n ?? 'missing'} is not tcp, udp or sctp`);
};

function decodeServiceAttrs(m: AttrMap): { service: ServiceSpec; stats?: IpvsStats } {
  const family = decodeFamily(m.u16(IPVS_SVC_ATTR.AF), 'IPVS_SVC_ATTR_AF');
  const fwmark = m.u32(IPVS_SVC_ATTR.FWMARK);
  const key: ServiceKey = fwmark
    ? { kind: 'fwmark', family, fwmark }
    : {
        kind: 'address',
        family,
        protocol: protocolName(m.u16(IPVS_SVC_ATTR.PROTOCOL)),
        address: decodeAddress(m.raw(IPVS_SVC_ATTR.ADDR), family, 'IPVS_SVC_ATTR_ADDR'),
        port: m.require(m.be16(IPVS_SVC_ATTR.PORT), 'IPVS_SVC_ATTR_PORT'),
      };
  const flagsRaw = m.raw(IPVS_SVC_ATTR.FLAGS);
  if (flagsRaw !== undefined && flagsRaw.length < 4)
    throw new NetlinkDecodeError(`IPVS_SVC_ATTR_FLAGS has ${flagsRaw.length} bytes, need 8`);
  const bits = flagsRaw ? flagsRaw.readUInt32LE(0) : 0;
  const netmaskRaw = m.raw(IPVS_SVC_ATTR.NETMASK);
  if (netmaskRaw !== undefined && netmaskRaw.length < 4)
    throw new NetlinkDecodeError(`IPVS_SVC_ATTR_NETMASK has ${netmaskRaw.length} bytes, need 4`);
  const persistent = (bits & IP_VS_SVC_F_PERSISTENT) !== 0;
  const service: ServiceSpec = {
    key,
    scheduler: m.string(IPVS_SVC_ATTR.SCHED_NAME) ?? '',
    flags: {
      persistent,
      onePacket: (bits & IP_VS_SVC_F_ONEPACKET) !== 0,
      schedFallback: (bits & IP_VS_SVC_F_SCHED1) !== 0,
      schedPort: (bits & IP_VS_SVC_F_SCHED2) !== 0,
    },
    persistenceTimeoutSec: persistent ? (m.u32(IPVS_SVC_ATTR.TIMEOUT) ?? 0) : 0,
    netmask:
      netmaskRaw === undefined
        ? family === 'inet'
          ? '255.255.255.255'
          : 128
        : family === 'inet'
          ? bytesToIp(netmaskRaw.subarray(0, 4))
          : netmaskRaw.readUInt32LE(0),
  };
  const pe = m.string(IPVS_SVC_ATTR.PE_NAME);
  if (pe) service.persistenceEngine = pe;
  const stats = decodeStatsFrom(m, IPVS_SVC_ATTR.STATS64, IPVS_SVC_ATTR.STATS);
  return stats ? { service, stats } : { service };
}

/** A GET_SERVICE reply (the genl attributes, after the genl header). */
export function decodeServiceMessage(attrs: Buffer): Decoded<ActualService> {
  return safeDecode(() => {
    const top = AttrMap.parse(attrs);
    const nested = top.require(top.nested(IPVS_CMD_ATTR.SERVICE), 'IPVS_CMD_ATTR_SERVICE');
    const { service, stats } = decodeServiceAttrs(nested);
    return stats ? { service, destinations: [], stats } : { service, destinations: [] };
  });
}

const forwardingName = (n: number): Forwarding => {
  const method = n & IP_VS_CONN_F_FWD_MASK;
  if (method === IP_VS_CONN_F_DROUTE) return 'dr';
  if (method === IP_VS_CONN_F_MASQ) return 'nat';
  if (method === IP_VS_CONN_F_TUNNEL) return 'tun';
  throw new NetlinkDecodeError(
    `destination forwarding method ${method} is not masq, tunnel or droute (local-node and bypass are not supported)`,
  );
};

const tunnelTypeName = (n: number): TunnelType => {
  const name = (Object.keys(IP_VS_TUNNEL_TYPE) as TunnelType[]).find((k) => IP_VS_TUNNEL_TYPE[k] === n);
  if (!name) throw new NetlinkDecodeError(`tunnel type ${n} is not ipip, gue or gre`);
  return name;
};

function decodeDestinationAttrs(m: AttrMap, serviceFamily: IpFamily): ActualDestination {
  // Older kernels omit ADDR_FAMILY: the destination then has the service's family.
  const familyNum = m.u16(IPVS_DEST_ATTR.ADDR_FAMILY);
  const family = familyNum === undefined ? serviceFamily : decodeFamily(familyNum, 'IPVS_DEST_ATTR_ADDR_FAMILY');
  const forwarding = forwardingName(m.require(m.u32(IPVS_DEST_ATTR.FWD_METHOD), 'IPVS_DEST_ATTR_FWD_METHOD'));
  const d: ActualDestination = {
    address: decodeAddress(m.raw(IPVS_DEST_ATTR.ADDR), family, 'IPVS_DEST_ATTR_ADDR'),
    port: m.require(m.be16(IPVS_DEST_ATTR.PORT), 'IPVS_DEST_ATTR_PORT'),
    weight: m.require(m.u32(IPVS_DEST_ATTR.WEIGHT), 'IPVS_DEST_ATTR_WEIGHT'),
    forwarding,
    upperThreshold: m.u32(IPVS_DEST_ATTR.U_THRESH) ?? 0,
    lowerThreshold: m.u32(IPVS_DEST_ATTR.L_THRESH) ?? 0,
    activeConnections: m.u32(IPVS_DEST_ATTR.ACTIVE_CONNS) ?? 0,
    inactiveConnections: m.u32(IPVS_DEST_ATTR.INACT_CONNS) ?? 0,
    persistentConnections: m.u32(IPVS_DEST_ATTR.PERSIST_CONNS) ?? 0,
  };
  if (forwarding === 'tun') {
    const flags = m.u16(IPVS_DEST_ATTR.TUN_FLAGS) ?? 0;
    d.tunnel = {
      type: tunnelTypeName(m.u8(IPVS_DEST_ATTR.TUN_TYPE) ?? 0),
      port: m.be16(IPVS_DEST_ATTR.TUN_PORT) ?? 0,
      checksum: flags & IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM ? 'remcsum' : flags & IP_VS_TUNNEL_ENCAP_FLAG_CSUM ? 'csum' : 'none',
    };
  }
  const stats = decodeStatsFrom(m, IPVS_DEST_ATTR.STATS64, IPVS_DEST_ATTR.STATS);
  if (stats) d.stats = stats;
  return d;
}

/** A GET_DEST dump message; `serviceFamily` stands in when the kernel omits the destination's family. */
export function decodeDestinationMessage(attrs: Buffer, serviceFamily: IpFamily): Decoded<ActualDestination> {
  return safeDecode(() => {
    const top = AttrMap.parse(attrs);
    return decodeDestinationAttrs(top.require(top.nested(IPVS_CMD_ATTR.DEST), 'IPVS_CMD_ATTR_DEST'), serviceFamily);
  });
}

/** A request as ipvsadm or failoverd sends it, read back (for golden tests and tracing). */
export function decodeRequest(
  attrs: Buffer,
): Decoded<{ service?: ServiceSpec | ServiceKey; destination?: DestinationSpec | DestinationKey }> {
  return safeDecode(() => {
    const top = AttrMap.parse(attrs);
    const out: { service?: ServiceSpec | ServiceKey; destination?: DestinationSpec | DestinationKey } = {};
    const svc = top.nested(IPVS_CMD_ATTR.SERVICE);
    if (svc) out.service = svc.has(IPVS_SVC_ATTR.SCHED_NAME) ? decodeServiceAttrs(svc).service : decodeServiceAttrs(svc).service.key;
    const dest = top.nested(IPVS_CMD_ATTR.DEST);
    if (dest) {
      const family = out.service ? ('key' in out.service ? out.service.key.family : out.service.family) : 'inet';
      if (dest.has(IPVS_DEST_ATTR.FWD_METHOD)) {
        const {
          activeConnections: _a,
          inactiveConnections: _i,
          persistentConnections: _p,
          stats: _s,
          ...spec
        } = decodeDestinationAttrs(dest, family);
        out.destination = spec;
      } else {
        const f = dest.u16(IPVS_DEST_ATTR.ADDR_FAMILY);
        const fam = f === undefined ? family : decodeFamily(f, 'IPVS_DEST_ATTR_ADDR_FAMILY');
        out.destination = {
          address: decodeAddress(dest.raw(IPVS_DEST_ATTR.ADDR), fam, 'IPVS_DEST_ATTR_ADDR'),
          port: dest.require(dest.be16(IPVS_DEST_ATTR.PORT), 'IPVS_DEST_ATTR_PORT'),
        };
      }
    }
    return out;
  });
}

export function decodeDaemonMessage(attrs: Buffer): Decoded<SyncDaemonStatus> {
  return safeDecode(() => {
    const top = AttrMap.parse(attrs);
    const m = top.require(top.nested(IPVS_CMD_ATTR.DAEMON), 'IPVS_CMD_ATTR_DAEMON');
    const stateNum = m.require(m.u32(IPVS_DAEMON_ATTR.STATE), 'IPVS_DAEMON_ATTR_STATE');
    if (stateNum !== IP_VS_STATE_MASTER && stateNum !== IP_VS_STATE_BACKUP)
      throw new NetlinkDecodeError(`sync daemon state ${stateNum} is neither master nor backup`);
    const out: SyncDaemonStatus = {
      state: stateNum === IP_VS_STATE_MASTER ? 'master' : 'backup',
      interface: m.require(m.string(IPVS_DAEMON_ATTR.MCAST_IFN), 'IPVS_DAEMON_ATTR_MCAST_IFN'),
      syncId: m.require(m.u32(IPVS_DAEMON_ATTR.SYNC_ID), 'IPVS_DAEMON_ATTR_SYNC_ID'),
    };
    const maxLength = m.u16(IPVS_DAEMON_ATTR.SYNC_MAXLEN);
    if (maxLength !== undefined) out.maxLength = maxLength;
    const g4 = m.raw(IPVS_DAEMON_ATTR.MCAST_GROUP);
    const g6 = m.raw(IPVS_DAEMON_ATTR.MCAST_GROUP6);
    if (g4 && g4.length >= 4) out.group = bytesToIp(g4.subarray(0, 4));
    else if (g6 && g6.length >= 16) out.group = bytesToIp(g6.subarray(0, 16));
    const port = m.u16(IPVS_DAEMON_ATTR.MCAST_PORT);
    if (port !== undefined) out.port = port;
    const ttl = m.u8(IPVS_DAEMON_ATTR.MCAST_TTL);
    if (ttl !== undefined) out.ttl = ttl;
    return out;
  });
}

export function decodeTimeoutsMessage(attrs: Buffer): Decoded<IpvsTimeouts> {
  return safeDecode(() => {
    const m = AttrMap.parse(attrs);
    return {
      tcp: m.u32(IPVS_CMD_ATTR.TIMEOUT_TCP) ?? 0,
      tcpFin: m.u32(IPVS_CMD_ATTR.TIMEOUT_TCP_FIN) ?? 0,
      udp: m.u32(IPVS_CMD_ATTR.TIMEOUT_UDP) ?? 0,
    };
  });
}

export function decodeInfoMessage(attrs: Buffer): Decoded<IpvsInfo> {
  return safeDecode(() => {
    const m = AttrMap.parse(attrs);
    const code = m.require(m.u32(IPVS_INFO_ATTR.VERSION), 'IPVS_INFO_ATTR_VERSION');
    return {
      versionCode: code,
      version: `${(code >> 16) & 0xff}.${(code >> 8) & 0xff}.${code & 0xff}`,
      connectionTableSize: m.require(m.u32(IPVS_INFO_ATTR.CONN_TAB_SIZE), 'IPVS_INFO_ATTR_CONN_TAB_SIZE'),
    };
  });
}
