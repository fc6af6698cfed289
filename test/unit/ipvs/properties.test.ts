// Properties of the diff and the codec, with fast-check.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { applyOps } from '../../../src/ipvs/apply.js';
import {
  decodeDaemonMessage,
  decodeDestinationMessage,
  decodeInfoMessage,
  decodeRequest,
  decodeServiceMessage,
  decodeTimeoutsMessage,
} from '../../../src/ipvs/codec.js';
import { MemoryIpvsTable } from '../../../src/ipvs/memory-table.js';
import { normalizeDesired, reconcile, reconcileInPieces, type ReconcileInput, type ReconcileOutput } from '../../../src/ipvs/diff.js';
import { viewOf } from '../../../src/ipvs/view.js';
import {
  destinationId,
  serviceKeyId,
  type ActualService,
  type DesiredService,
  type DestinationSpec,
  type ServiceKey,
  type ServiceSpec,
} from '../../../src/ipvs/types.js';

const KEYS: ServiceKey[] = [
  { kind: 'address', family: 'inet', protocol: 'tcp', address: '10.0.0.1', port: 80 },
  { kind: 'address', family: 'inet', protocol: 'udp', address: '10.0.0.1', port: 80 },
  { kind: 'address', family: 'inet', protocol: 'tcp', address: '10.0.0.2', port: 443 },
  { kind: 'address', family: 'inet6', protocol: 'sctp', address: '2001:db8::1', port: 80 },
  { kind: 'fwmark', family: 'inet', fwmark: 7 },
  { kind: 'fwmark', family: 'inet6', fwmark: 7 },
];
const ADDRS = { inet: ['10.1.0.1', '10.1.0.2', '10.1.0.3', '10.1.0.4'], inet6: ['2001:db8::a', '2001:db8::b', '2001:db8::c'] };

const serviceArb = (key: ServiceKey): fc.Arbitrary<ServiceSpec> =>
  fc
    .record({
      scheduler: fc.constantFrom('rr', 'wlc', 'sh', 'mh'),
      persistent: fc.boolean(),
      onePacket: fc.boolean(),
      schedPort: fc.boolean(),
      timeout: fc.integer({ min: 1, max: 3600 }),
    })
    .map((r) => ({
      key,
      scheduler: r.scheduler,
      flags: { persistent: r.persistent, onePacket: r.onePacket, schedPort: r.schedPort },
      persistenceTimeoutSec: r.persistent ? r.timeout : 0,
      netmask: key.family === 'inet' ? '255.255.255.255' : 128,
    }));

const destArb = (key: ServiceKey): fc.Arbitrary<DestinationSpec> =>
  fc
    .record({
      address: fc.constantFrom(...ADDRS[key.family]),
      weight: fc.integer({ min: 0, max: 5 }),
      forwarding: fc.constantFrom('dr' as const, 'nat' as const, 'tun' as const),
      upper: fc.integer({ min: 0, max: 3 }),
    })
    .map((r) => ({
      address: r.address,
      port: key.kind === 'fwmark' ? 0 : key.port,
      weight: r.weight,
      forwarding: r.forwarding,
      upperThreshold: r.upper,
      lowerThreshold: 0,
      ...(r.forwarding === 'tun' ? { tunnel: { type: 'ipip' as const } } : {}),
    }));

const uniqueDests = (ds: DestinationSpec[]) => [...new Map(ds.map((d) => [destinationId(d), d])).values()];

/** A desired table, a kernel table, a retired set and connection counts, all overlapping. */
const scenarioArb = fc
  .record({
    desiredKeys: fc.subarray(KEYS),
    actualKeys: fc.subarray(KEYS),
    retiredPick: fc.array(fc.boolean(), { minLength: KEYS.length, maxLength: KEYS.length }),
    seed: fc.integer(),
  })
  .chain(({ desiredKeys, actualKeys, retiredPick }) =>
    fc.record({
      desired: fc.tuple(
        ...desiredKeys.map((k) =>
          fc.record({ service: serviceArb(k), destinations: fc.array(destArb(k), { maxLength: 4 }).map(uniqueDests) }),
        ),
      ),
      actual: fc.tuple(
        ...actualKeys.map((k) =>
          fc.record({
            service: serviceArb(k),
            destinations: fc
              .array(fc.tuple(destArb(k), fc.integer({ min: 0, max: 2 })), { maxLength: 4 })
              .map((xs) => [...new Map(xs.map(([d, c]) => [destinationId(d), { d, c }])).values()]),
          }),
        ),
      ),
      retired: fc.constant(new Set(KEYS.filter((k, i) => retiredPick[i] && !desiredKeys.includes(k)).map((k) => serviceKeyId(k)))),
    }),
  );

