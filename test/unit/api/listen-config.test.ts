// api.listen accepts what docs/api.md documents — a Unix socket path or a loopback
// HOST:PORT — and the agent's API then listens there; what it must not be is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiClient } from '../../../src/api/client.js';
import { apiFromConfig } from '../../../src/api/from-config.js';
import { parseListenAddress } from '../../../src/api/listen.js';
import { ApiServer } from '../../../src/api/server.js';
import { formatConfigError, loadConfigText, type LoadConfigResult } from '../../../src/config/index.js';
import { fakePlugins } from '../config/fake-plugins.js';
import { fakeAgent } from './fake-agent.js';

function load(api: string): LoadConfigResult {
  const options = { checkPlugins: fakePlugins, env: {}, defaultNodeName: 'lvs-a' };
  return loadConfigText(`services: []\napi: ${api}\n`, 'failoverd.yaml', options);
}

function accepted(api: string) {
  const r = load(api);
  assert.ok(r.ok, `${api}: ${r.ok ? '' : r.errors.map(formatConfigError).join('; ')}`);
  return r.config.api;
}

function refused(api: string): string {
  const r = load(api);
  assert.equal(r.ok, false, `${api} should be refused`);
  return r.ok ? '' : r.errors.map(formatConfigError).join('; ');
}

test('api.listen: a socket path or a loopback HOST:PORT, as documented', () => {
  assert.deepEqual(apiFromConfig(accepted('{ listen: /run/fo/api.sock }')), { socket: '/run/fo/api.sock', metrics: '127.0.0.1:9595' });
  assert.deepEqual(apiFromConfig(accepted('{ listen: 127.0.0.1:9596, metrics: false }')), { socket: false, loopback: '127.0.0.1:9596' });
  assert.deepEqual(apiFromConfig(accepted('{ listen: "[::1]:9596", admin_over_tcp: true, metrics: "[::1]:9595" }')), {
    socket: false,
    loopback: '[::1]:9596',
    adminOverTcp: true,
    metrics: '[::1]:9595',
  });
  // admin_over_tcp means nothing with a socket: admin actions are always accepted there.
  assert.deepEqual(apiFromConfig(accepted('{ admin_over_tcp: true }')), {
    socket: '/run/failoverd/failoverd.sock',
    metrics: '127.0.0.1:9595',
  });

  assert.match(refused('{ listen: 0.0.0.0:9596 }'), /api\.listen.*loopback address/);
  assert.match(refused('{ listen: "10.6.2.1:9596" }'), /api\.listen.*loopback address/);
  assert.match(refused('{ listen: ./api.sock }'), /api\.listen.*absolute socket path/);
  assert.match(refused('{ listen: "127.0.0.1:99999" }'), /api\.listen.*absolute socket path or a loopback HOST:PORT/);
  assert.match(refused('{ metrics: /run/metrics.sock }'), /api\.metrics.*HOST:PORT/);
});

test('an agent configured with api.listen: 127.0.0.1:PORT serves status there, and no socket', async (t) => {
  const config = apiFromConfig(accepted('{ listen: 127.0.0.1:0, metrics: false }'));
  const server = new ApiServer(config, { status: fakeAgent().status });
  await server.start();
  t.after(() => server.stop());
  assert.equal(server.listening().length, 1);
  const client = new ApiClient(parseListenAddress(server.listening()[0]!));
  t.after(() => client.close());
  assert.equal((await client.status()).node, 'lvs-a');
});
