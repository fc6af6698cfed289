// Who advertised as master, read from an advert capture (test/netns/vrrp/lab.ts Observer).
// Pure, so the unit tier holds it to what it claims (test/unit/suite/masters-on-the-wire.test.ts).

/** What this needs of a captured advert. */
export interface Advert {
  source?: string | undefined;
  priority?: number | undefined;
}

interface Run {
  source: string;
  count: number;
}

/** Live adverts (priority > 0) in wire order, as runs of one sender. */
function runsOf(adverts: readonly Advert[]): Run[] {
  const runs: Run[] = [];
  for (const a of adverts) {
    if (!a.priority || a.source === undefined) continue;
    const last = runs.at(-1);
    if (last && last.source === a.source) last.count++;
    else runs.push({ source: a.source, count: 1 });
  }
  return runs;
}

/**
 * Who was master on the wire, in order, counted rather than timed. Every run of live
 * adverts from one router makes it the master, except a bounce: at a preemption the old
 * master X may send the one advert already in flight after the new master Y's first
 * (X… Y X Y…); that advert is an overlap, not a new master. `worstOverlap` is the longest
 * chain of such single interleaved adverts: 0 for a clean handover, 1 for the advert in
 * flight, more for two masters advertising side by side. A stray advert from a router
 * that is not taking over (X… Y X…) shows as a master of its own.
 */
export function mastersOnTheWire(adverts: readonly Advert[]): { masters: string[]; worstOverlap: number } {
  const runs = runsOf(adverts);
  const masters: string[] = [];
  let worstOverlap = 0;
  let chain = 0;
  runs.forEach((run, i) => {
    const before = runs[i - 1];
    const after = runs[i + 1];
    const bounce = run.count === 1 && before?.count === 1 && after?.source === before.source && runs[i - 2]?.source === run.source;
    if (bounce) {
      chain++;
      worstOverlap = Math.max(worstOverlap, chain);
      return;
    }
    chain = 0;
    if (masters.at(-1) !== run.source) masters.push(run.source);
  });
  return { masters, worstOverlap };
}

/** The live adverts as runs, "192.0.2.1×5 192.0.2.2×1 …": what a failed assertion shows. */
export function advertRuns(adverts: readonly Advert[]): string {
  return runsOf(adverts)
    .map((r) => `${r.source}×${r.count}`)
    .join(' ');
}