async function kernelFrom(actual: { service: ServiceSpec; destinations: { d: DestinationSpec; c: number }[] }[]): Promise<MemoryIpvsTable> {
  const table = new MemoryIpvsTable();
  for (const a of actual) {
    await table.addService(a.service);
    for (const { d, c } of a.destinations) {
      await table.addDestination(a.service.key, d);
      table.setConnections(a.service.key, d, c);
    }
  }
  return table;
}

const strip = (services: ActualService[]) => new Map(services.map((s) => [serviceKeyId(s.service.key), s]));

test('reconcile applied to the kernel yields the desired table for owned services and leaves foreign ones untouched', async () => {
  await fc.assert(
    fc.asyncProperty(scenarioArb, async ({ desired: rawDesired, actual, retired }) => {
      const desiredById = normalizeDesired(rawDesired);
      const desired: DesiredService[] = [...desiredById.values()];
      const table = await kernelFrom(actual);
      const before = strip(await table.listServices());
      const owned = new Set([...desiredById.keys(), ...retired]);
      const drainTimeoutMs = () => 1000;

      const first = reconcile({
        desired: desiredById,
        actual: viewOf(await table.listServices()),
        retired,
        drains: new Map(),
        now: 0,
        drainTimeoutMs,
      });
      const results = await applyOps(table, first.ops);
      assert.deepEqual(
        results.filter((r) => r.error),
        [],
        'every op is valid against the kernel',
      );
      const after = strip(await table.listServices());

      for (const [id, s] of before) if (!owned.has(id)) assert.deepEqual(after.get(id), s, `foreign ${id} untouched`);
      for (const want of desired) {
        const got = after.get(serviceKeyId(want.service.key));
        assert.ok(got, 'declared service present');
        assert.deepEqual(got.service, want.service);
        const gotDests = new Map(got.destinations.map((d) => [destinationId(d), d]));
        for (const d of want.destinations) {
          const g = gotDests.get(destinationId(d));
          assert.ok(g);
          const { activeConnections: _a, inactiveConnections: _i, persistentConnections: _p, stats: _s, ...spec } = g;
          assert.deepEqual(spec, d);
        }
        for (const [did, g] of gotDests) {
          if (want.destinations.some((d) => destinationId(d) === did)) continue;
          assert.equal(g.weight, 0, `undeclared ${did} kept only to drain, at weight 0`);
          assert.ok(g.activeConnections + g.inactiveConnections > 0, `undeclared ${did} kept only while it has connections`);
        }
      }
      for (const id of retired) {
        const got = after.get(id);
        if (got)
          assert.ok(
            got.destinations.every((d) => d.weight === 0),
            `retired ${id} drains`,
          );
      }

      // Nothing left to do at the same instant; after the drain timeout, exactly the declared table.
      const again = reconcile({
        desired: desiredById,
        actual: viewOf(await table.listServices()),
        retired: first.retired,
        drains: first.drains,
        now: 0,
        drainTimeoutMs,
      });
      assert.deepEqual(again.ops, []);
      const late = reconcile({
        desired: desiredById,
        actual: viewOf(await table.listServices()),
        retired: first.retired,
        drains: first.drains,
        now: 1000,
        drainTimeoutMs,
      });
      assert.deepEqual(
        (await applyOps(table, late.ops)).filter((r) => r.error),
        [],
      );
      const final = strip(await table.listServices());
      for (const want of desired) {
        assert.deepEqual(
          final
            .get(serviceKeyId(want.service.key))!
            .destinations.map((d) => destinationId(d))
            .sort(),
          want.destinations.map((d) => destinationId(d)).sort(),
        );
      }
      for (const id of retired) assert.equal(final.has(id), false, `retired ${id} deleted after the drain`);
      for (const [id, s] of before) if (!owned.has(id)) assert.deepEqual(final.get(id), s);
      assert.equal(late.retired.size, 0);
      assert.equal(late.drains.size, 0);
    }),
    { numRuns: 300 },
  );
});

function runToEnd(pieces: Generator<void, ReconcileOutput, void>): { out: ReconcileOutput; yields: number } {
  let yields = 0;
  for (;;) {
    const step = pieces.next();
    if (step.done) return { out: step.value, yields };
    yields++;
  }
}

