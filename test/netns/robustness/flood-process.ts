// A child process that floods hostile datagrams at a target rate for a while,
// so the test process stays free to measure. Argument: JSON
// { netns, interfaceName, ifindex, packets: [{source, destination, ttl, payload(hex)}], rate, seconds }.
// Prints { sent, errors, seconds, achievedRate, bySlot } as JSON on exit.
import { Injector } from './injector.js';

interface FloodArgs {
  netns: string;
  interfaceName: string;
  ifindex: number;
  packets: { source: string; destination: string; ttl: number; payload: string }[];
  rate: number;
  seconds: number;
}

const args = JSON.parse(process.argv[2]!) as FloodArgs;
const injector = new Injector(args.netns, args.interfaceName, args.ifindex);
const datagrams = args.packets.map((p) => Injector.datagram({ ...p, payload: Buffer.from(p.payload, 'hex') }));
const sentBySlot = new Array<number>(datagrams.length).fill(0);
let sent = 0;
let errors = 0;
const errorCodes: Record<string, number> = {};
const start = process.hrtime.bigint();
const durationNs = BigInt(Math.round(args.seconds * 1e9));
// Paced by the clock: after t seconds, rate × t packets are out (bursts of at most 64).
for (;;) {
  const elapsed = process.hrtime.bigint() - start;
  if (elapsed >= durationNs) break;
  const due = Math.floor((Number(elapsed) / 1e9) * args.rate);
  let burst = 0;
  while (sent + errors < due && burst++ < 64) {
    const slot = (sent + errors) % datagrams.length;
    try {
      injector.send(datagrams[slot]!);
      sent++;
      sentBySlot[slot]!++;
    } catch (err) {
      errors++;
      const code = (err as { code?: string }).code ?? 'unknown';
      errorCodes[code] = (errorCodes[code] ?? 0) + 1;
    }
  }
}
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
injector.close();
process.stdout.write(`${JSON.stringify({ sent, errors, errorCodes, seconds, achievedRate: Math.round(sent / seconds), sentBySlot })}\n`);
