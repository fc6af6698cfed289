// systemYoungGeneration (src/vrrp/young-generation.ts) over a real V8: absent without
// --expose-gc; with it, a scavenge empties what the thread allocated.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { systemYoungGeneration } from '../../../src/vrrp/young-generation.js';

test('without --expose-gc there is no young generation to scavenge on demand', () => {
  assert.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined', 'this test runs without --expose-gc');
  assert.equal(systemYoungGeneration(), undefined);
});

test('with --expose-gc, fill() reads V8 and scavenge() empties the young generation', () => {
  const module = new URL('../../../src/vrrp/young-generation.js', import.meta.url).href;
  const script = `
    import { systemYoungGeneration } from ${JSON.stringify(module)};
    const young = systemYoungGeneration();
    // Twice: what survives one scavenge stays young until the next.
    young.scavenge();
    young.scavenge();
    const empty = young.fill();
    // Some hundred kilobytes, under what sets off a scavenge of V8's own; garbage once it returns.
    const churn = () => {
      const garbage = [];
      for (let i = 0; i < 3000; i++) garbage.push({ i, s: 'x' + i });
      return young.fill();
    };
    const filled = churn();
    young.scavenge();
    console.log(JSON.stringify({ empty, filled, after: young.fill() }));
  `;
  const r = spawnSync(process.execPath, ['--expose-gc', '--single-threaded-gc', '--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  assert.equal(r.status, 0, r.stderr);
  const { empty, filled, after } = JSON.parse(r.stdout) as { empty: number; filled: number; after: number };
  assert.ok(empty >= 0 && empty < 0.1, `just after a scavenge: ${empty}`);
  assert.ok(filled > empty + 0.05 && filled <= 1, `after allocating: ${filled}`);
  assert.ok(after < filled / 2, `scavenged: ${after} (was ${filled})`);
});
