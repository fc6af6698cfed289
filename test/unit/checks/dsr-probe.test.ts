// The dsr check's pure parts: ARP and TCP frames (golden bytes, checksums), the
// BPF program the packet socket runs, and the probe's reducer over replies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadCheckPlugins } from '../../../checks/index.js';
import { onFrame, rstFrame, silenceReason, startProbe, synFrame, type DsrProbe, type DsrState } from '../../../checks/lib/dsr-probe.js';
import { encodeBpf, runBpf, synProbeFilter } from '../../../src/net/bpf.js';
import { ARP_REPLY, ARP_REQUEST, arpRequestFrame, parseFrame, TCP_ACK, TCP_RST, TCP_SYN, tcpFrame } from '../../../src/net/ether-frames.js';
import { checksumIsValid, ipv4PseudoHeader } from '../../../src/vrrp/checksum.js';

const DIRECTOR_MAC = Buffer.from('020000000001', 'hex');
const RS_MAC = Buffer.from('020000000002', 'hex');
const OTHER_MAC = Buffer.from('020000000009', 'hex');

const probe: DsrProbe = {
  directorMac: DIRECTOR_MAC,
  director: '10.0.0.1',
  realServer: '10.0.0.2',
  vip: '10.0.0.100',
  port: 80,
  sourcePort: 40000,
  isn: 0x01020304,
  ipId: 0x1234,
  arpCheck: true,
};

/** An ARP frame as another host would send it. */
function arp(op: number, senderMac: Buffer, senderIp: string, targetIp: string): Buffer {
  const f = arpRequestFrame(senderMac, senderIp, targetIp, DIRECTOR_MAC);
  f.writeUInt16BE(op, 20);
  return f;
}

/** A segment from the real server to the director. */
function answer(flags: number, ack: number, over: Partial<Parameters<typeof tcpFrame>[0]> = {}): Buffer {
  return tcpFrame({
    sourceMac: RS_MAC,
    destinationMac: DIRECTOR_MAC,
    source: '10.0.0.100',
    destination: '10.0.0.1',
    sourcePort: 80,
    destinationPort: 40000,
    seq: 777,
    ack,
    flags,
    id: 1,
    ...over,
  });
}

test("frames: the SYN to the VIP at the real server's MAC, golden bytes, both checksums valid", () => {
  const syn = synFrame(probe, RS_MAC);
  assert.equal(
    syn.toString('hex'),
    '020000000002' +
      '020000000001' +
      '0800' +
      '4500002c' +
      '1234' +
      '4000' +
      '40' +
      '06' +
      '1434' +
      '0a000001' +
      '0a000064' +
      '9c40' +
      '0050' +
      '01020304' +
      '00000000' +
      '6002' +
      'faf0' +
      'e83a' +
      '0000' +
      '020405b4',
  );
  const ip = syn.subarray(14, 34),
    tcp = syn.subarray(34);
  assert.ok(checksumIsValid(ip));
  assert.ok(checksumIsValid(ipv4PseudoHeader(ip.subarray(12, 16), ip.subarray(16, 20), 6, tcp.length), tcp));
  const rst = rstFrame(probe, RS_MAC);
  const parsed = parseFrame(rst);
  assert.equal(parsed.kind, 'tcp');
  if (parsed.kind !== 'tcp') return;
  assert.deepEqual(
    [parsed.flags, parsed.seq, parsed.ack, parsed.destination, parsed.destinationMac.toString('hex')],
    [TCP_RST, 0x01020305, 0, '10.0.0.100', '020000000002'],
  );
  const rstTcp = rst.subarray(34);
  assert.equal(rstTcp.length, 20, 'no options on an RST');
  assert.ok(checksumIsValid(ipv4PseudoHeader(rst.subarray(26, 30), rst.subarray(30, 34), 6, 20), rstTcp));
  // The ISN wraps: the RST after a SYN with ISN 2^32 - 1 has sequence 0.
  assert.equal(rstFrame({ ...probe, isn: 0xffffffff }, RS_MAC).readUInt32BE(34 + 4), 0);
});

