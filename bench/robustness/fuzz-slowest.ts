// The slowest input each fuzz target saw, against the 500 ms that would mean a hang.
// The fuzz tests in the unit tier assert outcomes only (a verdict for every input,
// never a throw); this runs the very same tests with a stopwatch around each input
// and reports the figure, as docs/reliability.md lists it. Reported, not asserted.
//
//   node dist/bench/robustness/fuzz-slowest.js
import { performance } from 'node:perf_hooks';
import { budgets, HANG_MS, installStopwatch } from '../../test/unit/robustness/budget.js';

installStopwatch(() => performance.now());
// Importing a test file registers its tests; node:test runs them before the process ends.
await import('../../test/unit/robustness/vrrp-fuzz.test.js');
await import('../../test/unit/robustness/netlink-fuzz.test.js');
await import('../../test/unit/robustness/config-fuzz.test.js');

process.on('exit', () => {
  const w = Math.max(...budgets.map((b) => b.target.length), 6);
  console.log(`\nfuzz inputs under a stopwatch: slowest per target (a hang would be ≥ ${HANG_MS} ms)`);
  console.log(`| ${'target'.padEnd(w)} | inputs | slowest ms | hang bound ms | slowest input (start) |`);
  console.log(`|${'-'.repeat(w + 2)}|--------|------------|---------------|-----------------------|`);
  for (const b of budgets) {
    console.log(
      `| ${b.target.padEnd(w)} | ${String(b.tried).padStart(6)} | ${b.maxMs.toFixed(2).padStart(10)} | ${String(HANG_MS).padStart(13)} | ${b.slowest.slice(0, 40)} |`,
    );
  }
});
