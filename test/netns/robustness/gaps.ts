// Inter-arrival statistics of a series of timestamps (ms): how regular a
// master's adverts are. Lateness is a gap minus the nominal interval.

export interface GapStats {
  count: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const round = (x: number): number => Math.round(x * 100) / 100;

export function gaps(times: number[]): number[] {
  return times.slice(1).map((t, i) => t - times[i]!);
}

export function stats(values: number[]): GapStats {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    count: values.length,
    p50Ms: round(percentile(sorted, 50)),
    p99Ms: round(percentile(sorted, 99)),
    maxMs: round(sorted.at(-1) ?? NaN),
  };
}

export function gapStats(times: number[]): GapStats {
  return stats(gaps(times));
}

/** How late each advert was against the nominal interval (negative: early). */
export function latenessStats(times: number[], intervalMs: number): GapStats {
  return stats(gaps(times).map((g) => g - intervalMs));
}
