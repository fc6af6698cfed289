// The director side of the UML health test, run inside the director namespace:
// failoverd's HealthMonitor with the real check plugins, applying each desired
// pool to the kernel's IPVS table over netlink.
//   node director.js CONFIG_JSON
// stdout: one JSON line per event ({"event": AgentEvent}) and per applied pool ({"applied": n}).
import { loadCheckPlugins } from '../../../checks/index.js';
import { EventBus } from '../../../src/events.js';
import { HealthMonitor } from '../../../src/health/monitor.js';
import type { HealthServiceConfig } from '../../../src/health/types.js';
import { IpvsClient } from '../../../src/ipvs/client.js';
import { destinationId, type DesiredService } from '../../../src/ipvs/types.js';
import { silentLogger } from '../../../src/log.js';

const services = JSON.parse(process.argv[2]!) as HealthServiceConfig[];
const table = await IpvsClient.open();
const say = (o: unknown): void => { process.stdout.write(`${JSON.stringify(o)}\n`); };

// Until src/ipvs has its reconciler, a plain per-destination diff of the pools
// this test owns (the test creates the service and is the only writer).
async function apply(desired: DesiredService[]): Promise<void> {
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
}

let chain = Promise.resolve();
let applied = 0;
const bus = new EventBus('lvs-test');
bus.subscribe('*', (event) => say({ event }));
const monitor = new HealthMonitor({
  bus,
  logger: silentLogger(),
  plugins: await loadCheckPlugins(),
  onPoolChange: (desired) => {
    chain = chain.then(() => apply(desired)).then(() => say({ applied: ++applied }), (err: Error) => say({ error: err.message }));
  },
});
monitor.update(services);
say({ ready: true });
process.stdin.resume();
process.stdin.on('end', () => {
  monitor.stop();
  void chain.then(async () => {
    for (const s of services) await table.deleteService(s.spec.key).catch(() => {});
    table.close();
    process.exit(0);
  });
});
