// The announcement as a kernel object: a blackhole route for the VIP's /32 or /128 in
// a table no rule looks up, marked with its own protocol number. The routing daemon
// learns it from that table (BIRD: protocol kernel { kernel table N; learn; }; FRR:
// ip import-table N) and announces the VIP with itself as next hop. The kernel keeps
// the route across a restart of the daemon or of the agent, so neither flaps it.
import { AF_INET, AF_INET6, NETLINK_ROUTE } from '../net/constants.js';
import {
  AttrMap,
  attr,
  encodeAttrs,
  NetlinkDecodeError,
  NLM_F_CREATE,
  NLM_F_EXCL,
  safeDecode,
  type Decoded,
  type NetlinkMessage,
} from '../net/netlink.js';
import { NetlinkSocket, type NetlinkSocketOptions } from '../net/netlink-socket.js';
import { bytesToIp, ipFamily, ipToBytes } from '../net/sockaddr.js';

export const RTM_NEWROUTE = 24;
export const RTM_DELROUTE = 25;
export const RTM_GETROUTE = 26;
const RTMSG_LEN = 12;
const RTA_DST = 1;
const RTA_TABLE = 15;
const RTN_BLACKHOLE = 6;
const RT_SCOPE_UNIVERSE = 0;
/** The header's table byte when the table number is in RTA_TABLE. */
const RT_TABLE_UNSPEC = 0;

/** Where announcements live: a table and a protocol number nothing else uses. */
export interface RouteMark {
  table: number;
  protocol: number;
}

export interface MarkedRoute extends RouteMark {
  /** "10.9.9.9/32", "2001:db8::9/128" */
  prefix: string;
  type: number;
}

export function hostPrefix(address: string): string {
  return `${address}/${ipFamily(address) === AF_INET6 ? 128 : 32}`;
}

export function encodeRoute(address: string, mark: RouteMark): Buffer {
  const family = ipFamily(address);
  const header = Buffer.alloc(RTMSG_LEN);
  header.writeUInt8(family, 0);
  header.writeUInt8(family === AF_INET6 ? 128 : 32, 1);
  header.writeUInt8(mark.table < 256 ? mark.table : RT_TABLE_UNSPEC, 4);
  header.writeUInt8(mark.protocol, 5);
  header.writeUInt8(RT_SCOPE_UNIVERSE, 6);
  header.writeUInt8(RTN_BLACKHOLE, 7);
  return Buffer.concat([header, encodeAttrs([attr.bytes(RTA_DST, ipToBytes(address)), attr.u32(RTA_TABLE, mark.table)])]);
}

export function decodeRoute(message: NetlinkMessage): Decoded<MarkedRoute> {
  return safeDecode(() => {
    const p = message.payload;
    if (p.length < RTMSG_LEN) throw new NetlinkDecodeError(`rtmsg has ${p.length} bytes, need ${RTMSG_LEN}`);
    const family = p.readUInt8(0);
    if (family !== AF_INET && family !== AF_INET6) throw new NetlinkDecodeError(`route family ${family} is neither inet nor inet6`);
    const attrs = AttrMap.parse(p.subarray(RTMSG_LEN));
    const dstLen = p.readUInt8(1);
    const raw = attrs.raw(RTA_DST);
    const address = raw ? bytesToIp(raw) : family === AF_INET ? '0.0.0.0' : '::';
    return {
      prefix: `${address}/${dstLen}`,
      table: attrs.u32(RTA_TABLE) ?? p.readUInt8(4),
      protocol: p.readUInt8(5),
      type: p.readUInt8(7),
    };
  });
}

/** What the announcer needs from the kernel; tests give it a fake. */
export interface RouteIo {
  /** Host prefixes in the table with the mark ("10.9.9.9/32"). */
  list(): Promise<string[]>;
  /** Idempotent: a route already there is success. */
  add(address: string): Promise<void>;
  /** Idempotent: a route already gone is success. */
  remove(address: string): Promise<void>;
  close(): void;
}

export function kernelRoutes(mark: RouteMark, options: NetlinkSocketOptions = {}): RouteIo {
  let socket: NetlinkSocket | undefined;
  const open = (): NetlinkSocket => (socket ??= new NetlinkSocket(NETLINK_ROUTE, options));
  return {
    async list() {
      const out: string[] = [];
      for (const family of [AF_INET, AF_INET6]) {
        const header = Buffer.alloc(RTMSG_LEN);
        header.writeUInt8(family, 0);
        const replies = await open().request(RTM_GETROUTE, 0, header, { dump: true, operation: 'RTM_GETROUTE dump' });
        for (const m of replies) {
          if (m.type !== RTM_NEWROUTE) continue;
          const decoded = decodeRoute(m);
          if (!decoded.ok) throw new NetlinkDecodeError(`malformed route message from the kernel: ${decoded.error}`);
          const r = decoded.value;
          if (r.table === mark.table && r.protocol === mark.protocol) out.push(r.prefix);
        }
      }
      return out;
    },
    async add(address) {
      try {
        await open().request(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, encodeRoute(address, mark), {
          operation: `announce ${hostPrefix(address)} (table ${mark.table})`,
        });
      } catch (err) {
        if ((err as { code?: string }).code !== 'EEXIST') throw err;
      }
    },
    async remove(address) {
      try {
        await open().request(RTM_DELROUTE, 0, encodeRoute(address, mark), {
          operation: `withdraw ${hostPrefix(address)} (table ${mark.table})`,
        });
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code !== 'ESRCH' && code !== 'ENOENT') throw err;
      }
    },
    close() {
      socket?.close();
      socket = undefined;
    },
  };
}
