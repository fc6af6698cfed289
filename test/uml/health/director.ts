// The director side of the UML health test, run inside the director namespace:
// failoverd's HealthMonitor with the real check plugins, applying each desired
// pool to the kernel's IPVS table over netlink.
//   node director.js CONFIG_JSON
// stdout: one JSON line per event ({"event": AgentEvent}) and per applied pool ({"applied": n}).
import { loadCheckPlugins } from '../../../checks/index.js';
import { systemClock } from '../../../src/clock.js';
import { EventBus } from '../../../src/events.js';
import { HealthMonitor } from '../../../src/health/monitor.js';
import type { HealthServiceConfig } from '../../../src/health/types.js';
import { IpvsClient } from '../../../src/ipvs/client.js';
import { destinationId, type DesiredService } from '../../../src/ipvs/types.js';
import { silentLogger } from '../../../src/log.js';

const services = JSON.parse(process.argv[2]!) as HealthServiceConfig[];
const table = await IpvsClient.open();
const say = (o: unknown): void => {
  process.stdout.write(`${JSON.stringify(o)}\n`);
};

// The pools go through src/ipvs's Reconciler (minimal diff, drains) when it is
// built; before it existed this test applied a plain per-destination diff, kept as
// the fallback so the test does not depend on the order the two areas land in.
interface PoolSink {
  apply(desired: DesiredService[]): Promise<void>;
  close(): Promise<void>;
  kind: string;
}

async function reconcilerSink(): Promise<PoolSink | undefined> {
  let mod: {
    Reconciler?: new (o: Record<string, unknown>) => {
      start(): void;
      setDesired(d: readonly DesiredService[]): Promise<{ error?: string }>;
      stop(): Promise<void>;
      removeOwned(): Promise<unknown>;
    };
  };
  try {
    mod = await import(new URL('../../../src/ipvs/reconciler.js', import.meta.url).href);
  } catch {
    return undefined;
  }
  if (!mod.Reconciler) return undefined;
  const reconciler = new mod.Reconciler({
    table,
    clock: systemClock,
    logger: silentLogger(),
    drainTimeoutMs: 0,
    drainPollMs: 100,
    auditIntervalMs: 60_000,
  });
  reconciler.start();
  return {
    kind: 'reconciler',
    apply: async (desired) => {
      const report = await reconciler.setDesired(desired);
      if (report.error) throw new Error(report.error);
    },
    close: async () => {
      await reconciler.removeOwned();
      await reconciler.stop();
    },
  };
}

const diffSink: PoolSink = {
  kind: 'plain diff',
  async apply(desired) {
    for (const want of desired) {
      if (!(await table.getService(want.service.key))) await table.addService(want.service);
      const have = new Map((await table.listDestinations(want.service.key)).map((d) => [destinationId(d), d]));
      for (const d of want.destinations) {
        const current = have.get(destinationId(d));
        have.delete(destinationId(d));
        if (!current) await table.addDestination(want.service.key, d);
        else if (current.weight !== d.weight) await table.editDestination(want.service.key, d);
      }
      for (const gone of have.values()) await table.deleteDestination(want.service.key, gone);
    }
  },
  async close() {
    for (const s of services) await table.deleteService(s.spec.key).catch(() => {});
  },
};

const sink = (await reconcilerSink()) ?? diffSink;

let chain = Promise.resolve();
let applied = 0;
const bus = new EventBus('lvs-test');
bus.subscribe('*', (event) => say({ event }));
const monitor = new HealthMonitor({
  bus,
  logger: silentLogger(),
  plugins: await loadCheckPlugins(),
  onPoolChange: (desired) => {
    chain = chain
      .then(() => sink.apply(desired))
      .then(
        () => say({ applied: ++applied }),
        (err: Error) => say({ error: err.message }),
      );
  },
});
monitor.update(services);
say({ ready: true, sink: sink.kind });
process.stdin.resume();
process.stdin.on('end', () => {
  monitor.stop();
  void chain.then(async () => {
    await sink.close();
    table.close();
    process.exit(0);
  });
});
