// Netlink parsing under hostile input, beyond test/unit/net/netlink-fuzz.test.ts
// (random bytes into each decoder) and test/unit/ipvs/properties.test.ts
// (mutated IPVS attribute blobs): whole datagrams from the corpus, mutated, go
// through the same chain the clients run (decodeMessages → error/genl/family/
// rtnetlink/IPVS decoders); structure-aware IPVS attribute trees reach the typed
// getters random bytes rarely get to; rtnetlink addresses and full IPVS
// service+destination requests round-trip.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { attr, decodeErrorMessage, decodeMessages, encodeAttrs, type Attr } from '../../../src/net/netlink.js';
import { decodeFamily, decodeGenl } from '../../../src/net/genetlink.js';
import { decodeAddress, decodeLink, encodeAddress, RTM_NEWADDR } from '../../../src/net/rtnetlink.js';
import { ipToBytes } from '../../../src/net/sockaddr.js';
import {
  decodeDaemonMessage,
  decodeDestinationMessage,
  decodeInfoMessage,
  decodeRequest,
  decodeServiceMessage,
  decodeTimeoutsMessage,
  encodeDestination,
  encodeService,
} from '../../../src/ipvs/codec.js';
import { IPVS_CMD_ATTR } from '../../../src/ipvs/constants.js';
import { normalizeDestination, normalizeService } from '../../../src/ipvs/normalize.js';
import type { DestinationSpec, ServiceSpec } from '../../../src/ipvs/types.js';
import type { NetlinkCorpusEntry } from '../../fixtures/corpus/generate.js';
import { Budget } from './budget.js';

const corpus = JSON.parse(
  readFileSync(new URL('../../../../test/fixtures/corpus/netlink.json', import.meta.url), 'utf8'),
) as NetlinkCorpusEntry[];
const ipvsFixtures = new URL('../../../../test/fixtures/ipvs/', import.meta.url);
const requests = JSON.parse(readFileSync(new URL('requests.json', ipvsFixtures), 'utf8')) as { genl: string }[];

const ipvsDecoders: ((b: Buffer) => { ok: boolean })[] = [
  decodeServiceMessage,
  (b) => decodeDestinationMessage(b, 'inet'),
  (b) => decodeDestinationMessage(b, 'inet6'),
  decodeDaemonMessage,
  decodeRequest,
  decodeTimeoutsMessage,
  decodeInfoMessage,
];

/** Everything a client does with a datagram it receives; returns how many decoders said ok. */
function receiveDatagram(bytes: Buffer): number {
  let ok = 0;
  const messages = decodeMessages(bytes);
  if (!messages.ok) {
    assert.ok(messages.error.length > 0);
    return 0;
  }
  for (const m of messages.value) {
    const results: { ok: boolean }[] = [
      decodeErrorMessage(m),
      decodeLink(m),
      decodeAddress(m),
      decodeFamily(m.payload),
      decodeGenl(m.payload),
    ];
    const genlAttrs = m.payload.subarray(4);
    for (const decode of ipvsDecoders) results.push(decode(genlAttrs));
    for (const r of results) {
      assert.equal(typeof r.ok, 'boolean');
      if (r.ok) ok++;
      else assert.ok((r as unknown as { error: string }).error.length > 0, 'an error says what is wrong');
    }
  }
  return ok;
}

const seeds = [...corpus.map((c) => Buffer.from(c.datagram, 'hex'))];

const mutatedDatagram = fc
  .record({
    seed: fc.constantFrom(...seeds),
    edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
    lengthEdit: fc.option(fc.tuple(fc.nat(), fc.constantFrom(0, 1, 3, 4, 0xff, 0xffff))),
    cut: fc.option(fc.nat(), { freq: 3 }),
    repeat: fc.integer({ min: 1, max: 3 }),
  })
  .map(({ seed, edits, lengthEdit, cut, repeat }) => {
    const b = Buffer.concat(Array.from({ length: repeat }, () => seed));
    for (const [at, v] of edits) if (b.length) b[at % b.length] = v;
    // Length fields sit at 4-byte boundaries: overwrite one with an extreme value.
    if (lengthEdit && b.length >= 4) b.writeUInt16LE(lengthEdit[1], (lengthEdit[0] % (b.length >> 2)) * 4);
    return cut === null ? b : b.subarray(0, cut % (b.length + 1));
  });

