// What decoding an IPVS destination dump costs: the kernel's replies for 10,000 real
// servers (the captured GET_DEST replies in test/fixtures/ipvs/replies.json, repeated),
// decoded as an audit decodes them, with the garbage collector's time beside the
// total. An audit reads the whole table every 10 s on the thread that sends the VRRP
// adverts, so this is how long a large table can hold them up. Optionally against
// another build of the decoder in the same run (--before DIR: its dist/).
//   node dist/bench/ipvs/decode.js [--destinations 10000] [--rounds 30] [--before DIR]
import { readFileSync } from 'node:fs';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type * as Codec from '../../src/ipvs/codec.js';

const { values } = parseArgs({
  options: { destinations: { type: 'string', default: '10000' }, rounds: { type: 'string', default: '30' }, before: { type: 'string' } },
});
const DESTINATIONS = Number(values.destinations);
const ROUNDS = Number(values.rounds);
const BEFORE = values.before;

const fixture = fileURLToPath(new URL('../../../test/fixtures/ipvs/replies.json', import.meta.url));
const replies = JSON.parse(readFileSync(fixture, 'utf8')) as Record<string, { attrs: string }[]>;
const captured = [...(replies['destsTcp'] ?? []), ...(replies['destsUdp'] ?? [])].map((m) => Buffer.from(m.attrs, 'hex'));
if (captured.length === 0) throw new Error(`${fixture}: no captured destination replies`);
// Each a buffer of its own, as each reply arrives in the datagram the socket read.
const dump = Array.from({ length: DESTINATIONS }, (_, i) => Buffer.from(captured[i % captured.length]!));

let gcMs = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcMs += e.duration;
}).observe({ entryTypes: ['gc'] });

async function measure(label: string, codec: typeof Codec): Promise<string> {
  const times: number[] = [];
  const gcs: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const gcBefore = gcMs;
    const t = performance.now();
    let weights = 0;
    for (const attrs of dump) {
      const d = codec.decodeDestinationMessage(attrs, 'inet');
      if (!d.ok) throw new Error(`${label}: ${d.error}`);
      weights += d.value.weight;
    }
    times.push(performance.now() - t);
    // The observer reports a GC after it ends: let it.
    await new Promise((resolve) => setImmediate(resolve));
    gcs.push(gcMs - gcBefore);
    if (weights < 0) throw new Error('unreachable');
  }
  // The first rounds compile and warm up; an audit every 10 s runs warm code.
  const warm = times.slice(Math.floor(ROUNDS / 3)).sort((a, b) => a - b);
  const warmGc = gcs.slice(Math.floor(ROUNDS / 3)).sort((a, b) => a - b);
  const median = warm[Math.floor(warm.length / 2)]!;
  return `| ${label} | ${median.toFixed(1)} | ${warm.at(-1)!.toFixed(1)} | ${warmGc[Math.floor(warmGc.length / 2)]!.toFixed(1)} | ${((median * 1000) / DESTINATIONS).toFixed(2)} |`;
}

const builds: [string, typeof Codec][] = [['this tree', await import('../../src/ipvs/codec.js')]];
if (BEFORE) builds.unshift(['before', (await import(pathToFileURL(`${BEFORE}/src/ipvs/codec.js`).href)) as typeof Codec]);
console.log(
  `IPVS destination dump decode: ${DESTINATIONS} destinations, ${ROUNDS} rounds (the last ${ROUNDS - Math.floor(ROUNDS / 3)} counted); node ${process.version}`,
);
console.log('| decoder | median ms | max ms | GC ms (median) | µs per destination |');
console.log('|---|---|---|---|---|');
// Alternating, so that both builds see the same machine load.
const rows = new Map<string, string[]>();
for (let pass = 0; pass < 2; pass++) {
  for (const [label, codec] of builds) {
    const row = await measure(label, codec);
    rows.set(label, [...(rows.get(label) ?? []), row]);
  }
}
for (const list of rows.values()) for (const row of list) console.log(row);
