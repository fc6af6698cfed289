// Netlink message framing and attributes (TLVs): pure encode/decode over bytes.
// Layouts from <linux/netlink.h>. Host byte order is little-endian (x86_64).
import { errnoCode } from './errno.js';

export const NLMSG_HDRLEN = 16;
export const NLA_HDRLEN = 4;

export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLMSG_OVERRUN = 4;

export const NLM_F_REQUEST = 0x01;
export const NLM_F_MULTI = 0x02;
export const NLM_F_ACK = 0x04;
export const NLM_F_ECHO = 0x08;
export const NLM_F_DUMP_INTR = 0x10;
// GET requests
export const NLM_F_ROOT = 0x100;
export const NLM_F_MATCH = 0x200;
export const NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH;
// NEW requests
export const NLM_F_REPLACE = 0x100;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
export const NLM_F_APPEND = 0x800;
// ACK flags
export const NLM_F_CAPPED = 0x100;
export const NLM_F_ACK_TLVS = 0x200;

export const NLA_F_NESTED = 0x8000;
export const NLA_F_NET_BYTEORDER = 0x4000;
export const NLA_TYPE_MASK = ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER) & 0xffff;

export const NLMSGERR_ATTR_MSG = 1;
export const NLMSGERR_ATTR_OFFS = 2;

export const align4 = (n: number): number => (n + 3) & ~3;

export type Decoded<T> = { ok: true; value: T } | { ok: false; error: string };

/** Thrown by typed getters on malformed input; decoders turn it into a Decoded error. */
export class NetlinkDecodeError extends Error {
  override name = 'NetlinkDecodeError';
}

/** Runs a decoder, turning any malformed-input failure into an error result, never a throw. */
export function safeDecode<T>(decode: () => T): Decoded<T> {
  try {
    return { ok: true, value: decode() };
  } catch (err) {
    if (err instanceof NetlinkDecodeError || err instanceof RangeError) return { ok: false, error: err.message };
    throw err;
  }
}

export interface NetlinkMessage {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  payload: Buffer;
}

export function encodeMessage(message: Omit<NetlinkMessage, 'payload'> & { payload?: Uint8Array }): Buffer {
  const payload = message.payload ?? Buffer.alloc(0);
  const length = NLMSG_HDRLEN + payload.length;
  const out = Buffer.alloc(align4(length));
  out.writeUInt32LE(length, 0);
  out.writeUInt16LE(message.type, 4);
  out.writeUInt16LE(message.flags, 6);
  out.writeUInt32LE(message.seq >>> 0, 8);
  out.writeUInt32LE(message.pid >>> 0, 12);
  Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).copy(out, NLMSG_HDRLEN);
  return out;
}

/** Splits a datagram into netlink messages; any inconsistency is an error, not a throw. */
export function decodeMessages(buf: Buffer): Decoded<NetlinkMessage[]> {
  const messages: NetlinkMessage[] = [];
  let offset = 0;
  while (offset < buf.length) {
    if (buf.length - offset < NLMSG_HDRLEN)
      return { ok: false, error: `truncated netlink header at offset ${offset}: ${buf.length - offset} bytes left, need ${NLMSG_HDRLEN}` };
    const length = buf.readUInt32LE(offset);
    if (length < NLMSG_HDRLEN)
      return { ok: false, error: `netlink message at offset ${offset} has length ${length} < header ${NLMSG_HDRLEN}` };
    if (offset + length > buf.length)
      return { ok: false, error: `truncated netlink message at offset ${offset}: length ${length}, ${buf.length - offset} bytes left` };
    messages.push({
      type: buf.readUInt16LE(offset + 4),
      flags: buf.readUInt16LE(offset + 6),
      seq: buf.readUInt32LE(offset + 8),
      pid: buf.readUInt32LE(offset + 12),
      payload: buf.subarray(offset + NLMSG_HDRLEN, offset + length),
    });
    offset += align4(length);
  }
  return { ok: true, value: messages };
}

// ---- attributes ----------------------------------------------------------

/** An attribute to encode: raw bytes, or nested children. */
/** An unsigned integer value, written straight into the message (no buffer of its own). */
export interface IntValue {
  uint: number;
  bytes: 1 | 2 | 4;
  bigEndian: boolean;
}

export interface Attr {
  type: number;
  value: Uint8Array | Attr[] | IntValue;
  /** Set NLA_F_NET_BYTEORDER. */
  netByteOrder?: boolean;
  /** The value is attributes already encoded (AttrWriter): a nested attribute. */
  nested?: boolean;
}

const valueLength = (v: Attr['value']): number => (Array.isArray(v) ? attrsLength(v) : v instanceof Uint8Array ? v.byteLength : v.bytes);