test('frames: ARP who-has, golden bytes; parseFrame reads ARP and TCP, refuses a bad IPv4 checksum', () => {
  assert.equal(
    arpRequestFrame(DIRECTOR_MAC, '10.0.0.1', '10.0.0.100').toString('hex'),
    'ffffffffffff' +
      '020000000001' +
      '0806' +
      '0001' +
      '0800' +
      '06' +
      '04' +
      '0001' +
      '020000000001' +
      '0a000001' +
      '000000000000' +
      '0a000064',
  );
  assert.deepEqual(parseFrame(arp(ARP_REPLY, RS_MAC, '10.0.0.2', '10.0.0.1')), {
    kind: 'arp',
    op: ARP_REPLY,
    sourceMac: RS_MAC,
    senderMac: RS_MAC,
    senderIp: '10.0.0.2',
    targetIp: '10.0.0.1',
  });
  const synAck = answer(TCP_SYN | TCP_ACK, 0x01020305);
  assert.deepEqual(parseFrame(synAck), {
    kind: 'tcp',
    sourceMac: RS_MAC,
    destinationMac: DIRECTOR_MAC,
    source: '10.0.0.100',
    destination: '10.0.0.1',
    sourcePort: 80,
    destinationPort: 40000,
    seq: 777,
    ack: 0x01020305,
    flags: TCP_SYN | TCP_ACK,
  });
  const corrupt = Buffer.from(synAck);
  corrupt[14 + 8] = 1; // TTL changed, checksum not
  assert.deepEqual(parseFrame(corrupt), { kind: 'malformed', why: 'bad IPv4 header checksum' });
  assert.deepEqual(parseFrame(synAck.subarray(0, 10)), { kind: 'malformed', why: '10 bytes, shorter than an Ethernet header' });
  assert.deepEqual(parseFrame(synAck.subarray(0, 40)), { kind: 'malformed', why: 'short TCP header' });
  assert.deepEqual(parseFrame(Buffer.concat([synAck.subarray(0, 12), Buffer.from('86dd', 'hex'), Buffer.alloc(40)])), { kind: 'other' });
  assert.throws(() => arpRequestFrame(DIRECTOR_MAC.subarray(0, 5), '10.0.0.1', '10.0.0.2'), /6 bytes/);
  assert.throws(() => arpRequestFrame(DIRECTOR_MAC, '10.0.0.1', 'fd00::1'), /IPv4 address is needed/);
});

test('BPF: the kernel-side filter keeps ARP and the answers to this probe only', () => {
  const program = synProbeFilter('10.0.0.100', 80, 40000);
  const keeps = (frame: Buffer): boolean => runBpf(program, frame) > 0;
  assert.ok(keeps(answer(TCP_SYN | TCP_ACK, 1)));
  assert.ok(keeps(answer(TCP_RST | TCP_ACK, 1)));
  assert.ok(keeps(arp(ARP_REPLY, RS_MAC, '10.0.0.2', '10.0.0.1')));
  assert.equal(keeps(answer(TCP_SYN | TCP_ACK, 1, { sourcePort: 81 })), false, 'another port');
  assert.equal(keeps(answer(TCP_SYN | TCP_ACK, 1, { destinationPort: 40001 })), false, 'another probe');
  assert.equal(keeps(answer(TCP_SYN | TCP_ACK, 1, { source: '10.0.0.2' })), false, "from the real server's own address");
  assert.equal(keeps(synFrame(probe, RS_MAC)), false, 'our own SYN');
  const fragment = answer(TCP_SYN | TCP_ACK, 1);
  fragment.writeUInt16BE(0x0001, 14 + 6); // a non-first fragment: its "ports" are payload
  assert.equal(keeps(fragment), false);
  const udp = answer(TCP_SYN | TCP_ACK, 1);
  udp[14 + 9] = 17;
  assert.equal(keeps(udp), false);
  assert.equal(keeps(answer(TCP_SYN | TCP_ACK, 1).subarray(0, 20)), false, 'a runt is dropped, not read past its end');
  // IP options move the TCP header: the filter reads the ports after them.
  const withOptions = answer(TCP_SYN | TCP_ACK, 1);
  const long = Buffer.concat([withOptions.subarray(0, 34), Buffer.alloc(4, 1), withOptions.subarray(34)]);
  long[14] = 0x46;
  assert.ok(keeps(long));
  long.writeUInt16BE(81, 38 + 0);
  assert.equal(keeps(long), false);
  // struct sock_filter, little-endian: code, jt, jf, k.
  const bytes = encodeBpf(program, true);
  assert.equal(bytes.length, 16 * 8);
  assert.equal(bytes.subarray(0, 16).toString('hex'), '280000000c000000' + '15000c0006080000');
  assert.equal(encodeBpf(program, false).subarray(0, 8).toString('hex'), '002800000000000c');
  assert.throws(() => synProbeFilter('fd00::1', 80, 1), /IPv4/);
});

