// The pure parts of the udp, dns, smtp and ping checks: DNS query/reply reading,
// SMTP reply framing, ICMP echo encoding/decoding; and the new check types' option
// schemas, through the config loader (file:line key errors).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import dnsPacket from 'dns-packet';
import { loadCheckPlugins } from '../../../checks/index.js';
import { answersProblem, encodeQuery, normalizeExpected, readReply } from '../../../checks/lib/dns-message.js';
import { hasExtension, SmtpReplyReader } from '../../../checks/lib/smtp-reply.js';
import { formatConfigError, loadConfigText } from '../../../src/config/index.js';
import { encodeEchoRequest, icmpTypeFilter, parseIcmp } from '../../../src/net/icmp.js';
import { checksumIsValid } from '../../../src/vrrp/checksum.js';

type Answers = NonNullable<dnsPacket.Packet['answers']>;
function response(id: number, name: string, type: dnsPacket.RecordType, answers: Answers, flags = 0, rcode = 0): Buffer {
  const b = dnsPacket.encode({ type: 'response', id, flags, questions: [{ type, name, class: 'IN' }], answers });
  b.writeUInt16BE((b.readUInt16BE(2) & ~0xf) | rcode, 2);
  return b;
}

describe('dns messages', () => {
  it('the query is one question with the RD bit as asked', () => {
    const q = dnsPacket.decode(encodeQuery(4242, 'web.example.test', 'MX', true));
    assert.equal(q.id, 4242);
    assert.deepEqual(q.questions, [{ name: 'web.example.test', type: 'MX', class: 'IN' }]);
    assert.equal(q.flag_rd, true);
    assert.equal(q.flag_qr, false);
    assert.equal(dnsPacket.decode(encodeQuery(1, 'x.test', 'A', false)).flag_rd, false);
  });

  it('reads each record type as text; compares names case- and dot-insensitively', () => {
    const cases: Array<[dnsPacket.RecordType, unknown, string]> = [
      ['A', '10.0.0.1', '10.0.0.1'],
      ['AAAA', 'fd00:0:0:0:0:0:0:1', 'fd00::1'],
      ['CNAME', 'Web.Example.TEST', 'web.example.test'],
      ['NS', 'ns1.example.test', 'ns1.example.test'],
      ['PTR', 'host.example.test', 'host.example.test'],
      ['MX', { preference: 10, exchange: 'MX.example.test' }, '10 mx.example.test'],
      ['TXT', ['v=spf1 ', '-all'], 'v=spf1 -all'],
      [
        'SOA',
        { mname: 'ns.example.test', rname: 'admin.example.test', serial: 7, refresh: 1, retry: 2, expire: 3, minimum: 4 },
        'ns.example.test admin.example.test 7 1 2 3 4',
      ],
      ['SRV', { priority: 1, weight: 2, port: 25, target: 'smtp.example.test' }, '1 2 25 smtp.example.test'],
    ];
    for (const [type, data, text] of cases) {
      const reply = readReply(response(9, 'q.test', type, [{ type, name: 'q.test', data } as Answers[number]]), 9, 'Q.test.', type as 'A');
      assert.equal(reply.kind, 'answer', type);
      assert.deepEqual(reply.kind === 'answer' && reply.answers, [text], type);
    }
    assert.equal(normalizeExpected('MX', '10   MX.Example.test.'), '10 mx.example.test');
    assert.equal(normalizeExpected('AAAA', 'FD00::0:1'), 'fd00::1');
    assert.equal(
      normalizeExpected('SOA', 'NS.example.test. Admin.example.test. 7 1 2 3 4'),
      'ns.example.test admin.example.test 7 1 2 3 4',
    );
  });

  it("counts only records of the asked type (an alias's CNAME is not an A); rcode and TC are read", () => {
    const chain = response(5, 'alias.test', 'A', [
      { type: 'CNAME', name: 'alias.test', data: 'web.test' },
      { type: 'A', name: 'web.test', data: '10.0.0.9' },
    ]);
    assert.deepEqual(readReply(chain, 5, 'alias.test', 'A'), { kind: 'answer', rcode: 'NOERROR', truncated: false, answers: ['10.0.0.9'] });
    const nx = readReply(response(5, 'no.test', 'A', [], 0, 3), 5, 'no.test', 'A');
    assert.equal(nx.kind === 'answer' && nx.rcode, 'NXDOMAIN');
    const tc = readReply(response(5, 'big.test', 'TXT', [], dnsPacket.TRUNCATED_RESPONSE), 5, 'big.test', 'TXT');
    assert.equal(tc.kind === 'answer' && tc.truncated, true);
  });

  it('another id, another question or a query is foreign; garbage is malformed, never a throw', () => {
    const reply = response(5, 'web.test', 'A', [{ type: 'A', name: 'web.test', data: '10.0.0.1' }]);
    assert.equal(readReply(reply, 6, 'web.test', 'A').kind, 'foreign');
    assert.equal(readReply(reply, 5, 'other.test', 'A').kind, 'foreign');
    assert.equal(readReply(reply, 5, 'web.test', 'AAAA').kind, 'foreign');
    assert.equal(readReply(encodeQuery(5, 'web.test', 'A', true), 5, 'web.test', 'A').kind, 'foreign');
    assert.equal(readReply(Buffer.alloc(5), 0, 'web.test', 'A').kind, 'malformed');
    const cut = Buffer.from(reply.subarray(0, reply.length - 3));
    assert.equal(readReply(cut, 5, 'web.test', 'A').kind, 'malformed');
    for (let i = 0; i < 300; i++) {
      const noise = Buffer.from(reply);
      const at = 12 + (i % (noise.length - 12));
      noise[at] = noise[at]! ^ ((i * 37) & 0xff);
      const r = readReply(noise, 5, 'web.test', 'A');
      assert.ok(['answer', 'foreign', 'malformed'].includes(r.kind));
    }
  });

  it('exact is set equality, contains is a subset; the reason lists what is missing and extra', () => {
    assert.equal(answersProblem(['b', 'a'], ['a', 'b'], 'exact'), undefined);
    assert.equal(answersProblem(['a', 'a', 'b'], ['b', 'a'], 'exact'), undefined);
    assert.equal(answersProblem(['b', 'a'], ['a'], 'exact'), 'answers ["a", "b"]: unexpected "b"');
    assert.equal(answersProblem(['b', 'a'], ['a'], 'contains'), undefined);
    assert.equal(answersProblem(['a'], ['a', 'c'], 'contains'), 'answers ["a"]: missing "c"');
    assert.equal(answersProblem([], ['a'], 'exact'), 'answers []: missing "a"');
  });
});

