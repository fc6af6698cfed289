import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  AttrMap,
  attr,
  decodeErrorMessage,
  decodeMessages,
  encodeAttrs,
  encodeMessage,
  NLM_F_ACK,
  NLM_F_CAPPED,
  NLM_F_ACK_TLVS,
  NLM_F_MULTI,
  NLM_F_REQUEST,
  NLMSG_DONE,
  NLMSG_ERROR,
  NetlinkError,
} from '../../../src/net/netlink.js';
import { decodeFamily, decodeGenl, encodeGenl } from '../../../src/net/genetlink.js';
import { decodeAddress, RTM_NEWADDR } from '../../../src/net/rtnetlink.js';

const fixtureDir = new URL('../../../../test/fixtures/netlink/', import.meta.url);
const fixture = (name: string): Buffer => Buffer.from(readFileSync(new URL(`${name}.hex`, fixtureDir), 'utf8').replace(/\s+/g, ''), 'hex');

function single(buf: Buffer) {
  const decoded = decodeMessages(buf);
  assert.ok(decoded.ok, decoded.ok ? '' : decoded.error);
  assert.equal(decoded.value.length, 1);
  return decoded.value[0]!;
}

test('our GETFAMILY request encodes byte-identical to the captured one', () => {
  const ours = encodeMessage({
    type: 0x10,
    flags: NLM_F_REQUEST | NLM_F_ACK,
    seq: 1,
    pid: 0,
    payload: encodeGenl(3, 1, [attr.string(2, 'IPVS')]),
  });
  assert.equal(ours.toString('hex'), fixture('genl-getfamily-ipvs.request').toString('hex'));
});

test('the controller reply decodes to the IPVS family', () => {
  const message = single(fixture('genl-getfamily-ipvs.reply'));
  assert.equal(message.type, 0x10);
  assert.equal(message.seq, 1);
  const family = decodeFamily(message.payload);
  assert.ok(family.ok);
  assert.equal(family.value.name, 'IPVS');
  assert.equal(family.value.version, 1);
  assert.ok(family.value.id >= 0x10 && family.value.id < 0xffff);
  assert.equal(family.value.maxAttr, 6);
});

test('an ACK is an NLMSG_ERROR with errno 0, capped', () => {
  const message = single(fixture('genl-getfamily-ipvs.ack'));
  assert.equal(message.type, NLMSG_ERROR);
  assert.equal(message.flags & NLM_F_CAPPED, NLM_F_CAPPED);
  const info = decodeErrorMessage(message);
  assert.ok(info.ok);
  assert.equal(info.value.errno, 0);
  assert.equal(info.value.request.seq, 1);
});

test('IPVS GET_INFO reply carries version 1.2.1', () => {
  const message = single(fixture('ipvs-get-info.reply'));
  const genl = decodeGenl(message.payload);
  assert.ok(genl.ok);
  assert.equal(genl.value.cmd, 14, 'IPVS_CMD_SET_INFO is the reply command');
  const attrs = AttrMap.parse(genl.value.attrs);
  const version = attrs.u32(1)!;
  assert.equal(`${version >> 16}.${(version >> 8) & 0xff}.${version & 0xff}`, '1.2.1');
  assert.ok(attrs.has(2), 'connection table size present');
});

test('an unknown family is ENOENT', () => {
  const info = decodeErrorMessage(single(fixture('genl-getfamily-unknown.error')));
  assert.ok(info.ok);
  assert.equal(info.value.errno, 2);
  assert.equal(new NetlinkError(info.value.errno, info.value.extAck, 'resolve').code, 'ENOENT');
});

test('an error with extended ack yields the errno name and the kernel message', () => {
  const message = single(fixture('rtm-newaddr-nodev.error'));
  assert.equal(message.flags & NLM_F_ACK_TLVS, NLM_F_ACK_TLVS);
  const info = decodeErrorMessage(message);
  assert.ok(info.ok);
  assert.equal(info.value.errno, 19);
  assert.equal(info.value.extAck, 'ipv4: Device not found');
  const err = new NetlinkError(info.value.errno, info.value.extAck, 'add address 10.6.2.195/32');
  assert.equal(err.code, 'ENODEV');
  assert.equal(err.message, 'add address 10.6.2.195/32: ENODEV (ipv4: Device not found)');
});