function run(p: DsrProbe, frames: Buffer[]): { state: DsrState; sent: Buffer[]; verdict?: { ok: boolean; reason: string } } {
  let { state, send } = startProbe(p);
  const sent = [...send];
  for (const frame of frames) {
    const step = onFrame(p, state, parseFrame(frame));
    state = step.state;
    sent.push(...step.send);
    if (step.verdict) return { state, sent, verdict: step.verdict };
  }
  return { state, sent };
}

const rsIsAt = arp(ARP_REPLY, RS_MAC, '10.0.0.2', '10.0.0.1');

test('probe: ARP for the VIP then for the server; SYN at its MAC; the SYN-ACK with ack ISN+1 is up and gets an RST', () => {
  const r = run(probe, [rsIsAt, answer(TCP_SYN | TCP_ACK, 0x01020305)]);
  assert.deepEqual(r.verdict, { ok: true, reason: "SYN-ACK from 10.0.0.100:80 at 10.0.0.2's MAC 02:00:00:00:00:02" });
  assert.deepEqual(
    r.sent.map((f) => f.toString('hex')),
    [
      arpRequestFrame(DIRECTOR_MAC, '10.0.0.1', '10.0.0.100').toString('hex'),
      arpRequestFrame(DIRECTOR_MAC, '10.0.0.1', '10.0.0.2').toString('hex'),
      synFrame(probe, RS_MAC).toString('hex'),
      rstFrame(probe, RS_MAC).toString('hex'),
    ],
  );
  assert.equal(startProbe({ ...probe, arpCheck: false }).send.length, 1, 'no who-has VIP with arp_check off');
});

test('probe: only the matching answer counts; an RST is down; nothing after a verdict', () => {
  const wrong = [
    answer(TCP_SYN | TCP_ACK, 0x01020305), // before the SYN was sent
    rsIsAt,
    answer(TCP_SYN | TCP_ACK, 0x01020304), // ack = ISN, not ISN + 1
    answer(TCP_SYN, 0x01020305), // no ACK flag
    answer(TCP_SYN | TCP_ACK, 0x01020305, { destinationPort: 40001 }),
    answer(TCP_SYN | TCP_ACK, 0x01020305, { destination: '10.0.0.9' }),
    answer(TCP_SYN | TCP_ACK, 0x01020305, { source: '10.0.0.2' }),
    arp(ARP_REPLY, OTHER_MAC, '10.0.0.2', '10.0.0.9'), // an answer to someone else
  ];
  const silent = run(probe, wrong);
  assert.equal(silent.verdict, undefined);
  assert.equal(silent.state.phase, 'syn');
  assert.equal(
    silenceReason(probe, silent.state, 'eth1', 'timeout after 1000ms'),
    "no answer from 10.0.0.100:80 at 10.0.0.2's MAC 02:00:00:00:00:02 (is the VIP on its lo?): timeout after 1000ms",
  );
  assert.equal(
    silenceReason(probe, startProbe(probe).state, 'eth1', 'timeout after 1000ms'),
    'no ARP reply from 10.0.0.2 on eth1: timeout after 1000ms',
  );
  const refused = run(probe, [rsIsAt, answer(TCP_RST | TCP_ACK, 0x01020305)]);
  assert.deepEqual(refused.verdict, { ok: false, reason: "connection refused (RST) by 10.0.0.100:80 at 10.0.0.2's MAC 02:00:00:00:00:02" });
  assert.equal(refused.sent.length, 3, 'no RST for an RST');
  const after = onFrame(probe, refused.state, parseFrame(answer(TCP_SYN | TCP_ACK, 0x01020305)));
  assert.deepEqual([after.verdict, after.send], [undefined, []]);
});

