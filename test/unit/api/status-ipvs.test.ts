// GET /status reports the IPVS table from the reconciler's kept view: asking for the
// status never dumps the kernel table (a netlink dump on the main thread per request).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from '../../../src/agent.js';
import type { ActualService } from '../../../src/ipvs/types.js';
import { testAgentOptions } from '../agent/harness.js';
import { fakeAgent } from './fake-agent.js';

test("the status snapshot takes the IPVS table from the reconciler's view, without a dump", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'failoverd-status-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const configPath = join(dir, 'failoverd.yaml');
  writeFileSync(configPath, `services: []\napi: { listen: ${join(dir, 'api.sock')}, metrics: false }\n`);
  const agent = await Agent.create(testAgentOptions(configPath).options);

  const view: ActualService[] = fakeAgent().snapshot.ipvs!;
  let dumps = 0;
  const reconciler = {
    lastActual: () => structuredClone(view),
    readActual: async () => {
      dumps++;
      return structuredClone(view);
    },
    // Its drain bookkeeping (removed real servers waiting for connections): kept, not read from the kernel.
    draining: () => [],
    // Its ring of recent operations, kept in memory too.
    opsLog: () => [],
  };
  // The agent is not started: only the reconciler it would have is put in place.
  (agent as unknown as { reconciler: typeof reconciler }).reconciler = reconciler;

  for (let i = 0; i < 10; i++) assert.deepEqual(agent.snapshot().ipvs, view);
  assert.equal(dumps, 0, 'no kernel dump for a status request');
});
