// One time base for every process of the lab: CLOCK_MONOTONIC is system-wide on
// Linux (process.hrtime reads it), so the client's, the observers' and the
// orchestrator's timestamps compare directly, unlike performance.now().
export function monoMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
