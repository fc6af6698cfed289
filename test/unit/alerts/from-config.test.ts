import { test } from 'node:test';
import assert from 'node:assert/strict';
import { alertsFromConfig } from '../../../src/alerts/from-config.js';
import { schedulesFromConfig } from '../../../src/maintenance/from-config.js';
import { apiFromConfig } from '../../../src/api/from-config.js';

test('parsed config sections map onto the alerts, schedules and api inputs', () => {
  assert.deepEqual(
    alertsFromConfig({
      webhooks: [{ url: 'https://hooks.example/lvs', secret: '', events: ['vrrp.*'], timeout: 5000, retries: 3, headers: {} }],
      notify: [{ program: '/usr/local/bin/notify', events: ['*'], timeout: 10_000 }],
    }),
    {
      webhooks: [{ url: 'https://hooks.example/lvs', events: ['vrrp.*'], timeoutMs: 5000, retries: 3, headers: {} }],
      notify: [{ program: '/usr/local/bin/notify', events: ['*'], timeoutMs: 10_000 }],
    },
  );
  assert.deepEqual(
    schedulesFromConfig([
      { cron: '0 3 * * 0', timezone: 'UTC', action: 'drain', service: 'web-80', real_server: '10.6.2.191', for: 1_800_000 },
      { name: 'night', cron: '0 2 * * *', timezone: 'Europe/Berlin', action: 'demote', instance: 'web', by: 100, for: 600_000 },
    ]),
    [
      { cron: '0 3 * * 0', timezone: 'UTC', forMs: 1_800_000, action: 'drain', service: 'web-80', realServer: '10.6.2.191' },
      { name: 'night', cron: '0 2 * * *', timezone: 'Europe/Berlin', forMs: 600_000, action: 'demote', instance: 'web', by: 100 },
    ],
  );
  assert.throws(() => schedulesFromConfig([{ cron: '* * * * *', action: 'demote', for: 1 }]), /schedules\[0\]: demote needs instance/);
  assert.deepEqual(apiFromConfig({ listen: '/run/failoverd/failoverd.sock', metrics: '127.0.0.1:9595' }), {
    socket: '/run/failoverd/failoverd.sock',
    metrics: '127.0.0.1:9595',
  });
  assert.deepEqual(apiFromConfig({ listen: '127.0.0.1:9090', metrics: false }), { socket: false, loopback: '127.0.0.1:9090' });
});