test('reconcileInPieces gives what one reconcile() gives, ops in the same order, whatever the piece size and scope', async () => {
  await fc.assert(
    fc.asyncProperty(
      scenarioArb,
      fc.integer({ min: 1, max: 6 }),
      fc.array(fc.boolean(), { minLength: KEYS.length, maxLength: KEYS.length }),
      fc.boolean(),
      async ({ desired: rawDesired, actual, retired }, pieceDestinations, scopePick, scoped) => {
        const desired = normalizeDesired(rawDesired);
        const table = await kernelFrom(actual);
        const view = viewOf(await table.listServices());
        const scope = scoped ? new Set(KEYS.filter((_, i) => scopePick[i]).map((k) => serviceKeyId(k))) : undefined;
        // Drain entries of any service, owned or not (a whole reconcile() keeps only the owned ones).
        const drains = new Map(
          KEYS.filter((_, i) => scopePick[(i + 1) % KEYS.length]).map((k) => [
            serviceKeyId(k),
            { service: serviceKeyId(k), startedAt: 0, deadline: 1000 },
          ]),
        );
        const input: ReconcileInput = { desired, actual: view, retired, drains, now: 0, drainTimeoutMs: () => 1000, scope };
        const whole = reconcile(input);
        const { out } = runToEnd(reconcileInPieces(input, pieceDestinations));
        assert.deepEqual(out, whole);
        // Later, with the drains and retired services the first diff left.
        await applyOps(table, whole.ops);
        const later: ReconcileInput = {
          ...input,
          actual: viewOf(await table.listServices()),
          retired: whole.retired,
          drains: whole.drains,
          now: 500,
        };
        assert.deepEqual(runToEnd(reconcileInPieces(later, pieceDestinations)).out, reconcile(later));
      },
    ),
    { numRuns: 300 },
  );
});

test('reconcileInPieces yields between pieces of services, and not for a table of one piece', () => {
  const desired = normalizeDesired(
    KEYS.slice(0, 3).map((key) => ({
      service: { key, scheduler: 'rr', flags: {}, persistenceTimeoutSec: 0, netmask: key.family === 'inet' ? '255.255.255.255' : 128 },
      destinations: ADDRS[key.family].slice(0, 2).map((address) => ({
        address,
        port: key.kind === 'fwmark' ? 0 : key.port,
        weight: 1,
        forwarding: 'dr' as const,
        upperThreshold: 0,
        lowerThreshold: 0,
      })),
    })),
  );
  const input: ReconcileInput = { desired, actual: new Map(), retired: new Set(), drains: new Map(), now: 0, drainTimeoutMs: () => 1000 };
  assert.equal(runToEnd(reconcileInPieces(input, 2)).yields, 2, 'three services of two real servers, pieces of two: three pieces');
  assert.equal(runToEnd(reconcileInPieces(input, 6)).yields, 0, 'one piece');
  assert.deepEqual(runToEnd(reconcileInPieces(input, 2)).out, reconcile(input));
});

test('ops never delete and re-add the same destination or service', async () => {
  await fc.assert(
    fc.asyncProperty(scenarioArb, async ({ desired: rawDesired, actual, retired }) => {
      const desired = normalizeDesired(rawDesired);
      const table = await kernelFrom(actual);
      const { ops } = reconcile({
        desired,
        actual: viewOf(await table.listServices()),
        retired,
        drains: new Map(),
        now: 0,
        drainTimeoutMs: () => 0,
      });
      const touched = (o: (typeof ops)[number]) =>
        `${serviceKeyId('service' in o ? o.service.key : o.key)} ${'destination' in o ? destinationId(o.destination) : ''}`;
      const deleted = new Set(ops.filter((o) => o.kind.startsWith('delete')).map(touched));
      const added = new Set(ops.filter((o) => o.kind.startsWith('add')).map(touched));
      for (const t of deleted) assert.equal(added.has(t), false, t);
    }),
    { numRuns: 200 },
  );
});

