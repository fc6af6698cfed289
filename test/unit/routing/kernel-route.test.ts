// The announcement route's rtnetlink codec: what `ip route add blackhole VIP table T proto P` sends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeRoute, encodeRoute, hostPrefix, RTM_NEWROUTE } from '../../../src/routing/kernel-route.js';

test('a blackhole host route in the marked table, IPv4 and IPv6, decodes to what was encoded', () => {
  const v4 = encodeRoute('10.9.9.9', { table: 200, protocol: 201 });
  // rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type (blackhole = 6)
  assert.deepEqual([...v4.subarray(0, 8)], [2, 32, 0, 0, 200, 201, 0, 6]);
  assert.deepEqual(decodeRoute({ type: RTM_NEWROUTE, flags: 0, seq: 0, pid: 0, payload: v4 }), {
    ok: true,
    value: { prefix: '10.9.9.9/32', table: 200, protocol: 201, type: 6 },
  });
  const v6 = encodeRoute('2001:db8::9', { table: 1000, protocol: 200 });
  assert.equal(v6.readUInt8(4), 0, 'a table above 255 goes in RTA_TABLE only');
  assert.deepEqual(decodeRoute({ type: RTM_NEWROUTE, flags: 0, seq: 0, pid: 0, payload: v6 }), {
    ok: true,
    value: { prefix: '2001:db8::9/128', table: 1000, protocol: 200, type: 6 },
  });
  assert.equal(hostPrefix('2001:db8::9'), '2001:db8::9/128');
});

test('a truncated or foreign route message is an error, not a crash', () => {
  assert.equal(decodeRoute({ type: RTM_NEWROUTE, flags: 0, seq: 0, pid: 0, payload: Buffer.alloc(4) }).ok, false);
  const wrongFamily = Buffer.alloc(12);
  wrongFamily.writeUInt8(7, 0);
  assert.equal(decodeRoute({ type: RTM_NEWROUTE, flags: 0, seq: 0, pid: 0, payload: wrongFamily }).ok, false);
});
