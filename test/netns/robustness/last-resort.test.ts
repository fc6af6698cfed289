// A bug that escapes every handler in a real MASTER agent (injected from outside
// the product with `node --import`): the agent must resign (a priority-0 advert on
// the wire), remove its VIP, and exit 70, so the backup takes over alone. Before
// the last-resort path it died holding the VIP: two holders once the backup took over.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Lab, VipMonitor } from '../vrrp/lab.js';

import { AgentProcess } from './agent-process.js';
import { waitFor } from '../../helpers/wait.js';

const INJECT = fileURLToPath(new URL('../../fixtures/faults/inject.js', import.meta.url));
const VIP = '10.6.2.195';
const work = mkdtempSync(join(tmpdir(), 'failoverd-last-resort-'));
const lab = new Lab('lr');
const agents: AgentProcess[] = [];
const vips = new VipMonitor();
after(async () => {
  for (const a of agents) await a.stop();
  vips.close();
  await lab.cleanup();
  rmSync(work, { recursive: true, force: true });
});

function config(name: string, priority: number, socket: string): string {
  return `node: { name: ${name} }
vrrp:
  - name: web
    interface: eth0
    vrid: 62
    priority: ${priority}
    advert_interval: 100ms
    vips: [${VIP}/32]
    garp: { count: 1 }
services: []
api: { listen: ${socket}, metrics: false }
logging: { format: json }
`;
}

function start(node: string, priority: number, faultFile?: string): AgentProcess {
  const socket = join(work, `${node}-${agents.length}.sock`);
  const path = join(work, `${node}-${agents.length}.yaml`);
  writeFileSync(path, config(node, priority, socket));
  const agent = AgentProcess.start(
    lab.node(node).ns,
    path,
    socket,
    faultFile ? { FAILOVERD_TEST_FAULT_FILE: faultFile } : {},
    'info',
    [],
    faultFile ? ['--import', INJECT] : [],
  );
  agents.push(agent);
  return agent;
}

async function stopAll(): Promise<void> {
  for (const a of agents.splice(0)) await a.stop();
}

test('an escaped exception or rejection in the master: priority 0 sent, VIP removed, exit 70, the backup alone holds the VIP', async (t) => {
  lab.setup([
    { name: 'a', ipv4: '192.0.2.21' },
    { name: 'b', ipv4: '192.0.2.22' },
  ]);
  const observer = await lab.observe();
  vips.watch(lab.node('a'));
  vips.watch(lab.node('b'));

  for (const kind of ['throw', 'reject'] as const) {
    await t.test(kind === 'throw' ? 'an uncaught exception' : 'an unhandled rejection', async () => {
      const backup = start('b', 100);
      await backup.waitForState('web', 'MASTER', 15_000, 100);
      const faultFile = join(work, `fault-${kind}`);
      const master = start('a', 150, faultFile);
      await master.waitForState('web', 'MASTER', 15_000, 100);
      await backup.waitForState('web', 'BACKUP', 5000, 50);
      await waitFor(() => lab.addresses('a').includes(VIP) && !lab.addresses('b').includes(VIP), {
        what: 'the VIP on a alone',
        timeoutMs: 5000,
      });
      const advertsBefore = observer.adverts(62).length;
      const faultAt = Date.now();

      writeFileSync(faultFile, kind);
      const code = await Promise.race([master.exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 10_000))]);
      const exitedAt = Date.now();
      assert.equal(code, 70, 'exit status 70 (EX_SOFTWARE), for systemd to restart it');
      assert.deepEqual(
        lab.addresses('a').filter((x) => x === VIP),
        [],
        'the dead master no longer holds the VIP',
      );
      const resigned = (): boolean =>
        observer
          .adverts(62)
          .slice(advertsBefore)
          .some((e) => e.source === '192.0.2.21' && e.priority === 0);
      await waitFor(resigned, { what: 'the priority-0 advert seen on the wire', timeoutMs: 3000 });
      await backup.waitForState('web', 'MASTER', 5000, 50);
      await waitFor(() => lab.addresses('b').includes(VIP), { what: 'the VIP on b', timeoutMs: 3000 });
      assert.deepEqual(
        lab.addresses('a').filter((x) => x === VIP),
        [],
        'and still not on a',
      );

      const fatal = master.logs.find((l) => l['level'] === 60);
      const origin = kind === 'throw' ? 'uncaughtException' : 'unhandledRejection';
      assert.match(String(fatal?.['msg']), new RegExp(`^${origin}: injected fault: `));
      assert.match(
        String((fatal?.['err'] as { stack?: string } | undefined)?.stack),
        /injected fault[^\n]*\n\s+at /,
        'logged with its stack',
      );
      const doubleHoldMs = vips.longestDoubleHoldMs(VIP, faultAt, Date.now());
      t.diagnostic(`${kind}: fault → exit ${exitedAt - faultAt} ms; VIP held by both a and b for ${doubleHoldMs} ms`);
      await stopAll();
      await waitFor(() => !lab.addresses('b').includes(VIP), { what: 'b gave the VIP up on stop', timeoutMs: 5000 });
    });
  }
});