/** A service as the config might give it: the same meaning in other forms (or, sometimes, a changed weight). */
const variantArb = (d: DesiredService): fc.Arbitrary<DesiredService> =>
  fc
    .record({
      upper: fc.boolean(),
      noFlags: fc.boolean(),
      netmask: fc.constantFrom('same', 'undefined', 'prefix'),
      stray: fc.boolean(),
      longV6: fc.boolean(),
      noThresholds: fc.boolean(),
      tunnelOnDr: fc.boolean(),
      emptyTunnel: fc.boolean(),
      reweigh: fc.integer({ min: -1, max: 3 }),
    })
    .map((v) => {
      const s = d.service,
        family = s.key.family;
      const allFalse = !s.flags.persistent && !s.flags.onePacket && !s.flags.schedFallback && !s.flags.schedPort;
      const service: ServiceSpec = {
        ...s,
        scheduler: v.upper ? s.scheduler.toUpperCase() : s.scheduler,
        flags: v.noFlags && allFalse ? {} : s.flags,
        netmask:
          v.netmask === 'undefined' ? (undefined as unknown as string) : v.netmask === 'prefix' && family === 'inet' ? 32 : s.netmask,
        persistenceTimeoutSec: v.stray && !s.flags.persistent ? 300 : s.persistenceTimeoutSec,
      };
      const destinations = d.destinations.map((x, i) => {
        const y: DestinationSpec = {
          ...x,
          address: v.longV6 && x.address.startsWith('2001:db8::') ? x.address.replace('2001:db8::', '2001:0db8:0:0::') : x.address,
        };
        if (v.noThresholds && y.upperThreshold === 0) delete (y as Partial<DestinationSpec>).upperThreshold;
        if (v.tunnelOnDr && y.forwarding === 'dr') y.tunnel = { type: 'gre' };
        if (v.emptyTunnel && y.forwarding === 'tun') y.tunnel = {} as never;
        if (i === v.reweigh) y.weight += 1;
        return y;
      });
      return { service, destinations };
    });

const canonicalArb = fc
  .constantFrom(...KEYS)
  .chain((k) => fc.record({ service: serviceArb(k), destinations: fc.array(destArb(k), { maxLength: 4 }).map(uniqueDests) }));

test('normalizeDesired keeps an earlier object only for a service given in exactly its canonical form, and always gives what normalizing afresh gives', () => {
  fc.assert(
    fc.property(
      canonicalArb.chain((a) => fc.record({ a: fc.constant(a), b: variantArb(a) })),
      ({ a, b }) => {
        const previous = normalizeDesired([a]);
        const next = normalizeDesired([b], previous);
        assert.deepEqual([...next], [...normalizeDesired([b])]);
        const id = [...next.keys()][0]!;
        const again = normalizeDesired([...previous.values()], previous);
        assert.equal(again.get(id), previous.get(id), 'the canonical form given back keeps its object');
      },
    ),
    { numRuns: 1000 },
  );
});

const fixtures = new URL('../../../../test/fixtures/ipvs/', import.meta.url);
const replies = JSON.parse(readFileSync(new URL('replies.json', fixtures), 'utf8')) as Record<string, { attrs: string }[]>;
const requests = JSON.parse(readFileSync(new URL('requests.json', fixtures), 'utf8')) as { genl: string }[];
const seeds = [
  ...Object.entries(replies)
    .filter(([k]) => k !== 'listing')
    .flatMap(([, v]) => v.map((m) => Buffer.from(m.attrs, 'hex'))),
  ...requests.map((r) => Buffer.from(r.genl, 'hex').subarray(4)),
];

const decoders: [string, (b: Buffer) => { ok: boolean }][] = [
  ['service', decodeServiceMessage],
  ['destination', (b) => decodeDestinationMessage(b, 'inet')],
  ['destination v6', (b) => decodeDestinationMessage(b, 'inet6')],
  ['daemon', decodeDaemonMessage],
  ['request', decodeRequest],
  ['timeouts', decodeTimeoutsMessage],
  ['info', decodeInfoMessage],
];

/** Real messages with bytes overwritten, cut short or extended: the interesting malformed inputs. */
const mutatedArb = fc
  .record({
    seed: fc.constantFrom(...seeds),
    edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
    cut: fc.option(fc.nat()),
    tail: fc.uint8Array({ maxLength: 8 }),
  })
  .map(({ seed, edits, cut, tail }) => {
    const b = Buffer.from(seed);
    for (const [at, v] of edits) if (b.length) b[at % b.length] = v;
    const cutAt = cut === null ? b.length : cut % (b.length + 1);
    return Buffer.concat([b.subarray(0, cutAt), Buffer.from(tail)]);
  });

test('decoding arbitrary or mutated bytes never throws: it returns a value or an error', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 256 }).map((u) => Buffer.from(u)),
        mutatedArb,
      ),
      (bytes) => {
        for (const [name, decode] of decoders) {
          const r = decode(bytes);
          assert.equal(typeof r.ok, 'boolean', name);
        }
      },
    ),
    { numRuns: 3000 },
  );
});
