// Routing mode's observability through the agent (harness.ts, routing fake kernel): each
// announce and withdraw is an event that reaches a webhook and a notify program, and the
// announcement's state is in the status snapshot, in `failoverd status`'s text and in
// the failoverd_route_announced metric.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Registry } from 'prom-client';
import { formatStatus } from '../../../src/api/format.js';
import { waitFor } from '../../helpers/wait.js';
import { parsePrometheus, sample } from '../api/prom-text.js';
import { ok, startReceiver } from '../alerts/receiver.js';
import { scratch, script } from '../alerts/scripts.js';
import { fakeKernel } from '../routing/fake-kernel.js';
import { startAgent } from './harness.js';

const MAINTENANCE = '/run/failoverd-test/maintenance';

test('announce and withdraw: events to webhooks and notify programs, state in status, its text and the metric', async (t) => {
  const dir = scratch(t, 'failoverd-routing-obs-');
  const out = join(dir, 'notify.out');
  const program = script(dir, 'notify.sh', `echo "$FAILOVERD_EVENT_TYPE $FAILOVERD_OBJECT $FAILOVERD_TO $FAILOVERD_REASON" >> ${out}`);
  const receiver = await startReceiver((_r, _i, res) => ok(res));
  t.after(() => receiver.close());
  const yaml = `node: { name: d1 }
services:
  - name: a-80
    vip: 10.9.9.1
    port: 80
    scheduler: mh
    check: { type: tcp, interval: 1s, timeout: 500ms, rise: 1, initial: up }
    real_servers: [{ address: 10.9.1.21 }]
routing:
  maintenance_file: ${MAINTENANCE}
  announce:
    - { name: a, vips: [10.9.9.1], converge: 1s }
alerts:
  webhooks:
    - { url: ${receiver.url}, events: ["route.*"] }
  notify:
    - { program: ${program}, events: ["route.*"] }
api: { listen: /run/failoverd-test/api.sock, metrics: false }
health: { checks_thread: main }
`;
  const kernel = fakeKernel();
  const held: { registry?: Registry } = {};
  const rig = await startAgent(t, yaml, async (r) => {
    r.options.routingIo = kernel.io;
    const openApi = r.options.openApi;
    r.options.openApi = (config, deps) => {
      if (deps.metrics) held.registry = deps.metrics;
      return openApi(config, deps);
    };
  });
  // SIGTERM waits for the converge time on the fake clock: stop here, moving the clock on.
  t.after(async () => {
    const stopping = rig.agent.stop();
    await rig.run(5000, 500);
    await stopping;
  });
  const gauge = async (): Promise<number | undefined> =>
    sample(parsePrometheus(await held.registry!.metrics()), 'failoverd_route_announced', { announcement: 'a', vip: '10.9.9.1' });

  await rig.run(3000);
  assert.deepEqual(kernel.changes, ['+10.9.9.1']);
  assert.equal(await gauge(), 1);
  const [announced] = rig.agent.snapshot().routing ?? [];
  assert.deepEqual([announced?.name, announced?.vips, announced?.announced, announced?.phase], ['a', ['10.9.9.1'], true, 'running']);
  assert.match(formatStatus(rig.agent.snapshot()), /Routing announcements\n.*\n\s*a\s+10\.9\.9\.1\s+ANNOUNCED\s+\S+\s+quorum: a-80/);

  kernel.files.add(MAINTENANCE);
  await rig.run(1500);
  assert.deepEqual(kernel.changes, ['+10.9.9.1', '-10.9.9.1']);
  assert.equal(await gauge(), 0);
  assert.match(formatStatus(rig.agent.snapshot()), /\n\s*a\s+10\.9\.9\.1\s+WITHDRAWN\s+\S+\s+maintenance/);

  await waitFor(() => receiver.received.length === 2, { what: 'two webhook deliveries', timeoutMs: 30_000 });
  const delivered = receiver.received.map((r) => JSON.parse(r.body) as { type: string; object: string; to: string; data: unknown });
  assert.deepEqual(
    delivered.map((e) => [e.type, e.object, e.to, e.data]),
    [
      ['route.announced', 'route/a', 'announced', { prefixes: ['10.9.9.1/32'] }],
      ['route.withdrawn', 'route/a', 'withdrawn', { prefixes: ['10.9.9.1/32'] }],
    ],
  );
  await waitFor(() => readFileSync(out, { encoding: 'utf8', flag: 'a+' }).trim().split('\n').length === 2, {
    what: 'two notify program runs',
    timeoutMs: 30_000,
  });
  assert.deepEqual(readFileSync(out, 'utf8').trim().split('\n'), [
    'route.announced route/a announced quorum: a-80',
    'route.withdrawn route/a withdrawn maintenance',
  ]);
});
