// What publishing an event costs the failover path when alerting is slow. The unit
// tests prove the mechanism (publish only enqueues, no request or spawn before it
// returns); this measures it, where a number is reported and not asserted.
//
// Each scenario publishes a takeover's burst (1000 events) while a webhook receiver
// hangs, then sets a 20 ms timer (the next GARP) and notes how late it fires; a 5 ms
// ticker records the event loop's worst lag throughout. The reference row is the
// same burst on a bus with no subscriber, in the same run.
//
//   node dist/bench/alerts/publish.js [--events 1000] [--runs 5]
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { NotifyRunner } from '../../src/alerts/programs.js';
import { WebhookDispatcher } from '../../src/alerts/webhooks.js';
import { EventBus, type EventInput } from '../../src/events.js';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
};
const EVENTS = Number(arg('events', '1000'));
const RUNS = Number(arg('runs', '5'));
const takeover: EventInput = {
  type: 'vrrp.state',
  object: 'vrrp/web',
  from: 'BACKUP',
  to: 'MASTER',
  reason: 'master down timer expired',
  data: { priority: 150 },
};

interface Figures {
  publishMs: number;
  timerLateMs: number;
  worstLagMs: number;
}

async function receiver(hang: boolean): Promise<{ url: string; close(): Promise<void> }> {
  const held: ServerResponse[] = [];
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (hang) held.push(res);
      else res.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function measure(bus: EventBus): Promise<Figures> {
  let worstLagMs = 0;
  let last = performance.now();
  const ticker = setInterval(() => {
    const now = performance.now();
    worstLagMs = Math.max(worstLagMs, now - last - 5);
    last = now;
  }, 5);
  // Let the ticker and any first delivery get going.
  await new Promise((resolve) => setTimeout(resolve, 100));
  const start = performance.now();
  for (let i = 0; i < EVENTS; i++) bus.publish({ ...takeover, reason: `burst ${i}` });
  const publishMs = performance.now() - start;
  const timerSet = performance.now();
  const timerLateMs = await new Promise<number>((resolve) => setTimeout(() => resolve(performance.now() - timerSet - 20), 20));
  await new Promise((resolve) => setTimeout(resolve, 500));
  clearInterval(ticker);
  return { publishMs, timerLateMs, worstLagMs };
}

const scenarios: Array<[string, () => Promise<Figures>]> = [
  ['reference: bus, no subscriber', async () => measure(new EventBus('lvs-a'))],
  [
    'webhooks: one hanging + one healthy receiver',
    async () => {
      const hanging = await receiver(true);
      const healthy = await receiver(false);
      const bus = new EventBus('lvs-a');
      const dispatcher = new WebhookDispatcher(bus, [
        { url: hanging.url, timeoutMs: 400, retries: 0, queueSize: 10_000 },
        { url: healthy.url, queueSize: 10_000 },
      ]);
      try {
        return await measure(bus);
      } finally {
        await dispatcher.close();
        await hanging.close();
        await healthy.close();
      }
    },
  ],
  [
    'notify: a program that cannot start',
    async () => {
      const bus = new EventBus('lvs-a');
      const runner = new NotifyRunner(bus, [{ program: '/nonexistent/failoverd-notify', queueSize: 10_000 }]);
      try {
        return await measure(bus);
      } finally {
        runner.close();
        await runner.idle();
      }
    },
  ],
];

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`publishing ${EVENTS} events, ${RUNS} runs, median (max) ms`);
console.log('| scenario | publish burst | 20 ms timer set after, late by | worst 5 ms ticker lag |');
console.log('|---|---|---|---|');
for (const [name, run] of scenarios) {
  const figures: Figures[] = [];
  for (let i = 0; i < RUNS; i++) figures.push(await run());
  const cell = (pick: (f: Figures) => number): string =>
    `${median(figures.map(pick)).toFixed(2)} (${Math.max(...figures.map(pick)).toFixed(2)})`;
  console.log(`| ${name} | ${cell((f) => f.publishMs)} | ${cell((f) => f.timerLateMs)} | ${cell((f) => f.worstLagMs)} |`);
}
