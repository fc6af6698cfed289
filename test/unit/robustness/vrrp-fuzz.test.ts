// The VRRP receive path under hostile input, beyond test/unit/vrrp/packet.test.ts
// (which fuzzes decodeAdvert with random bytes and round-trips v3 over IPv4):
// here the corpus (golden captures + hostile adverts) is mutated and pushed
// through the whole path a raw socket feeds (decodeIpv4 → acceptAdvert), every
// verdict is checked, and v2 and IPv6 values round-trip.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { acceptAdvert, type AcceptPolicy } from '../../../src/vrrp/accept.js';
import {
  AUTH_NONE,
  AUTH_SIMPLE_PASSWORD,
  DROP_REASONS,
  decodeAdvert,
  decodeIpv4,
  encodeAdvert,
  passwordAuthData,
  VRRP_TTL,
  type AdvertEnvelope,
  type VrrpAdvert,
} from '../../../src/vrrp/packet.js';
import { ipv4Header } from '../../../src/vrrp/transport.js';
import { ipToBytes } from '../../../src/net/sockaddr.js';
import { HOSTILE_INSTANCES, hostileAdverts, type HostileInstance } from '../../fixtures/corpus/hostile-vrrp.js';
import type { VrrpCorpusEntry } from '../../fixtures/corpus/generate.js';
import { Budget } from './budget.js';

const corpus = JSON.parse(
  readFileSync(new URL('../../../../test/fixtures/corpus/vrrp.json', import.meta.url), 'utf8'),
) as VrrpCorpusEntry[];
const TARGETS = { agent: '192.0.2.10', attacker: '192.0.2.66', unicastPeer: '192.0.2.250', vip: '10.6.2.195' };

const envelopeOf = (e: VrrpCorpusEntry): AdvertEnvelope => ({ family: e.family, source: e.source, destination: e.destination });

/** The policy of each hostile-test instance, as the agent builds it from its config. */
function policyOf(target: HostileInstance): AcceptPolicy {
  const i = HOSTILE_INSTANCES[target];
  return {
    family: 4,
    version: i.version,
    vrid: i.vrid,
    intervalCs: i.intervalCs,
    ownAddresses: new Set([TARGETS.agent]),
    ...('password' in i ? { password: i.password } : {}),
    ...(target === 'unicast' ? { unicastPeers: new Set([TARGETS.unicastPeer]) } : {}),
  };
}

test('corpus: every entry decodes to its recorded verdict', () => {
  assert.ok(corpus.length >= 25, `corpus holds ${corpus.length} entries`);
  for (const e of corpus) {
    const d = decodeAdvert(Buffer.from(e.payload, 'hex'), envelopeOf(e));
    assert.equal(d.ok ? 'ok' : d.reason, e.decode, e.name);
  }
});

test('hostile adverts: each is dropped by its target instance with its reason, and never accepted by any instance', () => {
  const hostile = hostileAdverts(TARGETS);
  for (const h of hostile) {
    const packet = { payload: h.payload, source: h.source, destination: h.destination, ttl: h.ttl };
    const verdict = acceptAdvert(packet, policyOf(h.target));
    assert.equal(verdict.ok ? 'accepted' : verdict.reason, h.reason, h.name);
    for (const other of Object.keys(HOSTILE_INSTANCES) as HostileInstance[]) {
      const v = acceptAdvert(packet, policyOf(other));
      assert.equal(v.ok, false, `${h.name} is not accepted by ${other} either`);
    }
  }
  assert.ok(new Set(hostile.map((h) => h.reason)).size >= 14, 'the list covers at least 14 distinct reasons');
});

/** A corpus entry wrapped in the IPv4 header a raw socket delivers, then mutated anywhere (header included). */
const datagramArb = fc
  .record({
    entry: fc.constantFrom(...corpus.filter((e) => e.family === 4)),
    ttl: fc.oneof(fc.constant(VRRP_TTL), fc.integer({ min: 0, max: 255 })),
    edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
    flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })), { maxLength: 3 }),
    cut: fc.option(fc.nat(), { freq: 3 }),
    tail: fc.uint8Array({ maxLength: 12 }),
  })
  .map(({ entry, ttl, edits, flips, cut, tail }) => {
    const payload = Buffer.from(entry.payload, 'hex');
    const header = ipv4Header(entry.source, entry.destination);
    header[8] = ttl;
    header.writeUInt16BE(20 + payload.length, 2);
    const b = Buffer.concat([header, payload]);
    for (const [at, v] of edits) b[at % b.length] = v;
    for (const [at, bit] of flips) b[at % b.length]! ^= 1 << bit;
    const end = cut === null ? b.length : cut % (b.length + 1);
    return { entry, bytes: Buffer.concat([b.subarray(0, end), Buffer.from(tail)]) };
  });

