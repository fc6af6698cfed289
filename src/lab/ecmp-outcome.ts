// Pure: what the ECMP lab's client saw between two snapshots of its counts. A long
// connection "survived" when it is still open and was answered again after the
// event; one that ended counts by how it ended (a reset, or another error); one still
// open but no longer answered is stalled (its packets reach no one: the client
// retransmits into a black hole).
import type { NewConnectionFailure, TrafficStats } from './ecmp-traffic.js';

export interface FlowOutcome {
  /** Long connections open before the event. */
  of: number;
  survived: number;
  reset: number;
  /** Ended another way (EPIPE, ETIMEDOUT, a clean close by a dying server...). */
  endedOtherwise: number;
  stalled: number;
  /** Still open and answered, but by another real server than before. */
  movedServer: number;
  /** The longest silence of a surviving connection since the client's mark (ms): how long the event held it up. */
  longestGap: number;
  newOk: number;
  newFail: number;
  newRefused: number;
  newSlow: number;
  /** The new connections that failed between the snapshots. */
  failures: NewConnectionFailure[];
}

/** An answer count must grow by more than this to count as answered again. */
export const ANSWERED_AGAIN = 2;

export function flowOutcome(before: TrafficStats, after: TrafficStats): FlowOutcome {
  let of = 0;
  let survived = 0;
  let reset = 0;
  let endedOtherwise = 0;
  let stalled = 0;
  let movedServer = 0;
  let longestGap = 0;
  after.long.forEach((c, i) => {
    const was = before.long[i];
    if (!was || was.ended) return;
    of++;
    if (c.ended) {
      if (c.reset) reset++;
      else endedOtherwise++;
    } else if (c.a <= was.a + ANSWERED_AGAIN) stalled++;
    else {
      survived++;
      longestGap = Math.max(longestGap, c.gap);
      if (was.rs !== '' && c.rs !== was.rs) movedServer++;
    }
  });
  return {
    of,
    survived,
    reset,
    endedOtherwise,
    stalled,
    movedServer,
    longestGap,
    newOk: after.newOk - before.newOk,
    newFail: after.newFail - before.newFail,
    newRefused: after.newRefused - before.newRefused,
    newSlow: after.newSlow - before.newSlow,
    // The client lists failures as they complete, newest last.
    failures: after.failures.slice(Math.max(0, after.failures.length - (after.newFail - before.newFail))),
  };
}

/**
 * Every long connection still open has been answered again since `since` (or ended).
 * Not before the client has opened them all: it opens them in batches, and stats asked
 * for right after it started would otherwise hold none, and "every" of none is true.
 */
export function allAnsweredSince(since: TrafficStats, now: TrafficStats): boolean {
  if (now.long.length < now.longWanted) return false;
  return now.long.every((c, i) => c.ended || c.a > (since.long[i]?.a ?? 0) + ANSWERED_AGAIN);
}

/** The span in which new connections failed, relative to `at` (ms); undefined when none failed. */
export function failureWindow(failures: readonly NewConnectionFailure[], at: number): { first: number; last: number } | undefined {
  if (failures.length === 0) return undefined;
  const offsets = failures.map((f) => f.t - at);
  return { first: Math.min(...offsets), last: Math.max(...offsets) };
}

export function describeOutcome(o: FlowOutcome): string {
  const lost = [
    o.reset ? `${o.reset} reset` : '',
    o.endedOtherwise ? `${o.endedOtherwise} ended otherwise` : '',
    o.stalled ? `${o.stalled} stalled` : '',
  ].filter(Boolean);
  const codes = new Map<string, number>();
  for (const f of o.failures) codes.set(f.code, (codes.get(f.code) ?? 0) + 1);
  const failed = [...codes].map(([code, n]) => `${n} ${code}`).join(', ');
  return (
    `long: ${o.survived}/${o.of} survived${lost.length ? ` (${lost.join(', ')})` : ''}` +
    `; new: ${o.newOk} ok, ${o.newFail} failed${failed ? ` (${failed})` : ''}${o.newSlow ? `, ${o.newSlow} slow (SYN retransmitted)` : ''}`
  );
}

/** Every new connection started before `t` (epoch ms) has its verdict: answered, failed or timed out. */
export function settledBefore(stats: TrafficStats, t: number): boolean {
  return stats.oldestPending === 0 || stats.oldestPending > t;
}

/** One line of `ipvsadm -Lnc`: a connection entry of the director's IPVS. */
export interface IpvsConnection {
  state: string;
  client: string;
  clientPort: number;
  virtual: string;
  destination: string;
}

/** Parses `ipvsadm -Lnc` (header lines and anything else unparsable are skipped). */
export function parseIpvsConnections(text: string): IpvsConnection[] {
  const out: IpvsConnection[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*(?:TCP|UDP|SCTP)\s+\S+\s+(\S+)\s+(\S+):(\d+)\s+(\S+)\s+(\S+)\s*$/.exec(line);
    if (!m) continue;
    out.push({ state: m[1]!, client: m[2]!, clientPort: Number(m[3]), virtual: m[4]!, destination: m[5]! });
  }
  return out;
}
