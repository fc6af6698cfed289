// The master's advert rhythm under the HTTP fuzz, as a figure. The netns test
// (test/netns/robustness/http-fuzz.test.ts) asserts the outcome: a keepalived backup one
// priority below never became master, so no gap reached its master-down interval. This
// runs the very same test and reports the gaps it saw on the wire (tcpdump's
// timestamps) against the 3 × interval bound. Reported, not asserted. Root.
//
//   node dist/bench/robustness/http-fuzz-adverts.js   (FAILOVERD_HTTP_FUZZ_REQUESTS=N to change the load)
import type { GapStats } from '../../test/netns/robustness/gaps.js';
import { advertFigures } from '../../test/netns/robustness/http-fuzz.test.js';

process.on('exit', () => {
  const f = advertFigures;
  if (!f.intervalMs || !f.whole) {
    console.log('\nhttp-fuzz adverts: no figures (the test did not get that far)');
    return;
  }
  const row = (phase: string, g: GapStats | undefined): string =>
    g
      ? `| ${phase.padEnd(22)} | ${String(g.count).padStart(4)} | ${g.p50Ms.toFixed(1).padStart(7)} | ${g.p99Ms.toFixed(1).padStart(7)} | ${g.maxMs.toFixed(1).padStart(7)} |`
      : '';
  console.log(`\nmaster adverts (${f.intervalMs} ms) during the HTTP fuzz; master-down bound 3 × interval = ${3 * f.intervalMs} ms`);
  console.log(`expected about ${f.expected} gaps over the whole run`);
  console.log('| phase                  | gaps | p50 ms  | p99 ms  | max ms  |');
  console.log('|------------------------|------|---------|---------|---------|');
  console.log(row('malformed requests', f.requests));
  console.log(row('slow and idle senders', f.held));
  console.log(row('whole run', f.whole));
});