const policyArb: fc.Arbitrary<AcceptPolicy> = fc
  .record({
    version: fc.constantFrom(2 as const, 3 as const),
    vrid: fc.constantFrom(51, 52, 53, 54, 99),
    intervalCs: fc.constantFrom(10, 100, 200),
    password: fc.option(fc.constantFrom('s3cret', 'guess')),
    unicast: fc.boolean(),
  })
  .map((p) => ({
    family: 4 as const,
    version: p.version,
    vrid: p.vrid,
    intervalCs: p.intervalCs,
    ownAddresses: new Set([TARGETS.agent]),
    ...(p.password !== null ? { password: p.password } : {}),
    ...(p.unicast ? { unicastPeers: new Set([TARGETS.unicastPeer, '192.0.2.66']) } : {}),
  }));

/**
 * The policy of an instance the unmutated entry is meant for (its version, VRID, interval and
 * password, a different own address), so that some mutated datagrams are still accepted and the
 * accept rules get exercised on every run, not only when a random policy happens to match.
 */
function matchingPolicy(e: VrrpCorpusEntry): AcceptPolicy | undefined {
  const d = decodeAdvert(Buffer.from(e.payload, 'hex'), envelopeOf(e));
  if (!d.ok) return undefined;
  const a = d.value;
  const password = a.version === 2 && a.authType === AUTH_SIMPLE_PASSWORD ? a.authData!.toString('latin1').replace(/\0+$/, '') : undefined;
  return {
    family: 4,
    version: a.version,
    vrid: a.vrid,
    intervalCs: a.intervalCs,
    ownAddresses: new Set([e.source === TARGETS.agent ? '192.0.2.99' : TARGETS.agent]),
    ...(password !== undefined ? { password } : {}),
  };
}

const datagramAndPolicyArb = datagramArb.chain((datagram) => {
  const matching = matchingPolicy(datagram.entry);
  return fc.tuple(fc.constant(datagram), matching ? fc.oneof(policyArb, fc.constant(matching)) : policyArb);
});

test('mutated datagrams through decodeIpv4 → acceptAdvert: a verdict for every input, in bounded time; accepted means acceptable', () => {
  const budget = new Budget('VRRP receive path (mutated corpus datagrams)');
  const verdicts = new Map<string, number>();
  fc.assert(
    fc.property(datagramAndPolicyArb, ([{ bytes }, policy]) => {
      const verdict = budget.run(
        () => {
          const ip = decodeIpv4(bytes);
          if (!ip.ok) return ip;
          return acceptAdvert(
            { payload: ip.value.payload, source: ip.value.source, destination: ip.value.destination, ttl: ip.value.ttl },
            policy,
          );
        },
        () => bytes.toString('hex'),
      );
      const key = verdict.ok ? 'accepted' : verdict.reason;
      verdicts.set(key, (verdicts.get(key) ?? 0) + 1);
      if (!verdict.ok) {
        assert.ok(DROP_REASONS.includes(verdict.reason), verdict.reason);
        assert.ok(verdict.detail.length > 0);
        return;
      }
      // What acceptAdvert lets through must satisfy every rule of RFC 3768/5798 7.1.
      const ip = decodeIpv4(bytes);
      assert.ok(ip.ok);
      assert.equal(ip.value.ttl, VRRP_TTL);
      assert.equal(verdict.value.vrid, policy.vrid);
      assert.equal(verdict.value.version, policy.version);
      assert.ok(!policy.ownAddresses.has(verdict.value.source));
      if (policy.unicastPeers) assert.ok(policy.unicastPeers.has(verdict.value.source));
      if (policy.version === 2) {
        assert.equal(verdict.value.intervalCs, policy.intervalCs);
        assert.equal(verdict.value.authType, policy.password === undefined ? AUTH_NONE : AUTH_SIMPLE_PASSWORD);
        if (policy.password !== undefined) assert.deepEqual(verdict.value.authData, passwordAuthData(policy.password));
      }
      assert.ok(verdict.value.addresses.length >= 1 && verdict.value.intervalCs >= 1);
    }),
    { numRuns: 20_000 },
  );
  assert.ok(
    (verdicts.get('accepted') ?? 0) > 0 && verdicts.size >= 10,
    `the mutations reach deep: ${JSON.stringify(Object.fromEntries(verdicts))}`,
  );
  console.log(`# ${budget.summary()}; verdicts ${JSON.stringify(Object.fromEntries(verdicts))}`);
});

