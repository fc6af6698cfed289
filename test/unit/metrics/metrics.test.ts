import { test } from 'node:test';
import assert from 'node:assert/strict';
import { register as globalRegistry } from 'prom-client';
import { EventBus } from '../../../src/events.js';
import { Metrics } from '../../../src/metrics/metrics.js';
import { fakeAgent } from '../api/fake-agent.js';
import { parsePrometheus, sample } from '../api/prom-text.js';
import { EXPECTED_FAMILIES } from './families.js';

test('every metric family is exposed on its own registry, with values from the sources and the bus', async (t) => {
  const bus = new EventBus('lvs-a');
  const agent = fakeAgent();
  const metrics = new Metrics(bus, agent.sources);
  t.after(() => metrics.close());
  bus.publish({ type: 'vrrp.state', object: 'vrrp/web', from: 'BACKUP', to: 'MASTER' });
  bus.publish({ type: 'vrrp.state', object: 'vrrp/web', from: 'MASTER', to: 'BACKUP' });
  bus.publish({ type: 'vrrp.state', object: 'vrrp/web', from: 'BACKUP', to: 'MASTER' });
  bus.publish({ type: 'realserver.down', object: 'service/web-80/10.6.2.191:80', from: 'up', to: 'down' });
  bus.publish({ type: 'config.rejected', object: 'config', reason: 'bad key' });
  bus.publish({ type: 'quorum.lost', object: 'service/web-80' });
  metrics.recordCheck('http', true, 1.8);
  metrics.recordCheck('http', false, 1000);
  metrics.recordCheck('tcp', true, 0.3);

  const text = await metrics.metrics();
  const families = parsePrometheus(text);
  for (const name of EXPECTED_FAMILIES) assert.ok(families.has(name), `family ${name} is present`);
  // Nothing on prom-client's global registry.
  assert.equal((await globalRegistry.getMetricsAsJSON()).filter((m) => m.name.startsWith('failoverd_')).length, 0);

  assert.equal(families.get('failoverd_vrrp_state')!.type, 'gauge');
  assert.equal(sample(families, 'failoverd_vrrp_state', { instance: 'web', state: 'MASTER' }), 1);
  assert.equal(sample(families, 'failoverd_vrrp_state', { instance: 'web', state: 'BACKUP' }), 0);
  assert.equal(sample(families, 'failoverd_vrrp_transitions_total', { instance: 'web', from: 'BACKUP', to: 'MASTER' }), 2);
  assert.equal(sample(families, 'failoverd_vrrp_adverts_sent_total', { instance: 'web' }), 120);
  assert.equal(sample(families, 'failoverd_vrrp_adverts_dropped_total', { instance: 'web', reason: 'bad_checksum' }), 2);
  assert.equal(families.get('failoverd_vrrp_adverts_dropped_total')!.type, 'counter');
  assert.equal(sample(families, 'failoverd_check_results_total', { type: 'http', result: 'fail' }), 1);
  assert.equal(families.get('failoverd_check_latency_seconds')!.type, 'histogram');
  assert.equal(sample(families, 'failoverd_check_latency_seconds_count', { type: 'http' }), 2);
  assert.equal(sample(families, 'failoverd_check_latency_seconds_bucket', { type: 'http', le: '0.0025' }), 1);
  assert.equal(sample(families, 'failoverd_realserver_up', { service: 'web-80', real_server: '10.6.2.191:80' }), 1);
  assert.equal(
    sample(families, 'failoverd_realserver_transitions_total', { service: 'web-80', real_server: '10.6.2.191:80', to: 'down' }),
    1,
  );
  assert.equal(sample(families, 'failoverd_ipvs_connections_total', { service: 'web-80', destination: '' }), 30);
  assert.equal(sample(families, 'failoverd_ipvs_connections_total', { service: 'web-80', destination: '10.6.2.192:80' }), 10);
  assert.equal(sample(families, 'failoverd_ipvs_bytes_in_total', { service: 'web-80', destination: '10.6.2.191:80' }), 20_000);
  assert.equal(sample(families, 'failoverd_ipvs_active_connections', { destination: '10.6.2.191:80', kind: 'inactive' }), 5);
  assert.equal(sample(families, 'failoverd_webhook_deliveries_total', { endpoint: 'https://hooks.example/lvs' }), 7);
  assert.equal(sample(families, 'failoverd_webhook_failures_total', { endpoint: 'https://hooks.example/lvs' }), 1);
  assert.equal(sample(families, 'failoverd_schedule_active', { schedule: 'sunday', action: 'drain' }), 0);
  assert.equal(sample(families, 'failoverd_config_reloads_total', { result: 'rejected' }), 1);
  assert.equal(sample(families, 'failoverd_quorum_lost_total', { service: 'web-80' }), 1);
  assert.equal(sample(families, 'failoverd_events_total', { type: 'vrrp.state' }), 3);

  // Scrape-time counters follow their source (no double counting across scrapes).
  agent.snapshot.instances[0]!.state = 'BACKUP';
  const again = parsePrometheus(await metrics.metrics());
  assert.equal(sample(again, 'failoverd_vrrp_adverts_sent_total', { instance: 'web' }), 120);
  assert.equal(sample(again, 'failoverd_vrrp_state', { instance: 'web', state: 'BACKUP' }), 1);
  assert.equal(sample(again, 'failoverd_ipvs_connections_total', { service: 'web-80', destination: '' }), 30);
});

test('with no sources every family still renders (empty), and two Metrics instances do not collide', async () => {
  const a = new Metrics(new EventBus('a'), {}, { defaultMetrics: false });
  const b = new Metrics(new EventBus('b'), {}, { defaultMetrics: false });
  const families = parsePrometheus(await a.metrics());
  assert.ok(families.has('failoverd_ipvs_connections_total'));
  assert.equal(families.has('nodejs_eventloop_lag_seconds'), false);
  a.close();
  b.close();
});