test('probe: the real server answering or announcing the VIP over ARP is down, before or after its own ARP reply', () => {
  const vipAt = arp(ARP_REPLY, RS_MAC, '10.0.0.100', '10.0.0.1');
  const message =
    'real server 10.0.0.2 (02:00:00:00:00:02) answers ARP for the VIP 10.0.0.100: it would take the VIP from the director (arp_ignore must be 1)';
  const before = run(probe, [vipAt, rsIsAt, answer(TCP_SYN | TCP_ACK, 0x01020305)]);
  assert.deepEqual(before.verdict, { ok: false, reason: message });
  assert.equal(before.sent.length, 2, 'no SYN once the server claimed the VIP');
  assert.deepEqual(run(probe, [rsIsAt, vipAt]).verdict, { ok: false, reason: message });
  assert.deepEqual(run(probe, [rsIsAt, arp(ARP_REQUEST, RS_MAC, '10.0.0.100', '10.0.0.1')]).verdict, {
    ok: false,
    reason:
      'real server 10.0.0.2 (02:00:00:00:00:02) sends ARP from the VIP 10.0.0.100: it would take the VIP from the director (arp_announce must be 2)',
  });
  // The director holding the VIP answers for it: that is as it should be.
  const director = run(probe, [arp(ARP_REPLY, OTHER_MAC, '10.0.0.100', '10.0.0.1'), rsIsAt, answer(TCP_SYN | TCP_ACK, 0x01020305)]);
  assert.equal(director.verdict?.ok, true);
  // With arp_check off, the server's ARP for the VIP is not looked at.
  assert.equal(run({ ...probe, arpCheck: false }, [vipAt, rsIsAt, answer(TCP_SYN | TCP_ACK, 0x01020305)]).verdict?.ok, true);
});

test('options: vip required and IPv4; interface, source, connect_port, arp_check; a port is needed', async () => {
  const plugin = (await loadCheckPlugins()).get('dsr')!;
  const dsr = plugin.options;
  // Refused before any socket is opened: a fwmark or port-0 service gives no port to probe.
  const portless = await plugin.run(
    { service: 's', address: '192.0.2.2', port: 0 },
    dsr.parse({ vip: '192.0.2.10' }),
    new AbortController().signal,
  );
  assert.deepEqual(
    [portless.ok, portless.reason],
    [false, 'the dsr check needs a port: set connect_port (the service has port 0 or a fwmark)'],
  );
  assert.deepEqual(dsr.parse({ vip: '192.0.2.10' }), { vip: '192.0.2.10', arp_check: true });
  assert.ok(dsr.safeParse({ vip: '192.0.2.10', interface: 'eth1', source: '192.0.2.2', connect_port: 443, arp_check: false }).success);
  assert.equal(dsr.safeParse({}).success, false);
  assert.equal(dsr.safeParse({ vip: 'fd00::10' }).success, false);
  assert.equal(dsr.safeParse({ vip: '192.0.2.10', interface: 'a-name-longer-than-15' }).success, false);
  assert.equal(dsr.safeParse({ vip: '192.0.2.10', port: 80 }).success, false);
});
