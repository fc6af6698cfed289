// SIGHUP with a routing: section, through the agent on in-memory I/O (harness.ts) and the
// routing fake kernel: the reload applies announcement changes without touching the
// unchanged ones, applies sloppy, and a refused reload leaves the running routing as it was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startAgent } from './harness.js';
import { fakeKernel } from '../routing/fake-kernel.js';

const service = (name: string, vip: string, scheduler = 'mh'): string => `  - name: ${name}
    vip: ${vip}
    vip_standalone: true
    port: 80
    scheduler: ${scheduler}
    check: { type: tcp, interval: 1s, timeout: 500ms, rise: 1, initial: up }
    real_servers:
      - { address: 10.9.1.21 }
`;

const config = (o: { services?: string; routing?: string }): string => `node: { name: d1 }
services:
${o.services ?? service('a-80', '10.9.9.1') + service('b-80', '10.9.9.2')}${o.routing ?? ''}api: { listen: /run/failoverd-test/api.sock, metrics: false }
health: { checks_thread: main }
`;

const routing = (entries: string[], top = ''): string => `routing:\n${top}  announce:\n${entries.map((e) => `    - ${e}\n`).join('')}`;
const A = '{ name: a, vips: [10.9.9.1] }';
const B = '{ name: b, vips: [10.9.9.2] }';

async function rig(t: { after(fn: () => Promise<void> | void): void }, yaml: string) {
  const kernel = fakeKernel();
  const held: { rig?: Awaited<ReturnType<typeof startAgent>> } = {};
  // Registered before the harness's own stop, which runs next: SIGTERM waits for the
  // routing's converge time on the fake clock, so this stop moves the clock on.
  t.after(async () => {
    const started = held.rig;
    if (!started) return;
    const stopping = started.agent.stop();
    await started.run(10_000, 500);
    await stopping;
  });
  const started = await startAgent(t, yaml, async (rig) => {
    rig.options.routingIo = kernel.io;
  });
  held.rig = started;
  await started.run(3000);
  return { ...started, kernel };
}

test('reload: an added announcement is announced, the unchanged one untouched; sloppy turned on is applied', async (t) => {
  const r = await rig(t, config({ routing: routing([A], '  sloppy: false\n  allow_flow_resets: true\n') }));
  assert.deepEqual(r.kernel.changes, ['+10.9.9.1']);
  assert.equal(r.kernel.sysctls.get('net.ipv4.vs.sloppy_tcp'), '0');

  r.rewrite(config({ routing: routing([A, B]) }));
  assert.equal(await r.agent.reload(), true);
  await r.run(1000);
  assert.deepEqual(r.kernel.changes, ['+10.9.9.1', '+10.9.9.2'], 'a is not withdrawn and announced again');
  assert.equal(r.kernel.sysctls.get('net.ipv4.vs.sloppy_tcp'), '1');
  assert.deepEqual(
    r.agent.snapshot().routing?.map((a) => [a.name, a.announced]),
    [
      ['a', true],
      ['b', true],
    ],
  );
  assert.deepEqual(
    r.events.filter((e) => e.type.startsWith('route.')).map((e) => `${e.type} ${e.object}`),
    ['route.announced route/a', 'route.announced route/b'],
  );

  r.rewrite(config({ routing: routing([B]) }));
  assert.equal(await r.agent.reload(), true);
  await r.run(1000);
  assert.deepEqual(r.kernel.changes, ['+10.9.9.1', '+10.9.9.2', '-10.9.9.1']);
  assert.deepEqual(
    r.agent.snapshot().routing?.map((a) => a.name),
    ['b'],
  );
});

test('reload: a config refused by its rules (wlc on an announced VIP) leaves the running routing as it was', async (t) => {
  const r = await rig(t, config({ routing: routing([A, B]) }));
  assert.deepEqual(r.kernel.changes, ['+10.9.9.1', '+10.9.9.2']);
  r.rewrite(config({ services: service('a-80', '10.9.9.1', 'wlc') + service('b-80', '10.9.9.2'), routing: routing([A]) }));
  assert.equal(await r.agent.reload(), false);
  await r.run(1000);
  assert.match(
    r.events.find((e) => e.type === 'config.rejected')?.reason ?? '',
    /failoverd\.yaml:\d+:\d+ services\[0\]\.scheduler: .*scheduler wlc/,
  );
  assert.deepEqual(r.kernel.changes, ['+10.9.9.1', '+10.9.9.2'], 'b is still announced');
  assert.equal(r.agent.snapshot().config?.generation, 1);
});

test('reload: an announcement on an interface that does not exist refuses the reload before anything moves', async (t) => {
  const r = await rig(t, config({ routing: routing([A, B]) }));
  r.kernel.missing.add('dummy9');
  r.rewrite(config({ routing: routing([A, '{ name: b, vips: [10.9.9.2], interface: dummy9 }']) }));
  assert.equal(await r.agent.reload(), false);
  await r.run(1000);
  assert.match(r.events.find((e) => e.type === 'config.rejected')?.reason ?? '', /failoverd\.yaml: no interface "dummy9"/);
  assert.deepEqual(r.kernel.changes, ['+10.9.9.1', '+10.9.9.2']);
  assert.equal(r.agent.snapshot().config?.generation, 1);
});

test('reload: a routing section added to an agent that started without one starts routing mode', async (t) => {
  const r = await rig(t, config({}));
  assert.equal(r.agent.snapshot().routing, undefined);
  r.rewrite(config({ routing: routing([A]) }));
  assert.equal(await r.agent.reload(), true);
  await r.run(1000);
  assert.deepEqual(r.kernel.changes, ['+10.9.9.1']);
  assert.equal(r.kernel.sysctls.get('net.ipv4.vs.sloppy_tcp'), '1');
  assert.deepEqual(r.kernel.held, ['10.9.9.1@lo']);
});

test('reload: refused after the routing host was prepared (the API cannot listen): sloppy is set back as the running config says', async (t) => {
  const r = await rig(t, config({ routing: routing([A]) }));
  assert.equal(r.kernel.sysctls.get('net.ipv4.vs.sloppy_tcp'), '1');
  r.api.failing.add('/run/failoverd-test/other.sock');
  r.rewrite(
    config({ routing: routing([A], '  sloppy: false\n  allow_flow_resets: true\n') }).replace(
      '/run/failoverd-test/api.sock',
      '/run/failoverd-test/other.sock',
    ),
  );
  assert.equal(await r.agent.reload(), false);
  assert.equal(r.kernel.sysctls.get('net.ipv4.vs.sloppy_tcp'), '1', 'the refused config set 0; the undo put 1 back');
  assert.equal(r.kernel.sysctls.get('net.ipv4.vs.sloppy_sctp'), '1');
});
