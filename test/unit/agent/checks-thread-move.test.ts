// health.checks_thread: auto runs the checks on the main thread while they ask for at
// most 50 a second, in the worker above (src/health/checks-thread.ts); a reload that
// crosses the line moves them, and every real server resumes from its last state. A
// real agent on the real clock, with the real tcp check against loopback servers the
// test starts and stops, the checks worker a real thread, the IPVS table in memory
// (every mutation in table.calls).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCheckPlugins } from '../../../checks/index.js';
import { Agent } from '../../../src/agent.js';
import { systemClock } from '../../../src/clock.js';
import { TcpBackend } from '../../helpers/tcp-backend.js';
import { waitFor } from '../../helpers/wait.js';
import { testAgentOptions } from './harness.js';

/** One NAT service; every real server checked by tcp every `interval`; `setting` left out = the default (auto). */
const config = (ports: number[], interval: string, setting?: string): string => `node: { name: d1 }
services:
  - name: echo
    vip: 10.9.9.9
    vip_standalone: true
    port: 7000
    scheduler: wlc
    forwarding: nat
    check: { type: tcp, interval: ${interval}, timeout: 500ms, rise: 1, fall: 1 }
    real_servers:
${ports.map((p) => `      - { address: 127.0.0.1, port: ${p} }`).join('\n')}
api: { listen: /run/failoverd-test/api.sock, metrics: false }
${setting ? `health: { checks_thread: ${setting} }\n` : ''}`;

test('auto: a reload that crosses 50 checks/s moves the checks to the worker and back; no real server changes state or leaves the table', async (t) => {
  const live = [await new TcpBackend().start(), await new TcpBackend().start()];
  // Ports with no listener: their checks are refused.
  const refused: TcpBackend[] = [];
  for (let i = 0; i < 4; i++) refused.push(await new TcpBackend().start());
  for (const b of refused) await b.stop();
  const dir = mkdtempSync(join(tmpdir(), 'failoverd-checks-thread-'));
  const configPath = join(dir, 'failoverd.yaml');
  t.after(async () => {
    for (const b of [...live, ...refused]) await b.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  // 3 real servers checked every 100 ms: 30 checks/s, the main thread; 3 more make 60.
  const three = [...live, refused[0]!].map((b) => b.port);
  const six = [...three, ...refused.slice(1).map((b) => b.port)];
  writeFileSync(configPath, config(three, '100ms'));
  const rig = testAgentOptions(configPath);
  const agent = await Agent.create({ ...rig.options, clock: systemClock, plugins: await loadCheckPlugins() });
  t.after(() => agent.stop());
  await agent.start();
  const logged = (text: string): boolean => rig.logs.some((l) => l.msg.includes(text));
  const states = (): string[] => agent.snapshot().services[0]!.realServers.map((rs) => `${rs.port}:${rs.state}`);
  const expect = (ports: number[], up: number[]): string => ports.map((p) => `${p}:${up.includes(p) ? 'up' : 'down'}`).join();
  /** The real servers in the table (a drained one, at weight 0, is still there until it is deleted). */
  const inTable = async (): Promise<number[]> =>
    (await rig.table.listDestinations({ kind: 'address', family: 'inet', protocol: 'tcp', address: '10.9.9.9', port: 7000 }))
      .map((d) => d.port)
      .sort((a, b) => a - b);
  const detail = (): string =>
    `states ${states().join(' ')}; log: ${rig.logs
      .slice(-5)
      .map((l) => l.msg)
      .join(' | ')}`;
  const livePorts = (): number[] => live.map((b) => b.port).sort((a, b) => a - b);

  assert.ok(logged('the health checks run on the main thread (health.checks_thread: auto (30 checks/s, at most 50))'), detail());
  await waitFor(() => states().join() === expect(three, livePorts()), { what: 'two up, one down', timeoutMs: 10_000, detail });
  await waitFor(async () => (await inTable()).join() === livePorts().join(), {
    what: 'the live backends in the table',
    timeoutMs: 10_000,
    detail,
  });
  const beforeWorker = rig.table.calls.length;

  writeFileSync(configPath, config(six, '100ms'));
  assert.equal(await agent.reload(), true);
  assert.ok(
    logged('health checks moved from the main thread to the worker thread (health.checks_thread: auto (60 checks/s, over 50))'),
    detail(),
  );
  assert.equal(states().slice(0, 3).join(), expect(three, livePorts()), 'each real server resumed in its state');
  // The worker runs them: the refused ports are down, a live backend that closes goes down.
  await waitFor(() => states().join() === expect(six, livePorts()), {
    what: 'the added real servers checked by the worker',
    timeoutMs: 10_000,
    detail,
  });
  assert.deepEqual(rig.table.calls.slice(beforeWorker), [], 'the move and the added real servers (all down) changed nothing in the table');
  await live[0]!.stop();
  await waitFor(() => states().join() === expect(six, [live[1]!.port]), {
    what: 'the closed backend down, seen by the worker',
    timeoutMs: 10_000,
    detail,
  });
  await waitFor(async () => (await inTable()).join() === String(live[1]!.port), {
    what: 'the closed backend out of the table',
    timeoutMs: 10_000,
    detail,
  });
  const afterWorker = rig.table.calls.length;

  writeFileSync(configPath, config(three, '100ms'));
  assert.equal(await agent.reload(), true);
  assert.ok(
    logged('health checks moved from the worker thread to the main thread (health.checks_thread: auto (30 checks/s, at most 50))'),
    detail(),
  );
  assert.equal(states().join(), expect(three, [live[1]!.port]), 'each real server resumed in its state');
  assert.deepEqual(rig.table.calls.slice(afterWorker), [], 'the move back changed nothing in the table');
  await live[0]!.start();
  await waitFor(() => states().join() === expect(three, livePorts()), {
    what: 'the reopened backend up, seen by the main thread',
    timeoutMs: 10_000,
    detail,
  });
  await waitFor(async () => (await inTable()).join() === livePorts().join(), {
    what: 'the reopened backend back in the table',
    timeoutMs: 10_000,
    detail,
  });
});

test('a reload that sets checks_thread to worker moves the checks at once (it used to wait for a restart)', async (t) => {
  const backend = await new TcpBackend().start();
  const dir = mkdtempSync(join(tmpdir(), 'failoverd-checks-thread-'));
  const configPath = join(dir, 'failoverd.yaml');
  writeFileSync(configPath, config([backend.port], '1s', 'main'));
  t.after(async () => {
    await backend.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const rig = testAgentOptions(configPath);
  const agent = await Agent.create({ ...rig.options, clock: systemClock, plugins: await loadCheckPlugins() });
  t.after(() => agent.stop());
  await agent.start();
  const logged = (text: string): boolean => rig.logs.some((l) => l.msg.includes(text));
  assert.ok(logged('the health checks run on the main thread (health.checks_thread: main (1 checks/s))'));
  writeFileSync(configPath, config([backend.port], '1s', 'worker'));
  assert.equal(await agent.reload(), true);
  assert.ok(logged('health checks moved from the main thread to the worker thread (health.checks_thread: worker (1 checks/s))'));
  // Unchanged since: the same reload again moves nothing.
  const moves = rig.logs.filter((l) => l.msg.startsWith('health checks moved')).length;
  assert.equal(await agent.reload(), true);
  assert.equal(rig.logs.filter((l) => l.msg.startsWith('health checks moved')).length, moves);
});