test('corpus datagrams, whole and mutated, go through every decoder without a throw, in bounded time', () => {
  const budget = new Budget('netlink datagrams (corpus + mutations) through 12 decoders');
  let decodedOk = 0;
  for (const seed of seeds) decodedOk += budget.run(() => receiveDatagram(seed));
  fc.assert(
    fc.property(
      fc.oneof(
        mutatedDatagram,
        fc.uint8Array({ maxLength: 600 }).map((u) => Buffer.from(u)),
      ),
      (bytes) => {
        decodedOk += budget.run(
          () => receiveDatagram(bytes),
          () => bytes.toString('hex'),
        );
      },
    ),
    { numRuns: 15_000 },
  );
  assert.ok(decodedOk > 1000, `mutants still decode often enough to reach the typed getters (${decodedOk})`);
  console.log(`# ${budget.summary()}; ${decodedOk} decoded`);
});

// ---- structure-aware IPVS attribute trees -----------------------------------

const leaf: fc.Arbitrary<Attr> = fc.record({
  type: fc.integer({ min: 1, max: 20 }),
  value: fc
    .oneof(
      fc.constantFrom(0, 1, 2, 4, 8, 16).chain((n) => fc.uint8Array({ minLength: n, maxLength: n })),
      fc.constantFrom(
        Buffer.from([2, 0]),
        Buffer.from([10, 0]),
        Buffer.from('wlc\0'),
        Buffer.from([0, 80]),
        Buffer.from([2, 0, 0, 0]),
        Buffer.alloc(16),
      ),
    )
    .map((u) => Buffer.from(u)),
});
const inner: fc.Arbitrary<Attr> = fc.oneof(
  { weight: 4, arbitrary: leaf },
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 1, max: 20 }), fc.array(leaf, { maxLength: 5 })).map(([t, c]) => attr.nested(t, c)) },
);
const ipvsTree = fc
  .array(
    fc.tuple(
      fc.constantFrom(IPVS_CMD_ATTR.SERVICE, IPVS_CMD_ATTR.DEST, IPVS_CMD_ATTR.DAEMON, 4, 5, 6, 7, 8),
      fc.array(inner, { maxLength: 14 }),
    ),
    { minLength: 1, maxLength: 3 },
  )
  .map((tops) => encodeAttrs(tops.map(([t, children]) => attr.nested(t, children))));

test('IPVS attribute trees with the right nesting and random members: a value or an error, never a throw', () => {
  const budget = new Budget('IPVS codec (structure-aware attribute trees) through 7 decoders');
  let ok = 0;
  fc.assert(
    fc.property(ipvsTree, (bytes) => {
      for (const decode of ipvsDecoders)
        if (
          budget.run(
            () => decode(bytes).ok,
            () => bytes.toString('hex'),
          )
        )
          ok++;
    }),
    { numRuns: 8000 },
  );
  assert.ok(ok > 100, `some trees decode (${ok}): the generator reaches past the first checks`);
  console.log(`# ${budget.summary()}; ${ok} decoded`);
});

// ---- round-trips ------------------------------------------------------------

test('rtnetlink addresses round-trip: decodeAddress(encodeAddress(x)) = x (IPv4 with label and scope, IPv6)', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.ipV4().map((a) => ({ a, v6: false })),
        fc.ipV6().map((a) => ({ a, v6: true })),
      ),
      fc.integer({ min: 1, max: 0x7fffffff }),
      fc.nat(128),
      fc.option(fc.stringMatching(/^[a-z0-9]{0,10}$/)),
      fc.constantFrom(0, 200, 253, 254),
      ({ a, v6 }, ifindex, prefix, label, scope) => {
        const prefixLength = v6 ? prefix : prefix % 33;
        const spec = {
          ifindex,
          address: a,
          prefixLength,
          scope,
          ...(label !== null && !v6 ? { label: `eth0:${label}`.slice(0, 15) } : {}),
        };
        const d = decodeAddress({ type: RTM_NEWADDR, flags: 0, seq: 0, pid: 0, payload: encodeAddress(spec) });
        assert.ok(d.ok, d.ok ? '' : d.error);
        assert.equal(ipToBytes(d.value.address).toString('hex'), ipToBytes(a).toString('hex'));
        assert.deepEqual(
          [d.value.ifindex, d.value.prefixLength, d.value.scope, d.value.family, d.value.label],
          [ifindex, prefixLength, scope, v6 ? 'inet6' : 'inet', spec.label],
        );
      },
    ),
    { numRuns: 1000 },
  );
});