test('a multipart address dump decodes, then ends with NLMSG_DONE', () => {
  const first = decodeMessages(fixture('rtm-getaddr-dump.0'));
  assert.ok(first.ok);
  assert.ok(first.value.every((m) => m.type === RTM_NEWADDR && (m.flags & NLM_F_MULTI) !== 0));
  const addresses = first.value.map((m) => decodeAddress(m)).map((d) => (assert.ok(d.ok), d.value));
  assert.deepEqual(
    addresses.map((a) => `${a.family} ${a.address}/${a.prefixLength} if${a.ifindex}`),
    ['inet 127.0.0.1/8 if1', 'inet6 ::1/128 if1'],
  );
  assert.equal(addresses[0]!.label, 'lo');
  const done = single(fixture('rtm-getaddr-dump.1'));
  assert.equal(done.type, NLMSG_DONE);
});

test('nested and aligned attributes round-trip with typed getters', () => {
  const bytes = encodeAttrs([
    attr.u8(1, 7),
    attr.u16(2, 0xbeef),
    attr.be16(3, 80),
    attr.u32(4, 0xdeadbeef),
    attr.u64(5, 2n ** 40n),
    attr.string(6, 'wlc'),
    attr.nested(7, [attr.u32(1, 42), attr.string(2, 'a')]),
    attr.flag(8),
  ]);
  assert.equal(bytes.length % 4, 0);
  const m = AttrMap.parse(bytes);
  assert.equal(m.u8(1), 7);
  assert.equal(m.u16(2), 0xbeef);
  assert.equal(m.be16(3), 80);
  assert.equal(m.u32(4), 0xdeadbeef);
  assert.equal(m.u64(5), 2n ** 40n);
  assert.equal(m.string(6), 'wlc');
  assert.equal(m.nested(7)!.u32(1), 42);
  assert.equal(m.nested(7)!.string(2), 'a');
  assert.ok(m.has(8));
  assert.equal(m.order.find((a) => a.type === 7)!.nested, true);
  assert.equal(m.u32(99), undefined);
});

test('a u64 read as a number is the BigInt reading rounded once, also past 2^53', () => {
  const values = [0n, 1n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n - 1n, 2n ** 53n + 1n, 2n ** 63n + 12345n, 2n ** 64n - 1n];
  for (let i = 0; i < 200; i++)
    values.push((BigInt(Math.floor(Math.random() * 2 ** 32)) << 32n) | BigInt(Math.floor(Math.random() * 2 ** 32)));
  for (const v of values) {
    const m = AttrMap.parse(encodeAttrs([attr.u64(1, v)]));
    assert.equal(m.u64n(1), Number(v), `u64 ${v}`);
  }
});

test('attributes nested in a container are read in place: offsets in errors count from the container', () => {
  const inner = encodeAttrs([attr.u32(1, 7), attr.u32(1, 8), attr.nested(2, [attr.u16(3, 9)])]);
  const m = AttrMap.parse(encodeAttrs([attr.u32(9, 1), attr.bytes(5, inner)])).nested(5)!;
  assert.equal(m.u32(1), 7, 'the first of a repeated type');
  assert.deepEqual(
    m.all(1).map((b) => b.readUInt32LE(0)),
    [7, 8],
  );
  assert.equal(m.nestedList(2)[0]!.u16(3), 9);
  assert.deepEqual(
    m.order.map((a) => a.type),
    [1, 1, 2],
  );
  const bad = Buffer.from(inner);
  bad.writeUInt16LE(0xff, 8); // the second attribute's length
  const top = AttrMap.parse(encodeAttrs([attr.u32(9, 1), attr.bytes(5, bad)]));
  assert.throws(() => top.nested(5), /attribute type 1 at offset 8 overruns its container \(length 255, \d+ bytes left\)/);
});

test('truncated and malformed messages are errors, never throws', () => {
  const good = fixture('genl-getfamily-ipvs.reply');
  for (let cut = 1; cut < good.length; cut += 7) {
    const decoded = decodeMessages(good.subarray(0, cut));
    assert.equal(decoded.ok, false, `cut at ${cut} must not decode`);
  }
  const lying = Buffer.from(good);
  lying.writeUInt32LE(8, 0);
  assert.match((decodeMessages(lying) as { error: string }).error, /length 8 < header 16/);
  // A header that claims a bigger attribute than its container.
  const message = single(good);
  const corrupt = Buffer.from(message.payload);
  corrupt.writeUInt16LE(0xfff0, 4);
  const family = decodeFamily(corrupt);
  assert.equal(family.ok, false);
  assert.match((family as { error: string }).error, /overruns its container/);
  // An attribute too short for its type.
  assert.throws(() => AttrMap.parse(encodeAttrs([attr.u8(1, 1)])).u32(1), /has 1 bytes, need 4/);
  const shortError = decodeErrorMessage({ type: NLMSG_ERROR, flags: 0, seq: 0, pid: 0, payload: Buffer.alloc(6) });
  assert.equal(shortError.ok, false);
});
