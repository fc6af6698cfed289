// Maintenance windows on the system clock: how long each window lasted against its
// `for`, and how far past its cron boundary it opened. The unit test drives the same
// scheduler on the system clock and asserts the order of events only; here the
// figures are reported, not asserted. The reference is the nominal schedule.
//
//   node dist/bench/maintenance/real-clock.js [--windows 4]
import { systemClock } from '../../src/clock.js';
import { EventBus } from '../../src/events.js';
import { MaintenanceScheduler } from '../../src/maintenance/scheduler.js';

const i = process.argv.indexOf('--windows');
const WINDOWS = i > 0 ? Number(process.argv[i + 1]) : 4;
const EVERY_MS = 3000;
const FOR_MS = 1500;

const bus = new EventBus('lvs-a');
const seen: Array<{ type: string; at: number }> = [];
bus.subscribe('schedule.*', (e) => seen.push({ type: e.type, at: Date.now() }));
const noop = (): void => undefined;
const scheduler = new MaintenanceScheduler(
  [{ cron: '*/3 * * * * *', forMs: FOR_MS, action: 'drain', service: 's', realServer: '192.0.2.1' }],
  { clock: systemClock, bus, actions: { drain: noop, demote: noop } },
);
const t0 = Date.now();
scheduler.start();
const deadline = t0 + (WINDOWS + 2) * EVERY_MS;
while (seen.filter((e) => e.type === 'schedule.ended').length < WINDOWS + 1 && Date.now() < deadline)
  await new Promise((r) => setTimeout(r, 50));
await scheduler.stop({ endActive: true });

// The first window may have opened before start (mid-window): only whole ones count.
const starts = seen.filter((e) => e.type === 'schedule.started' && e.at - t0 > 100);
console.log(`maintenance windows on the system clock: cron */3 s, for ${FOR_MS} ms, ${starts.length} windows`);
console.log('| window | opened past the 3 s boundary (ms) | lasted (ms) | nominal (ms) |');
console.log('|---|---|---|---|');
starts.forEach((s, k) => {
  const end = seen.find((e) => e.type === 'schedule.ended' && e.at > s.at);
  console.log(`| ${k + 1} | ${s.at % EVERY_MS} | ${end ? end.at - s.at : '—'} | ${FOR_MS} |`);
});