describe('smtp replies', () => {
  it('joins continuation lines, across chunk boundaries, CRLF or LF', () => {
    const r = new SmtpReplyReader();
    assert.deepEqual(r.feed('220 mx ESMTP\r\n250-mx hello\r\n250-STAR'), [{ code: 220, lines: ['mx ESMTP'] }]);
    const [ehlo] = r.feed('TTLS\r\n250 HELP\n');
    assert.deepEqual(ehlo, { code: 250, lines: ['mx hello', 'STARTTLS', 'HELP'] });
    assert.equal(hasExtension(ehlo, 'starttls'), true);
    assert.equal(hasExtension(ehlo, 'mx'), false, 'the greeting line is not an extension');
    assert.deepEqual(r.feed('221\r\n'), [{ code: 221, lines: [''] }]);
  });

  it('refuses what is not SMTP: a non-reply line, a code change inside a reply, endless lines', () => {
    assert.throws(() => new SmtpReplyReader().feed('SSH-2.0-OpenSSH_9.2\r\n'), /not an SMTP reply line: "SSH-2\.0/);
    assert.throws(() => new SmtpReplyReader().feed('250-a\r\n251 b\r\n'), /reply line 251 inside a 250 reply/);
    assert.throws(() => new SmtpReplyReader().feed('2'.repeat(5000)), /longer than 4096/);
    assert.throws(() => new SmtpReplyReader().feed('250-x\r\n'.repeat(101)), /more than 100 lines/);
  });
});

function ipv4(payload: Buffer, protocol = 1): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(20 + payload.length, 2);
  h[8] = 64;
  h[9] = protocol;
  return Buffer.concat([h, payload]);
}

