import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AttrMap, attr, decodeErrorMessage, decodeMessages, encodeAttrs, encodeMessage, safeDecode, type Attr } from '../../../src/net/netlink.js';
import { decodeFamily } from '../../../src/net/genetlink.js';
import { decodeAddress, decodeLink } from '../../../src/net/rtnetlink.js';

const bytes = fc.uint8Array({ maxLength: 512 }).map((a) => Buffer.from(a));

test('decoders never throw on arbitrary bytes', () => {
  fc.assert(fc.property(bytes, fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff }), (data, type, flags) => {
    const messages = decodeMessages(data);
    assert.equal(typeof messages.ok, 'boolean');
    const message = { type, flags, seq: 0, pid: 0, payload: data };
    for (const decode of [decodeErrorMessage, decodeLink, decodeAddress]) assert.equal(typeof decode(message).ok, 'boolean');
    assert.equal(typeof decodeFamily(data).ok, 'boolean');
    assert.equal(typeof safeDecode(() => AttrMap.parse(data)).ok, 'boolean');
  }), { numRuns: 3000 });
});

const leafAttr: fc.Arbitrary<Attr> = fc.record({ type: fc.integer({ min: 1, max: 0x3fff }), value: fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)) });
const anyAttr: fc.Arbitrary<Attr> = fc.oneof(leafAttr, fc.record({ type: fc.integer({ min: 1, max: 0x3fff }), children: fc.array(leafAttr, { maxLength: 4 }) }).map((r) => attr.nested(r.type, r.children)));

test('attributes round-trip: parse(encode(x)) = x', () => {
  fc.assert(fc.property(fc.array(anyAttr, { maxLength: 8 }), (attrs) => {
    const parsed = AttrMap.parse(encodeAttrs(attrs));
    assert.equal(parsed.order.length, attrs.length);
    attrs.forEach((a, i) => {
      const got = parsed.order[i]!;
      assert.equal(got.type, a.type);
      if (Array.isArray(a.value)) {
        assert.ok(got.nested);
        const children = AttrMap.parse(got.value).order;
        assert.deepEqual(children.map((c) => [c.type, c.value.toString('hex')]), a.value.map((c) => [c.type, Buffer.from(c.value as Uint8Array).toString('hex')]));
      } else {
        assert.equal(got.value.toString('hex'), Buffer.from(a.value).toString('hex'));
      }
    });
  }), { numRuns: 1000 });
});

test('messages round-trip: decode(concat(encode(m...))) = m...', () => {
  const message = fc.record({
    type: fc.integer({ min: 0, max: 0xffff }), flags: fc.integer({ min: 0, max: 0xffff }),
    seq: fc.integer({ min: 0, max: 0xffffffff }), pid: fc.integer({ min: 0, max: 0xffffffff }),
    payload: fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
  });
  fc.assert(fc.property(fc.array(message, { minLength: 1, maxLength: 5 }), (messages) => {
    const decoded = decodeMessages(Buffer.concat(messages.map((m) => encodeMessage(m))));
    assert.ok(decoded.ok);
    assert.deepEqual(decoded.value.map((m) => ({ ...m, payload: m.payload.toString('hex') })), messages.map((m) => ({ ...m, payload: m.payload.toString('hex') })));
  }), { numRuns: 1000 });
});
