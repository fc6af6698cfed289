// Generic netlink: the genlmsghdr codec and family resolution (CTRL_CMD_GETFAMILY).
import { NETLINK_GENERIC } from './constants.js';
import {
  AttrMap,
  attr,
  attrsLength,
  NetlinkDecodeError,
  writeAttrs,
  safeDecode,
  type Attr,
  type Decoded,
  type NetlinkMessage,
} from './netlink.js';
import { NetlinkSocket, type BatchOptions, type BatchResult, type NetlinkSocketOptions, type RequestOptions } from './netlink-socket.js';

export const GENL_HDRLEN = 4;
export const GENL_ID_CTRL = 0x10;
export const CTRL_CMD_GETFAMILY = 3;
export const CTRL_ATTR_FAMILY_ID = 1;
export const CTRL_ATTR_FAMILY_NAME = 2;
export const CTRL_ATTR_VERSION = 3;
export const CTRL_ATTR_HDRSIZE = 4;
export const CTRL_ATTR_MAXATTR = 5;
export const CTRL_ATTR_MCAST_GROUPS = 7;
export const CTRL_ATTR_MCAST_GRP_NAME = 1;
export const CTRL_ATTR_MCAST_GRP_ID = 2;

export interface GenlMessage {
  cmd: number;
  version: number;
  attrs: Buffer;
}

export function encodeGenl(cmd: number, version: number, attrs: readonly (Attr | undefined | false)[] = []): Buffer {
  const out = Buffer.alloc(GENL_HDRLEN + attrsLength(attrs));
  out[0] = cmd;
  out[1] = version;
  writeAttrs(out, GENL_HDRLEN, attrs);
  return out;
}

export function decodeGenl(payload: Buffer): Decoded<GenlMessage> {
  if (payload.length < GENL_HDRLEN) return { ok: false, error: `generic netlink payload has ${payload.length} bytes, need ${GENL_HDRLEN}` };
  return { ok: true, value: { cmd: payload[0]!, version: payload[1]!, attrs: payload.subarray(GENL_HDRLEN) } };
}

export interface GenlFamily {
  id: number;
  name: string;
  version: number;
  headerSize: number;
  maxAttr: number;
  multicastGroups: Map<string, number>;
}

export function decodeFamily(payload: Buffer): Decoded<GenlFamily> {
  const genl = decodeGenl(payload);
  if (!genl.ok) return genl;
  return safeDecode(() => {
    const attrs = AttrMap.parse(genl.value.attrs);
    const groups = new Map<string, number>();
    const groupList = attrs.nested(CTRL_ATTR_MCAST_GROUPS);
    for (const entry of groupList?.order ?? []) {
      const g = AttrMap.parse(entry.value);
      const name = g.string(CTRL_ATTR_MCAST_GRP_NAME);
      const id = g.u32(CTRL_ATTR_MCAST_GRP_ID);
      if (name !== undefined && id !== undefined) groups.set(name, id);
    }
    return {
      id: attrs.require(attrs.u16(CTRL_ATTR_FAMILY_ID), 'CTRL_ATTR_FAMILY_ID'),
      name: attrs.require(attrs.string(CTRL_ATTR_FAMILY_NAME), 'CTRL_ATTR_FAMILY_NAME'),
      version: attrs.u32(CTRL_ATTR_VERSION) ?? 0,
      headerSize: attrs.u32(CTRL_ATTR_HDRSIZE) ?? 0,
      maxAttr: attrs.u32(CTRL_ATTR_MAXATTR) ?? 0,
      multicastGroups: groups,
    };
  });
}

/** A generic netlink socket bound to one family, resolved by name. */
export class GenericNetlinkSocket {
  private constructor(
    private readonly socket: NetlinkSocket,
    readonly family: GenlFamily,
  ) {}

  static async open(familyName: string, options: NetlinkSocketOptions = {}): Promise<GenericNetlinkSocket> {
    const socket = new NetlinkSocket(NETLINK_GENERIC, options);
    try {
      const family = await resolveFamily(socket, familyName);
      return new GenericNetlinkSocket(socket, family);
    } catch (err) {
      socket.close();
      throw err;
    }
  }

  /** Sends a command; resolves with the decoded replies (empty for a plain ACK). */
  async request(
    cmd: number,
    attrs: readonly (Attr | undefined | false)[],
    flags = 0,
    options: RequestOptions = {},
  ): Promise<GenlMessage[]> {
    const replies = await this.socket.request(this.family.id, flags, encodeGenl(cmd, this.family.version, attrs), options);
    return replies.map((m) => {
      const d = decodeGenl(m.payload);
      if (!d.ok) throw new NetlinkDecodeError(`${options.operation ?? 'generic netlink'}: ${d.error}`);
      return d.value;
    });
  }

  /** Commands sent back to back in as few datagrams as fit; each one's outcome, in order (see NetlinkSocket.requestBatch). */
  requestBatch(
    commands: readonly { cmd: number; attrs: readonly (Attr | undefined | false)[]; operation: string }[],
    options: BatchOptions = {},
  ): Promise<BatchResult[]> {
    return this.socket.requestBatch(
      commands.map((c) => ({
        type: this.family.id,
        flags: 0,
        payload: encodeGenl(c.cmd, this.family.version, c.attrs),
        operation: c.operation,
      })),
      options,
    );
  }

  get netlink(): NetlinkSocket {
    return this.socket;
  }

  close(): void {
    this.socket.close();
  }
}

export async function resolveFamily(socket: NetlinkSocket, name: string): Promise<GenlFamily> {
  let replies: NetlinkMessage[];
  try {
    replies = await socket.request(GENL_ID_CTRL, 0, encodeGenl(CTRL_CMD_GETFAMILY, 1, [attr.string(CTRL_ATTR_FAMILY_NAME, name)]), {
      operation: `resolve generic netlink family ${name}`,
    });
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') {
      throw Object.assign(
        new Error(`generic netlink family "${name}" is not in this kernel${name === 'IPVS' ? ' (is the ip_vs module loaded?)' : ''}`),
        { code: 'ENOENT' },
      );
    }
    throw err;
  }
  const first = replies[0];
  if (!first) throw new Error(`resolve generic netlink family ${name}: empty reply`);
  const family = decodeFamily(first.payload);
  if (!family.ok) throw new NetlinkDecodeError(`resolve generic netlink family ${name}: ${family.error}`);
  return family.value;
}