/** Writes the ICMP checksum of a message (computed here, not by the code under test). */
function withChecksum(icmp: Buffer): Buffer {
  icmp.writeUInt16BE(0, 2);
  let sum = 0;
  for (let i = 0; i < icmp.length; i += 2) sum += (icmp[i]! << 8) | (icmp[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  icmp.writeUInt16BE(~sum & 0xffff, 2);
  return icmp;
}

describe('icmp echo', () => {
  it('an IPv4 request carries a valid checksum, identifier, sequence and payload; IPv6 leaves the checksum to the kernel', () => {
    const payload = Buffer.from('0123456789abcdefX');
    const v4 = encodeEchoRequest(4, 0xbeef, 7, payload);
    assert.deepEqual([v4[0], v4[1], v4.readUInt16BE(4), v4.readUInt16BE(6)], [8, 0, 0xbeef, 7]);
    assert.ok(checksumIsValid(v4), 'odd-length payload too');
    assert.deepEqual(v4.subarray(8), payload);
    const v6 = encodeEchoRequest(6, 1, 2, payload);
    assert.deepEqual([v6[0], v6.readUInt16BE(2)], [128, 0]);
  });

  it('reads an echo reply after the IPv4 header; a bad checksum or a short packet is malformed', () => {
    const fixed = encodeEchoRequest(4, 0x1234, 9, Buffer.from('payload'));
    fixed[0] = 0;
    withChecksum(fixed);
    assert.deepEqual(parseIcmp(4, ipv4(fixed)), { kind: 'echo-reply', identifier: 0x1234, sequence: 9, payload: Buffer.from('payload') });
    const bad = Buffer.from(fixed);
    bad[9] = bad[9]! ^ 1;
    assert.deepEqual(parseIcmp(4, ipv4(bad)), { kind: 'malformed', why: 'bad ICMP checksum' });
    assert.equal(parseIcmp(4, Buffer.alloc(10)).kind, 'malformed');
    assert.equal(parseIcmp(4, ipv4(Buffer.alloc(4))).kind, 'malformed');
    const v6 = Buffer.from([129, 0, 0, 0, 0, 1, 0, 2, 0xaa]);
    assert.deepEqual(parseIcmp(6, v6), { kind: 'echo-reply', identifier: 1, sequence: 2, payload: Buffer.from([0xaa]) });
  });

  it('an ICMP error that quotes our request names it by identifier and sequence', () => {
    const ours = encodeEchoRequest(4, 77, 5, Buffer.alloc(8));
    const error = withChecksum(Buffer.concat([Buffer.from([3, 1, 0, 0, 0, 0, 0, 0]), ipv4(ours)]));
    assert.deepEqual(parseIcmp(4, ipv4(error)), {
      kind: 'error',
      type: 3,
      code: 1,
      identifier: 77,
      sequence: 5,
      text: 'ICMP host unreachable',
    });
    const v6quoted = Buffer.alloc(40);
    v6quoted[0] = 0x60;
    v6quoted[6] = 58;
    const v6error = Buffer.concat([Buffer.from([1, 3, 0, 0, 0, 0, 0, 0]), v6quoted, encodeEchoRequest(6, 8, 9, Buffer.alloc(4))]);
    assert.deepEqual(parseIcmp(6, v6error), {
      kind: 'error',
      type: 1,
      code: 3,
      identifier: 8,
      sequence: 9,
      text: 'ICMPv6 address unreachable',
    });
    // An error about someone's UDP datagram is not ours.
    const udpQuoted = withChecksum(Buffer.concat([Buffer.from([3, 3, 0, 0, 0, 0, 0, 0]), ipv4(Buffer.alloc(8), 17)]));
    assert.deepEqual(parseIcmp(4, ipv4(udpQuoted)), { kind: 'other', type: 3 });
  });

  it('the type filter blocks everything but the listed types (a set bit blocks)', () => {
    assert.equal(icmpTypeFilter(4, [0, 3]).readUInt32LE(0), ~((1 << 0) | (1 << 3)) >>> 0);
    const v6 = icmpTypeFilter(6, [1, 129]);
    assert.equal(v6.length, 32);
    assert.equal(v6.readUInt32LE(0), ~(1 << 1) >>> 0);
    assert.equal(v6.readUInt32LE(16), ~(1 << 1) >>> 0, '129 = word 4, bit 1');
    assert.equal(v6.readUInt32LE(4), 0xffffffff);
  });
});

describe('the new check types in a config file', () => {
  const base = (check: string) => `services:
  - name: svc
    vip: 10.6.2.195
    port: 53
    protocol: udp
    vip_standalone: true
    check: ${check}
    real_servers: [{ address: 10.6.2.191 }]
`;
  const errors = async (check: string): Promise<string[]> => {
    const r = loadConfigText(base(check), 'failoverd.yaml', { checkPlugins: await loadCheckPlugins(), env: {}, defaultNodeName: 'h' });
    return r.ok ? [] : r.errors.map(formatConfigError);
  };

  it('accepts each of them with their options', async () => {
    for (const check of [
      '{ type: udp, send: "PING\\n", expect: "^PONG" }',
      '{ type: udp, send_hex: "0d0a", expect_hex: "ff" }',
      '{ type: dns, name: www.example.com, query_type: MX, expect_answers: ["10 mx.example.com"], answers_match: contains }',
      '{ type: dns, name: nothing.example.com, expect_rcode: NXDOMAIN, recursion_desired: false }',
      '{ type: smtp, helo_name: lb1.example.com, starttls: true, ca_file: /etc/ssl/ca.pem, tls_server_name: mx.example.com }',
      '{ type: ping, payload_bytes: 100, bind_to: 10.6.2.1 }',
      '{ type: http, digest: 9b3a0c85a887a256d6939da88aabd8cd }',
    ])
      assert.deepEqual(await errors(check), [], check);
  });

  it('names file, line, key and what was expected', async () => {
    assert.deepEqual(await errors('{ type: dns, query_type: A }'), [
      'failoverd.yaml:7:12 services[0].check.name: missing required key (expected a string)',
    ]);
    const [badType] = await errors('{ type: dns, name: x.test, query_type: ANY }');
    assert.equal(
      badType,
      'failoverd.yaml:7:51 services[0].check.query_type: expected one of A, AAAA, CNAME, MX, TXT, SOA, NS, PTR, SRV, CAA',
    );
    const [both] = await errors('{ type: udp, send: a, send_hex: "61" }');
    assert.match(both!, /^failoverd\.yaml:7:\d+ services\[0\]\.check\.send_hex: give send or send_hex, not both/);
    const [oddHex] = await errors('{ type: udp, expect_hex: "abc" }');
    assert.match(oddHex!, /services\[0\]\.check\.expect_hex: an even number of hex digits/);
    const [regex] = await errors('{ type: smtp, expect_banner: "(" }');
    assert.match(regex!, /services\[0\]\.check\.expect_banner: not a valid regular expression/);
    const [payload] = await errors('{ type: ping, payload_bytes: 4 }');
    assert.match(payload!, /services\[0\]\.check\.payload_bytes: /);
    const [digest] = await errors('{ type: http, digest: abc }');
    assert.match(digest!, /services\[0\]\.check\.digest: 32 hex digits \(MD5, as keepalived genhash prints\) or 64 \(SHA-256\)/);
    const [unknown] = await errors('{ type: ping, count: 3 }');
    assert.match(unknown!, /services\[0\]\.check\.count: unknown key for check type ping \(it takes bind_to, payload_bytes;/);
  });
});