test('VRRPv2 adverts round-trip: decode(encode(x)) = x for every interval, auth type and password', () => {
  const env: AdvertEnvelope = { family: 4, source: '192.0.2.1', destination: '224.0.0.18' };
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 255 }),
      fc.integer({ min: 0, max: 255 }),
      fc.integer({ min: 1, max: 255 }),
      fc.array(fc.ipV4(), { minLength: 1, maxLength: 40 }),
      fc.integer({ min: 0, max: 255 }),
      fc.uint8Array({ minLength: 8, maxLength: 8 }),
      (vrid, priority, seconds, addresses, authType, auth) => {
        const advert: VrrpAdvert = {
          version: 2,
          vrid,
          priority,
          intervalCs: seconds * 100,
          addresses,
          authType,
          authData: Buffer.from(auth),
        };
        const d = decodeAdvert(encodeAdvert(advert, env), env);
        assert.ok(d.ok, d.ok ? '' : d.detail);
        assert.deepEqual(d.value, advert);
      },
    ),
    { numRuns: 1000 },
  );
});

function onesComplementWordSum(bytes: Buffer): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 2) sum += bytes.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum === 0xffff ? 0 : sum;
}

test('VRRPv3 over IPv6 round-trips, and the checksum binds the advert to its addresses', () => {
  const linkLocal = fc
    .tuple(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 1, max: 0xffff }))
    .map(([a, b]) => `fe80::${a.toString(16)}:${b.toString(16)}`);
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 255 }),
      fc.integer({ min: 0, max: 255 }),
      fc.integer({ min: 1, max: 4095 }),
      fc.array(fc.ipV6(), { minLength: 1, maxLength: 10 }),
      linkLocal,
      linkLocal,
      (vrid, priority, intervalCs, addresses, source, other) => {
        const env: AdvertEnvelope = { family: 6, source, destination: 'ff02::12' };
        const bytes = encodeAdvert({ version: 3, vrid, priority, intervalCs, addresses }, env);
        const d = decodeAdvert(bytes, env);
        assert.ok(d.ok, d.ok ? '' : d.detail);
        assert.deepEqual([d.value.vrid, d.value.priority, d.value.intervalCs], [vrid, priority, intervalCs]);
        assert.deepEqual(
          d.value.addresses.map((a) => ipToBytes(a).toString('hex')),
          addresses.map((a) => ipToBytes(a).toString('hex')),
        );
        // The Internet checksum is a one's-complement sum of 16-bit words: sources whose words
        // sum alike (fe80::1:2 and fe80::2:1, or a 0x0000 word against 0xffff) cannot be told apart.
        if (onesComplementWordSum(ipToBytes(other)) === onesComplementWordSum(ipToBytes(source))) return;
        const moved = decodeAdvert(bytes, { ...env, source: other });
        assert.ok(!moved.ok && moved.reason === 'bad_checksum', 'the same bytes from another source fail the pseudo-header checksum');
      },
    ),
    { numRuns: 1000 },
  );
});

test('the IPv4 envelope round-trips: decodeIpv4(header + payload) gives back TTL, addresses and the payload', () => {
  fc.assert(
    fc.property(
      fc.ipV4(),
      fc.ipV4(),
      fc.integer({ min: 0, max: 255 }),
      fc.uint8Array({ maxLength: 1200 }),
      fc.uint8Array({ maxLength: 4 }),
      (source, destination, ttl, payload, padding) => {
        const header = ipv4Header(source, destination);
        header[8] = ttl;
        header.writeUInt16BE(20 + payload.length, 2);
        const d = decodeIpv4(Buffer.concat([header, payload, padding]));
        assert.ok(d.ok);
        assert.deepEqual([d.value.source, d.value.destination, d.value.ttl], [source, destination, ttl]);
        assert.deepEqual(d.value.payload, Buffer.from(payload));
      },
    ),
    { numRuns: 1000 },
  );
});
