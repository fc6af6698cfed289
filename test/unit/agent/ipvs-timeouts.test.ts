// ipvs.timeouts reach the kernel's connection timeouts (ipvsadm --set) at start and on a
// reload that changes them; one left out stays as the kernel has it. Observed on the
// in-memory IPVS table; the UML tier reads the real kernel with ipvsadm -L --timeout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, ConfigRejectedError } from '../../../src/agent.js';
import { configText, startAgent, testAgentOptions } from './harness.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const withTimeouts = (t: string): string => configText({ rest: `services: []\nipvs: { timeouts: { ${t} } }\n` });

test('ipvs.timeouts: set at start (no service needed), changed by a reload; one left out is left alone', async (t) => {
  const rig = await startAgent(t, withTimeouts('tcp: 15m1s, tcpfin: 2m1s, udp: 5m1s'));
  assert.deepEqual(await rig.table.getTimeouts(), { tcp: 901, tcpFin: 121, udp: 301 });

  await rig.table.setTimeouts({ tcpFin: 60 }); // as `ipvsadm --set 0 60 0` would
  rig.rewrite(withTimeouts('tcp: 1h, udp: 30s'));
  assert.equal(await rig.agent.reload(), true);
  assert.deepEqual(await rig.table.getTimeouts(), { tcp: 3600, tcpFin: 60, udp: 30 }, 'tcpfin, left out, keeps what the kernel has');
});

test('ipvs.timeouts refuses what the kernel cannot keep: fractions of a second, 0, more than 7d', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'failoverd-timeouts-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'failoverd.yaml');
  for (const [value, message] of [
    ['1500ms', /ipvs\.timeouts\.tcp.*whole seconds/],
    ['0s', /ipvs\.timeouts\.tcp.*from 1s to 7d/],
    ['8d', /ipvs\.timeouts\.tcp.*from 1s to 7d/],
  ] as const) {
    writeFileSync(path, withTimeouts(`tcp: ${value}`));
    await assert.rejects(Agent.create(testAgentOptions(path).options), (err: unknown) => {
      assert.ok(err instanceof ConfigRejectedError);
      assert.match(err.lines.join('\n'), message);
      return true;
    });
  }
});
