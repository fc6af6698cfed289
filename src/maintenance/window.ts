import { CronTime } from 'cron';

// Maintenance windows, as pure functions of (schedule, instant).
//
// Occurrences are computed on the zone's wall clock, then mapped to instants:
// - a wall time that does not exist (spring forward, e.g. Europe/Berlin 2026-03-29
//   02:30) maps to the first instant after the gap (03:00 CEST), like cron does;
// - a wall time that happens twice (fall back, e.g. 2026-10-25 02:30) maps to its
//   first occurrence only (02:30 CEST), so a daily window opens once that day.
// This mapping never goes backwards in time, which keeps "next" and "last"
// occurrences well defined. A window lasts `forMs` of real elapsed time.

export interface WindowSpec {
  cron: string;
  /** IANA zone, e.g. "Europe/Berlin"; default "UTC". */
  timezone?: string;
  forMs: number;
}

export type WindowState =
  | { active: true; /** the latest occurrence, which keeps the window open */ start: Date; end: Date }
  | { active: false; nextStart: Date | undefined };

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timezone: string): Intl.DateTimeFormat {
  let f = formatters.get(timezone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timezone, f);
  }
  return f;
}

/** The zone's wall time at `instant`, encoded as if it were UTC (ms). */
export function wallTime(instant: number, timezone: string): number {
  const parts: Record<string, number> = {};
  for (const p of formatter(timezone).formatToParts(new Date(instant))) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  const wholeSecond = Date.UTC(parts.year!, parts.month! - 1, parts.day, parts.hour, parts.minute, parts.second);
  return wholeSecond + (((instant % 1000) + 1000) % 1000);
}

function offsetAt(instant: number, timezone: string): number {
  return wallTime(instant, timezone) - instant;
}

/** Maps a wall time (encoded as UTC ms) to an instant, with the rules above. */
export function wallToInstant(wall: number, timezone: string): number {
  const DAY = 86_400_000;
  const before = offsetAt(wall - DAY, timezone);
  const after = offsetAt(wall + DAY, timezone);
  const candidates = [wall - before, wall - after].filter((c) => wallTime(c, timezone) === wall);
  if (candidates.length) return Math.min(...candidates);
  // In a gap: the transition instant lies between the two readings; find it.
  let lo = Math.min(wall - before, wall - after);
  let hi = Math.max(wall - before, wall - after);
  const offsetLo = offsetAt(lo, timezone);
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (offsetAt(mid, timezone) === offsetLo) lo = mid;
    else hi = mid;
  }
  return hi;
}

const cronCache = new Map<string, CronTime>();

function cronTime(expression: string): CronTime {
  let ct = cronCache.get(expression);
  if (!ct) {
    ct = new CronTime(expression, 'UTC');
    cronCache.set(expression, ct);
  }
  return ct;
}

/** Throws a readable error for a bad cron expression, zone or duration. */
export function validateWindowSpec(spec: WindowSpec): void {
  const check = CronTime.validateCronExpression(spec.cron);
  if (!check.valid) throw new Error(`invalid cron expression "${spec.cron}": ${check.error?.message ?? 'not valid'}`);
  try {
    formatter(spec.timezone ?? 'UTC');
  } catch {
    throw new Error(`unknown time zone "${spec.timezone}"`);
  }
  if (!(spec.forMs > 0) || !Number.isFinite(spec.forMs)) throw new Error(`window duration must be positive, got ${spec.forMs}ms`);
}

/** The first occurrence strictly after `instant`, or undefined if none within cron's horizon. */
export function nextOccurrence(spec: Pick<WindowSpec, 'cron' | 'timezone'>, instant: number): number | undefined {
  const timezone = spec.timezone ?? 'UTC';
  const ct = cronTime(spec.cron);
  let wall = wallTime(instant, timezone);
  // In the repeated hour after a fall back, wall times ahead of `instant` can still map
  // to instants before it (their first occurrence); step past them. Bounded by the
  // number of occurrences in one repeated hour.
  for (let i = 0; i < 4000; i++) {
    let next: number;
    try {
      next = ct.getNextDateFrom(new Date(wall), 'UTC').toMillis();
    } catch {
      return undefined;
    }
    const at = wallToInstant(next, timezone);
    if (at > instant) return at;
    wall = next;
  }
  return undefined;
}

/** The last occurrence at or before `instant` and after `notBefore` (exclusive), if any. */
export function lastOccurrence(spec: Pick<WindowSpec, 'cron' | 'timezone'>, instant: number, notBefore: number): number | undefined {
  const first = nextOccurrence(spec, notBefore);
  if (first === undefined || first > instant) return undefined;
  // Invariant: nextOccurrence(lo) <= instant < nextOccurrence(hi). Occurrences are
  // whole seconds apart, so once hi - lo <= 1 s, nextOccurrence(lo) is the last one.
  let lo = notBefore;
  let hi = instant;
  while (hi - lo > 1000) {
    const mid = Math.floor((lo + hi) / 2);
    const n = nextOccurrence(spec, mid);
    if (n !== undefined && n <= instant) lo = mid;
    else hi = mid;
  }
  return nextOccurrence(spec, lo);
}

/**
 * Is a window open at `instant`? It is when the last occurrence o satisfies
 * o <= instant < o + forMs. Overlapping windows merge: when a new occurrence comes
 * before the current window ends, `end` moves to that occurrence + forMs.
 */
export function windowAt(spec: WindowSpec, instant: number): WindowState {
  const last = lastOccurrence(spec, instant, instant - spec.forMs);
  if (last !== undefined) return { active: true, start: new Date(last), end: new Date(last + spec.forMs) };
  const next = nextOccurrence(spec, instant);
  return { active: false, nextStart: next === undefined ? undefined : new Date(next) };
}
