// Writes netlink attributes straight into one reused scratch buffer and hands
// out a copy of the result: no object or buffer per attribute. For requests built
// in bulk (an IPVS reload issues hundreds), where an attribute tree per request
// was most of the garbage. The bytes are those encodeAttrs gives for the same
// attributes (test/unit/net/netlink-fuzz.test.ts); a nested attribute is the
// result wrapped in an Attr with `nested: true`.
import { align4, NLA_HDRLEN } from './netlink.js';

export class AttrWriter {
  private buf = Buffer.alloc(512);
  private length = 0;

  private reserve(bytes: number): number {
    const at = this.length;
    if (at + bytes > this.buf.length) {
      const bigger = Buffer.alloc(Math.max(this.buf.length * 2, at + bytes));
      this.buf.copy(bigger, 0, 0, at);
      this.buf = bigger;
    }
    this.length = at + align4(bytes);
    // Padding is part of the message: it must be zero, and the buffer is reused.
    this.buf.fill(0, at + bytes, this.length);
    return at;
  }

  private leaf(type: number, valueBytes: number): number {
    const at = this.reserve(NLA_HDRLEN + valueBytes);
    this.buf.writeUInt16LE(NLA_HDRLEN + valueBytes, at);
    this.buf.writeUInt16LE(type, at + 2);
    return at + NLA_HDRLEN;
  }

  u8(type: number, v: number): this {
    this.buf[this.leaf(type, 1)] = v & 0xff;
    return this;
  }

  u16(type: number, v: number): this {
    const at = this.leaf(type, 2);
    this.buf.writeUInt16LE(v, at);
    return this;
  }

  be16(type: number, v: number): this {
    const at = this.leaf(type, 2);
    this.buf.writeUInt16BE(v, at);
    return this;
  }

  u32(type: number, v: number): this {
    const at = this.leaf(type, 4);
    this.buf.writeUInt32LE(v >>> 0, at);
    return this;
  }

  bytes(type: number, b: Uint8Array): this {
    this.buf.set(b, this.leaf(type, b.byteLength));
    return this;
  }

  /** NUL-terminated. */
  string(type: number, s: string): this {
    const n = Buffer.byteLength(s, 'utf8');
    const at = this.leaf(type, n + 1);
    this.buf.write(s, at, 'utf8');
    this.buf[at + n] = 0;
    return this;
  }

  /** Starts empty: whatever a write that threw halfway left is dropped. */
  reset(): this {
    this.length = 0;
    return this;
  }

  /** The attributes written so far, copied out; the writer starts empty again. */
  take(): Buffer {
    const out = Buffer.allocUnsafe(this.length);
    this.buf.copy(out, 0, 0, this.length);
    this.length = 0;
    return out;
  }
}
