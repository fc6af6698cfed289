// Runs the status API with a fake agent behind it, for the netns tests:
//   node fake-agent-server.js SOCKET LOOPBACK METRICS
// Prints one line "ready <listening JSON>" when serving; exits on SIGTERM.
import { ApiServer } from '../../../src/api/server.js';
import { EventBus } from '../../../src/events.js';
import { Metrics } from '../../../src/metrics/metrics.js';
import { fakeAgent } from '../../unit/api/fake-agent.js';

const [socket, loopback, metricsAddress] = process.argv.slice(2);
const agent = fakeAgent();
const bus = new EventBus(agent.snapshot.node);
const metrics = new Metrics(bus, agent.sources);
const server = new ApiServer(
  { socket: socket!, loopback: loopback!, metrics: metricsAddress! },
  { status: agent.status, admin: agent.admin, metrics: metrics.registry, bus },
);
bus.publish({ type: 'vrrp.state', object: 'vrrp/web', from: 'BACKUP', to: 'MASTER', reason: 'master down timer expired' });
bus.publish({ type: 'realserver.up', object: 'service/web-80/10.6.2.191:80', from: 'down', to: 'up' });
bus.publish({ type: 'config.reloaded', object: 'config' });
metrics.recordCheck('http', true, 1.8);
metrics.recordCheck('tcp', false, 1000);
await server.start();
process.stdout.write(`ready ${JSON.stringify(server.listening())}\n`);
process.on('SIGTERM', () => {
  void server.stop().then(() => process.exit(0));
});