/** Encoded size of attributes, padding included (what encodeAttrs returns the length of). */
export function attrsLength(attrs: readonly (Attr | undefined | false)[]): number {
  let n = 0;
  for (const attr of attrs) {
    if (!attr) continue;
    n += align4(NLA_HDRLEN + valueLength(attr.value));
  }
  return n;
}

/**
 * Writes attributes at `offset` (the buffer must have attrsLength bytes there,
 * zeroed for the padding) and returns the offset after them. One buffer for a
 * whole message: small requests in bulk would otherwise allocate per attribute.
 */
export function writeAttrs(out: Buffer, offset: number, attrs: readonly (Attr | undefined | false)[]): number {
  for (const attr of attrs) {
    if (!attr) continue;
    const nested = Array.isArray(attr.value) || attr.nested === true;
    const start = offset;
    offset += NLA_HDRLEN;
    const v = attr.value;
    if (Array.isArray(v)) offset = writeAttrs(out, offset, v);
    else if (v instanceof Uint8Array) {
      out.set(v, offset);
      offset += v.byteLength;
    } else {
      const { uint, bytes, bigEndian } = v;
      offset = bigEndian ? out.writeUIntBE(uint, offset, bytes) : out.writeUIntLE(uint, offset, bytes);
    }
    const length = offset - start;
    if (length > 0xffff) throw new RangeError(`netlink attribute ${attr.type} is ${length} bytes, over 65535`);
    out.writeUInt16LE(length, start);
    out.writeUInt16LE(attr.type | (nested ? NLA_F_NESTED : 0) | (attr.netByteOrder ? NLA_F_NET_BYTEORDER : 0), start + 2);
    offset = start + align4(length);
  }
  return offset;
}

export function encodeAttrs(attrs: readonly (Attr | undefined | false)[]): Buffer {
  const out = Buffer.alloc(attrsLength(attrs));
  writeAttrs(out, 0, attrs);
  return out;
}

/** Out-of-range values fail when the attribute is made, as a buffer write would. */
function uint16(v: number): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff)
    throw new RangeError(`The value of "value" is out of range. It must be >= 0 and <= 65535. Received ${v}`);
  return v;
}

export const attr = {
  u8: (type: number, v: number): Attr => ({ type, value: { uint: v & 0xff, bytes: 1, bigEndian: false } }),
  u16: (type: number, v: number): Attr => ({ type, value: { uint: uint16(v), bytes: 2, bigEndian: false } }),
  be16: (type: number, v: number): Attr => ({ type, value: { uint: uint16(v), bytes: 2, bigEndian: true } }),
  u32: (type: number, v: number): Attr => ({ type, value: { uint: v >>> 0, bytes: 4, bigEndian: false } }),
  s32: (type: number, v: number): Attr => {
    const b = Buffer.alloc(4);
    b.writeInt32LE(v);
    return { type, value: b };
  },
  be32: (type: number, v: number): Attr => ({ type, value: { uint: v >>> 0, bytes: 4, bigEndian: true } }),
  u64: (type: number, v: bigint | number): Attr => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    return { type, value: b };
  },
  /** NUL-terminated string. */
  string: (type: number, s: string): Attr => ({ type, value: Buffer.concat([Buffer.from(s, 'utf8'), Buffer.from([0])]) }),
  bytes: (type: number, b: Uint8Array): Attr => ({ type, value: b }),
  flag: (type: number): Attr => ({ type, value: Buffer.alloc(0) }),
  nested: (type: number, children: readonly (Attr | undefined | false)[]): Attr => ({
    type,
    value: children.filter((c): c is Attr => Boolean(c)),
  }),
};

/** Decoded attributes with typed getters. Getters throw NetlinkDecodeError on a malformed value. */
export class AttrMap {
  private readonly byType = new Map<number, Buffer[]>();
  readonly order: { type: number; nested: boolean; value: Buffer }[] = [];

  static parse(buf: Buffer): AttrMap {
    const map = new AttrMap();
    let offset = 0;
    while (offset + NLA_HDRLEN <= buf.length) {
      const length = buf.readUInt16LE(offset);
      const rawType = buf.readUInt16LE(offset + 2);
      if (length < NLA_HDRLEN) throw new NetlinkDecodeError(`attribute at offset ${offset} has length ${length} < ${NLA_HDRLEN}`);
      if (offset + length > buf.length)
        throw new NetlinkDecodeError(
          `attribute type ${rawType & NLA_TYPE_MASK} at offset ${offset} overruns its container (length ${length}, ${buf.length - offset} bytes left)`,
        );
      const type = rawType & NLA_TYPE_MASK;
      const value = buf.subarray(offset + NLA_HDRLEN, offset + length);
      map.order.push({ type, nested: (rawType & NLA_F_NESTED) !== 0, value });
      const list = map.byType.get(type);
      if (list) list.push(value);
      else map.byType.set(type, [value]);
      offset += align4(length);
    }
    if (offset < buf.length && buf.length - offset >= 1 && buf.subarray(offset).some((b) => b !== 0)) {
      throw new NetlinkDecodeError(`${buf.length - offset} trailing bytes after the last attribute`);
    }
    return map;
  }

