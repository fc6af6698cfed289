// What the client saw, computed from its samples alone (pure functions): counts
// per real server, errors, the longest stretch without an answer.
import type { RequestSample } from './samples.js';

export interface Tally {
  requests: number;
  answers: number;
  errors: number;
  byServer: Record<string, number>;
  errorKinds: Record<string, number>;
}

/** Samples whose request was sent in [from, to). */
export function sentBetween(samples: readonly RequestSample[], from: number, to = Infinity): RequestSample[] {
  return samples.filter((s) => s.sent >= from && s.sent < to);
}

export function tally(samples: readonly RequestSample[]): Tally {
  const out: Tally = { requests: samples.length, answers: 0, errors: 0, byServer: {}, errorKinds: {} };
  for (const s of samples) {
    if (s.ok) {
      out.answers++;
      const who = s.who ?? '?';
      out.byServer[who] = (out.byServer[who] ?? 0) + 1;
    } else {
      out.errors++;
      const why = s.error ?? 'error';
      out.errorKinds[why] = (out.errorKinds[why] ?? 0) + 1;
    }
  }
  return out;
}

export interface Silence {
  /** When the last answer before the silence arrived, and the first one after. */
  lastAnswer: number;
  nextAnswer: number;
  ms: number;
}

/**
 * The longest time without any answer that ends in (after, until]: between two
 * consecutive answers (by arrival time), the second arriving after `after`.
 * Around a failover this is the client's outage: its last answer before the
 * kill → its first answer after, whatever was in flight at the kill.
 */
export function longestSilence(samples: readonly RequestSample[], after: number, until = Infinity): Silence | undefined {
  const arrivals = samples
    .filter((s) => s.ok)
    .map((s) => s.done)
    .sort((a, b) => a - b);
  let worst: Silence | undefined;
  for (let i = 1; i < arrivals.length; i++) {
    const next = arrivals[i]!;
    if (next <= after || next > until) continue;
    const ms = next - arrivals[i - 1]!;
    if (!worst || ms > worst.ms) worst = { lastAnswer: arrivals[i - 1]!, nextAnswer: next, ms };
  }
  return worst;
}

/** The first answered sample (by arrival) that arrived after t, optionally from one server. */
export function firstAnswerAfter(samples: readonly RequestSample[], t: number, who?: string): RequestSample | undefined {
  let best: RequestSample | undefined;
  for (const s of samples) {
    if (!s.ok || s.done <= t || (who !== undefined && s.who !== who)) continue;
    if (!best || s.done < best.done) best = s;
  }
  return best;
}

/** "rs1 20, rs2 19" in a stable order. */
export function describeServers(byServer: Record<string, number>): string {
  const names = Object.keys(byServer).sort();
  return names.length ? names.map((n) => `${n} ${byServer[n]}`).join(', ') : 'nobody';
}

/** "timeout 3, ECONNREFUSED 1". */
export function describeErrors(kinds: Record<string, number>): string {
  return Object.entries(kinds)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
}