const serviceArb: fc.Arbitrary<ServiceSpec> = fc
  .record({
    v6: fc.boolean(),
    fwmark: fc.option(fc.integer({ min: 1, max: 0xffffffff })),
    protocol: fc.constantFrom('tcp' as const, 'udp' as const, 'sctp' as const),
    a4: fc.ipV4(),
    a6: fc.ipV6(),
    port: fc.integer({ min: 0, max: 65535 }),
    scheduler: fc.constantFrom('rr', 'wrr', 'wlc', 'sh', 'mh', 'twos'),
    persistent: fc.boolean(),
    onePacket: fc.boolean(),
    schedFallback: fc.boolean(),
    schedPort: fc.boolean(),
    timeout: fc.integer({ min: 1, max: 0x7fffffff }),
    mask4: fc.nat(32),
    mask6: fc.integer({ min: 1, max: 128 }),
    pe: fc.option(fc.constant('sip')),
  })
  .map((r) => {
    const family = r.v6 ? ('inet6' as const) : ('inet' as const);
    const mask = r.v6 ? r.mask6 : [0, 0, 0, 0].map((_, i) => (0xff00 >> Math.min(8, Math.max(0, r.mask4 - i * 8))) & 0xff).join('.');
    return {
      key:
        r.fwmark !== null
          ? { kind: 'fwmark' as const, family, fwmark: r.fwmark }
          : { kind: 'address' as const, family, protocol: r.protocol, address: r.v6 ? r.a6 : r.a4, port: r.port },
      scheduler: r.scheduler,
      flags: { persistent: r.persistent, onePacket: r.onePacket, schedFallback: r.schedFallback, schedPort: r.schedPort },
      persistenceTimeoutSec: r.persistent ? r.timeout : 0,
      netmask: mask,
      ...(r.pe !== null && r.persistent ? { persistenceEngine: r.pe } : {}),
    };
  });

const destinationArb = (v6: boolean): fc.Arbitrary<DestinationSpec> =>
  fc
    .record({
      address: v6 ? fc.ipV6() : fc.ipV4(),
      port: fc.integer({ min: 0, max: 65535 }),
      weight: fc.integer({ min: 0, max: 0x7fffffff }),
      forwarding: fc.constantFrom('dr' as const, 'nat' as const, 'tun' as const),
      tunnel: fc.constantFrom('ipip' as const, 'gue' as const, 'gre' as const),
      tunPort: fc.integer({ min: 1, max: 65535 }),
      checksum: fc.constantFrom('none' as const, 'csum' as const, 'remcsum' as const),
      upper: fc.nat(),
      lower: fc.nat(),
    })
    .map((r) => ({
      address: r.address,
      port: r.port,
      weight: r.weight,
      forwarding: r.forwarding,
      upperThreshold: r.upper,
      lowerThreshold: r.lower,
      ...(r.forwarding === 'tun' ? { tunnel: { type: r.tunnel, port: r.tunnel === 'gue' ? r.tunPort : 0, checksum: r.checksum } } : {}),
    }));

test('IPVS requests round-trip: decodeRequest(encode(service, destination)) = normalize(service, destination)', () => {
  fc.assert(
    fc.property(
      serviceArb.chain((s) => fc.tuple(fc.constant(s), destinationArb(s.key.family === 'inet6'))),
      ([service, destination]) => {
        const bytes = encodeAttrs([encodeService(service), encodeDestination(destination)]);
        const d = decodeRequest(bytes);
        assert.ok(d.ok, d.ok ? '' : d.error);
        assert.deepEqual(d.value.service, normalizeService(service));
        assert.deepEqual(d.value.destination, normalizeDestination(destination));
      },
    ),
    { numRuns: 1000 },
  );
  // The ipvsadm captures decode too: the corpus the mutations start from is valid input.
  for (const r of requests) assert.ok(decodeRequest(Buffer.from(r.genl, 'hex').subarray(4)).ok);
});
