// The one duration parser: the config file, the status API and the CLI all read
// durations here, and all are bounded here. Text has a unit ("250ms", "2s", "1m30s");
// a bare number is refused in the config because nobody can tell whether `timeout: 3`
// means seconds or ms. The API also takes a JSON number, or digits, as milliseconds.
import { MAX_TIMER_DELAY_MS } from '../clock.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** One or more number+unit parts: 250ms, 2s, 1.5s, 1m30s, 1h, 7d. */
export const DURATION_PATTERN = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/;
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/g;

/**
 * The longest duration any key or request accepts. Far below MAX_TIMER_DELAY_MS, the
 * delay past which Node fires a timer after 1 ms; keys that time something short have
 * lower caps of their own.
 */
export const MAX_DURATION_MS = 7 * 86_400_000;
if (MAX_DURATION_MS > MAX_TIMER_DELAY_MS) throw new Error('MAX_DURATION_MS must fit in a Node timer');

export interface DurationRange {
  /** Default 0s. */
  minMs?: number;
  /** Never above MAX_DURATION_MS. */
  maxMs: number;
  /** 0s is allowed below minMs (it means "off" for the key). */
  zeroMeansOff?: boolean;
}

/** Milliseconds for a duration string, or undefined when it is not one. */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (!DURATION_PATTERN.test(trimmed)) return undefined;
  let total = 0;
  for (const m of trimmed.matchAll(PART)) total += Number(m[1]) * UNIT_MS[m[2]!]!;
  return Math.round(total);
}

/** The shortest exact text for a number of milliseconds: 1500 → "1500ms", 120000 → "2m". */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** "from 1s to 1d (or 0s for off)", for messages and the JSON Schema. */
export function durationRangeText(range: DurationRange): string {
  const min = range.minMs ?? 0;
  const max = formatDuration(range.maxMs);
  const span = min > 0 ? `from ${formatDuration(min)} to ${max}` : `at most ${max}`;
  return range.zeroMeansOff && min > 0 ? `${span} (or 0s for off)` : span;
}

/** Why `ms` is outside the range ("expected a duration …"), or undefined when it is inside. */
export function durationRangeProblem(ms: number, range: DurationRange): string | undefined {
  const max = Math.min(range.maxMs, MAX_DURATION_MS);
  const inside = ms <= max && (ms >= (range.minMs ?? 0) || (range.zeroMeansOff === true && ms === 0));
  return inside ? undefined : `expected a duration ${durationRangeText({ ...range, maxMs: max })}`;
}

/**
 * Milliseconds for a duration from a request or a command line: text with units, or a
 * number (or digits) of milliseconds. Throws an Error saying what was wrong and the
 * allowed range.
 */
export function parseDurationArgument(value: unknown, range: DurationRange): number {
  let ms: number | undefined;
  if (typeof value === 'number') ms = Number.isFinite(value) && value >= 0 ? Math.round(value) : undefined;
  else if (typeof value === 'string') ms = /^\s*\d+\s*$/.test(value) ? Number(value) : parseDuration(value);
  const shown = typeof value === 'string' ? JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value) : String(value);
  if (ms === undefined) throw new Error(`invalid duration ${shown} (use e.g. 1500ms, 30s, 5m, 1h30m)`);
  const problem = durationRangeProblem(ms, range);
  if (problem) throw new Error(`invalid duration ${shown}: ${problem}`);
  return ms;
}
