// A reload that changes another real server's weight and adds a real server
// keeps an established TCP connection through the VIP (DR mode) on the same real
// server: the reconciler edits and adds, it never deletes and re-adds or flushes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { systemClock } from '../../../src/clock.js';
import { silentLogger } from '../../../src/log.js';
import { IpvsClient } from '../../../src/ipvs/client.js';
import { Reconciler } from '../../../src/ipvs/reconciler.js';
import type { DesiredService, DestinationSpec } from '../../../src/ipvs/types.js';
import { createDrTopology, DR_VIP, realServerAddress } from '../../helpers/dr-topology.js';
import { service } from '../../unit/ipvs/builders.js';
import { waitFor } from '../../helpers/wait.js';

const PORT = 7000;
const key = { kind: 'address' as const, family: 'inet' as const, protocol: 'tcp' as const, address: DR_VIP, port: PORT };
const rs = (i: number, weight: number): DestinationSpec => ({
  address: realServerAddress(i),
  port: PORT,
  weight,
  forwarding: 'dr',
  upperThreshold: 0,
  lowerThreshold: 0,
});

test('an established DR connection survives a reload that edits another weight and adds a real server', async () => {
  const lab = await createDrTopology({ tag: 'drrl', realServers: 3, port: PORT });
  let client: IpvsClient | undefined;
  let reconciler: Reconciler | undefined;
  try {
    client = await IpvsClient.open({ netns: lab.director.path });
    reconciler = new Reconciler({ table: client, clock: systemClock, logger: silentLogger(), auditIntervalMs: 0 });
    reconciler.start();
    const before: DesiredService[] = [{ service: service(key, 'rr'), destinations: [rs(0, 1), rs(1, 1)] }];
    assert.equal((await reconciler.setDesired(before)).converged, true);

    const conn = await lab.connect(PORT);
    const first = await conn.ask('hello');
    const servedBy = first.split(':')[0]!;
    assert.match(servedBy, /^rs[12]$/, first);
    const other = servedBy === 'rs1' ? 1 : 0;
    const mine = servedBy === 'rs1' ? 0 : 1;

    const opsBefore = reconciler.opsLog().length;
    const after: DesiredService[] = [{ service: service(key, 'rr'), destinations: [rs(mine, 1), rs(other, 5), rs(2, 1)] }];
    const report = await reconciler.setDesired(after);
    assert.equal(report.converged, true);
    const ops = reconciler
      .opsLog()
      .slice(opsBefore)
      .map((e) => `${e.op} ${e.destination}`);
    assert.deepEqual(ops.sort(), [`addDest ${realServerAddress(2)}:${PORT}`, `editDest ${realServerAddress(other)}:${PORT}`].sort());

    for (let i = 0; i < 5; i++) assert.equal(await conn.ask(`after reload ${i}`), `${servedBy}: after reload ${i}`);

    // New connections reach the added real server too.
    const names = new Set<string>();
    for (let i = 0; i < 8 && !names.has('rs3'); i++) {
      const c = await lab.connect(PORT);
      names.add((await c.ask('who')).split(':')[0]!);
      c.close();
    }
    assert.ok(names.has('rs3'), `rs3 serves new connections (saw ${[...names].join(', ')})`);
    assert.equal(await conn.ask('still here'), `${servedBy}: still here`);
    conn.close();
  } finally {
    await reconciler?.stop();
    client?.close();
    lab.close();
  }
});

test('a real server removed by a reload keeps its established connection while it drains, then goes', async () => {
  const lab = await createDrTopology({ tag: 'drdr', realServers: 2, port: PORT });
  let client: IpvsClient | undefined;
  let reconciler: Reconciler | undefined;
  try {
    client = await IpvsClient.open({ netns: lab.director.path });
    reconciler = new Reconciler({
      table: client,
      clock: systemClock,
      logger: silentLogger(),
      auditIntervalMs: 0,
      drainTimeoutMs: 3000,
      drainPollMs: 200,
    });
    reconciler.start();
    await reconciler.setDesired([{ service: service(key, 'rr'), destinations: [rs(0, 1), rs(1, 1)] }]);
    const conn = await lab.connect(PORT);
    const servedBy = (await conn.ask('hello')).split(':')[0]!;
    const mine = servedBy === 'rs1' ? 0 : 1;
    const other = 1 - mine;

    await reconciler.setDesired([{ service: service(key, 'rr'), destinations: [rs(other, 1)] }]);
    const draining = (await client.listDestinations(key)).find((d) => d.address === realServerAddress(mine));
    assert.equal(draining?.weight, 0, 'weight 0, not deleted');
    assert.equal(draining?.activeConnections, 1);
    assert.equal(reconciler.draining()[0]?.destination, `${realServerAddress(mine)}:${PORT}`);
    assert.equal(await conn.ask('while draining'), `${servedBy}: while draining`);
    const fresh = await lab.connect(PORT);
    assert.equal((await fresh.ask('new')).split(':')[0], `rs${other + 1}`, 'new connections avoid the draining server');
    fresh.close();

    // The connection is still open, so the drain ends at its timeout.
    await waitFor(async () => (await client!.listDestinations(key)).length <= 1, {
      what: 'the drained destination deleted',
      timeoutMs: 30_000,
      stepMs: 100,
    }).catch(() => undefined);
    assert.deepEqual(
      (await client.listDestinations(key)).map((d) => d.address),
      [realServerAddress(other)],
    );
    assert.match(reconciler.opsLog().at(-1)?.reason ?? '', /drain timeout: 1 connections left/);
    conn.close();
  } finally {
    await reconciler?.stop();
    client?.close();
    lab.close();
  }
});
