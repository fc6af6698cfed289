import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  AttrMap,
  attr,
  decodeErrorMessage,
  decodeMessages,
  encodeAttrs,
  encodeMessage,
  safeDecode,
  type Attr,
} from '../../../src/net/netlink.js';
import { decodeFamily } from '../../../src/net/genetlink.js';
import { AttrWriter } from '../../../src/net/attr-writer.js';
import { decodeAddress, decodeLink } from '../../../src/net/rtnetlink.js';

const bytes = fc.uint8Array({ maxLength: 512 }).map((a) => Buffer.from(a));

test('decoders never throw on arbitrary bytes', () => {
  fc.assert(
    fc.property(bytes, fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff }), (data, type, flags) => {
      const messages = decodeMessages(data);
      assert.equal(typeof messages.ok, 'boolean');
      const message = { type, flags, seq: 0, pid: 0, payload: data };
      for (const decode of [decodeErrorMessage, decodeLink, decodeAddress]) assert.equal(typeof decode(message).ok, 'boolean');
      assert.equal(typeof decodeFamily(data).ok, 'boolean');
      assert.equal(typeof safeDecode(() => AttrMap.parse(data)).ok, 'boolean');
    }),
    { numRuns: 3000 },
  );
});

const bytesAttr: fc.Arbitrary<Attr> = fc.record({
  type: fc.integer({ min: 1, max: 0x3fff }),
  value: fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)),
});
// Integer attributes are written straight into the message: the bytes must be what a buffer write gives.
const intAttr: fc.Arbitrary<Attr> = fc
  .record({
    type: fc.integer({ min: 1, max: 0x3fff }),
    kind: fc.constantFrom('u8', 'u16', 'be16', 'u32', 'be32' as const),
    v: fc.integer({ min: 0, max: 0xffffffff }),
  })
  .map(({ type, kind, v }) =>
    kind === 'u8'
      ? attr.u8(type, v)
      : kind === 'u16'
        ? attr.u16(type, v & 0xffff)
        : kind === 'be16'
          ? attr.be16(type, v & 0xffff)
          : kind === 'u32'
            ? attr.u32(type, v)
            : attr.be32(type, v),
  );
const leafAttr: fc.Arbitrary<Attr> = fc.oneof(bytesAttr, intAttr);
const leafBytes = (a: Attr): Buffer => {
  if (a.value instanceof Uint8Array) return Buffer.from(a.value);
  const v = a.value as { uint: number; bytes: number; bigEndian: boolean };
  const b = Buffer.alloc(v.bytes);
  if (v.bigEndian) b.writeUIntBE(v.uint, 0, v.bytes);
  else b.writeUIntLE(v.uint, 0, v.bytes);
  return b;
};
const anyAttr: fc.Arbitrary<Attr> = fc.oneof(
  leafAttr,
  fc
    .record({ type: fc.integer({ min: 1, max: 0x3fff }), children: fc.array(leafAttr, { maxLength: 4 }) })
    .map((r) => attr.nested(r.type, r.children)),
);

test('attributes round-trip: parse(encode(x)) = x', () => {
  fc.assert(
    fc.property(fc.array(anyAttr, { maxLength: 8 }), (attrs) => {
      const parsed = AttrMap.parse(encodeAttrs(attrs));
      assert.equal(parsed.order.length, attrs.length);
      attrs.forEach((a, i) => {
        const got = parsed.order[i]!;
        assert.equal(got.type, a.type);
        if (Array.isArray(a.value)) {
          assert.ok(got.nested);
          const children = AttrMap.parse(got.value).order;
          assert.deepEqual(
            children.map((c) => [c.type, c.value.toString('hex')]),
            a.value.map((c) => [c.type, leafBytes(c).toString('hex')]),
          );
        } else {
          assert.equal(got.value.toString('hex'), leafBytes(a).toString('hex'));
        }
      });
    }),
    { numRuns: 1000 },
  );
});

test('messages round-trip: decode(concat(encode(m...))) = m...', () => {
  const message = fc.record({
    type: fc.integer({ min: 0, max: 0xffff }),
    flags: fc.integer({ min: 0, max: 0xffff }),
    seq: fc.integer({ min: 0, max: 0xffffffff }),
    pid: fc.integer({ min: 0, max: 0xffffffff }),
    payload: fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
  });
  fc.assert(
    fc.property(fc.array(message, { minLength: 1, maxLength: 5 }), (messages) => {
      const decoded = decodeMessages(Buffer.concat(messages.map((m) => encodeMessage(m))));
      assert.ok(decoded.ok);
      assert.deepEqual(
        decoded.value.map((m) => ({ ...m, payload: m.payload.toString('hex') })),
        messages.map((m) => ({ ...m, payload: m.payload.toString('hex') })),
      );
    }),
    { numRuns: 1000 },
  );
});

test('integer attributes encode as the buffer writes they replace, and refuse what those refused', () => {
  assert.equal(
    encodeAttrs([attr.u16(1, 0x1234), attr.be16(2, 0x1234), attr.u32(3, -1), attr.be32(4, 0x01020304), attr.u8(5, 0x1ff)]).toString('hex'),
    '0600010034120000060002001234000008000300ffffffff080004000102030405000500ff000000',
  );
  assert.throws(() => attr.u16(1, 0x10000), RangeError);
  assert.throws(() => attr.be16(1, -1), RangeError);
});

test('AttrWriter writes the bytes encodeAttrs writes, padding zeroed, and a write that threw is dropped by reset', () => {
  const leaf = fc.record({
    type: fc.integer({ min: 1, max: 0x3fff }),
    kind: fc.constantFrom('u8', 'u16', 'be16', 'u32', 'bytes', 'string' as const),
    v: fc.integer({ min: 0, max: 0xffffffff }),
    b: fc.uint8Array({ maxLength: 23 }),
    s: fc.string({ maxLength: 12 }),
  });
  fc.assert(
    fc.property(fc.array(leaf, { maxLength: 10 }), (leaves) => {
      const writer = new AttrWriter();
      writer.bytes(1, new Uint8Array(37).fill(0xee)); // leaves non-zero bytes behind in the scratch buffer
      writer.reset();
      const attrs = leaves.map(({ type, kind, v, b, s }) => {
        switch (kind) {
          case 'u8':
            writer.u8(type, v);
            return attr.u8(type, v);
          case 'u16':
            writer.u16(type, v & 0xffff);
            return attr.u16(type, v & 0xffff);
          case 'be16':
            writer.be16(type, v & 0xffff);
            return attr.be16(type, v & 0xffff);
          case 'u32':
            writer.u32(type, v);
            return attr.u32(type, v);
          case 'bytes':
            writer.bytes(type, b);
            return attr.bytes(type, b);
          default:
            writer.string(type, s);
            return attr.string(type, s);
        }
      });
      assert.equal(writer.take().toString('hex'), encodeAttrs(attrs).toString('hex'));
      assert.equal(
        encodeAttrs([{ type: 9, value: (writer.u16(1, 7), writer.take()), nested: true }]).toString('hex'),
        encodeAttrs([attr.nested(9, [attr.u16(1, 7)])]).toString('hex'),
      );
    }),
    { numRuns: 500 },
  );
  const writer = new AttrWriter();
  assert.throws(() => writer.u16(1, 5).u16(2, 0x10000), RangeError);
  assert.equal(writer.reset().u8(3, 1).take().toString('hex'), '0500030001000000');
});