  has(type: number): boolean {
    return this.byType.has(type);
  }

  raw(type: number): Buffer | undefined {
    return this.byType.get(type)?.[0];
  }

  all(type: number): Buffer[] {
    return this.byType.get(type) ?? [];
  }

  private sized(type: number, size: number, what: string): Buffer | undefined {
    const v = this.raw(type);
    if (v === undefined) return undefined;
    if (v.length < size) throw new NetlinkDecodeError(`attribute ${type} (${what}) has ${v.length} bytes, need ${size}`);
    return v;
  }

  u8(type: number): number | undefined {
    return this.sized(type, 1, 'u8')?.readUInt8(0);
  }
  u16(type: number): number | undefined {
    return this.sized(type, 2, 'u16')?.readUInt16LE(0);
  }
  be16(type: number): number | undefined {
    return this.sized(type, 2, 'be16')?.readUInt16BE(0);
  }
  u32(type: number): number | undefined {
    return this.sized(type, 4, 'u32')?.readUInt32LE(0);
  }
  s32(type: number): number | undefined {
    return this.sized(type, 4, 's32')?.readInt32LE(0);
  }
  be32(type: number): number | undefined {
    return this.sized(type, 4, 'be32')?.readUInt32BE(0);
  }
  u64(type: number): bigint | undefined {
    return this.sized(type, 8, 'u64')?.readBigUInt64LE(0);
  }

  /** u64 as a JS number (exact up to 2^53; counters beyond that lose precision, not wrap). */
  u64n(type: number): number | undefined {
    const v = this.u64(type);
    return v === undefined ? undefined : Number(v);
  }

  string(type: number): string | undefined {
    const v = this.raw(type);
    if (v === undefined) return undefined;
    const end = v.indexOf(0);
    return v.subarray(0, end < 0 ? v.length : end).toString('utf8');
  }

  nested(type: number): AttrMap | undefined {
    const v = this.raw(type);
    return v === undefined ? undefined : AttrMap.parse(v);
  }

  /** Every instance of a repeated nested attribute, or the children of a nested array. */
  nestedList(type: number): AttrMap[] {
    return this.all(type).map((v) => AttrMap.parse(v));
  }

  require<T>(value: T | undefined, what: string): T {
    if (value === undefined) throw new NetlinkDecodeError(`missing attribute: ${what}`);
    return value;
  }
}

// ---- errors ----------------------------------------------------------------

export interface NetlinkErrorInfo {
  /** Positive errno; 0 means an ACK. */
  errno: number;
  /** The extended-ack message from the kernel, when it gives one. */
  extAck?: string;
  /** Offset of the offending attribute in the request, when given. */
  extAckOffset?: number;
  /** Header of the request this answers. */
  request: { type: number; flags: number; seq: number; pid: number };
}

export function decodeErrorMessage(message: NetlinkMessage): Decoded<NetlinkErrorInfo> {
  return safeDecode(() => {
    const p = message.payload;
    if (p.length < 4 + NLMSG_HDRLEN) throw new NetlinkDecodeError(`NLMSG_ERROR payload has ${p.length} bytes, need ${4 + NLMSG_HDRLEN}`);
    const error = p.readInt32LE(0);
    const requestLength = p.readUInt32LE(4);
    const request = { type: p.readUInt16LE(8), flags: p.readUInt16LE(10), seq: p.readUInt32LE(12), pid: p.readUInt32LE(16) };
    const info: NetlinkErrorInfo = { errno: error === 0 ? 0 : -error, request };
    if (message.flags & NLM_F_ACK_TLVS) {
      const echoed = message.flags & NLM_F_CAPPED ? NLMSG_HDRLEN : align4(requestLength);
      const tlvStart = 4 + echoed;
      if (tlvStart <= p.length) {
        const attrs = AttrMap.parse(p.subarray(tlvStart));
        const text = attrs.string(NLMSGERR_ATTR_MSG);
        if (text) info.extAck = text;
        const offset = attrs.u32(NLMSGERR_ATTR_OFFS);
        if (offset !== undefined) info.extAckOffset = offset;
      }
    }
    return info;
  });
}

/** A kernel refusal, with the errno name as `code` and the kernel's own words when it gave any. */
export class NetlinkError extends Error {
  override name = 'NetlinkError';
  readonly code: string;
  constructor(
    readonly errno: number,
    readonly extAck: string | undefined,
    readonly operation: string,
  ) {
    super(`${operation}: ${errnoCode(errno)}${extAck ? ` (${extAck})` : ''}`);
    this.code = errnoCode(errno);
  }
}
