// The health of one real server as a pure reducer. Each of its checks counts
// consecutive results: a check that is down comes up after `rise` successes in a
// row, one that is up goes down after `fall` failures in a row. The server is up
// when every check is up (a server with no check is always up, as in keepalived).
// A successful check may carry a weight (exec + misc_dynamic), which then replaces
// the configured weight.
import type { CheckResult } from './check.js';

export interface CheckThresholds {
  rise: number;
  fall: number;
  /** 'down' = must prove itself first (keepalived's alpha); 'up' = trusted until it fails. */
  initial: 'up' | 'down';
}

export interface CheckHealth {
  up: boolean;
  /** Consecutive successes (reset by a failure) and failures (reset by a success). */
  successes: number;
  failures: number;
  lastResult?: CheckResult;
  /** Clock ms of the last result. */
  lastResultAt?: number;
}

export interface RealServerSpec {
  /** Configured weight. */
  weight: number;
  /** The server's checks, with their thresholds and a label for reasons ("http"). */
  checks: ReadonlyArray<{ label: string; thresholds: CheckThresholds }>;
}

export interface RealServerHealth {
  up: boolean;
  /** A weight a check asked for; replaces the configured one while set. */
  dynamicWeight?: number | undefined;
  /** Why the server is in its state (the last transition's reason). */
  reason: string;
  /** Clock ms of the last up/down change (or of creation). */
  since: number;
  /** Each check's counters, in the spec's order: a result finds its check by position, not by a key to look up. */
  checks: readonly CheckHealth[];
}

/** What a reload keeps of a real server: its state, and the counters of the checks that stay, in the new spec's order (undefined: a new check). */
export interface KeptHealth extends Omit<RealServerHealth, 'checks'> {
  checks: ReadonlyArray<CheckHealth | undefined>;
}

export type RealServerTransition = { kind: 'up' | 'down'; reason: string } | { kind: 'weight'; from: number; to: number; reason: string };

export function initialCheckHealth(t: CheckThresholds): CheckHealth {
  return { up: t.initial === 'up', successes: 0, failures: 0 };
}

/** One result into one check's counters. */
export function reduceCheck(t: CheckThresholds, h: CheckHealth, result: CheckResult, now: number): CheckHealth {
  const successes = result.ok ? h.successes + 1 : 0;
  const failures = result.ok ? 0 : h.failures + 1;
  let up = h.up;
  if (!up && successes >= t.rise) up = true;
  else if (up && failures >= t.fall) up = false;
  return { up, successes, failures, lastResult: result, lastResultAt: now };
}

export function effectiveWeight(spec: RealServerSpec, h: RealServerHealth): number {
  return h.dynamicWeight ?? spec.weight;
}

function allUp(checks: ReadonlyArray<CheckHealth | undefined>, spec: RealServerSpec): boolean {
  for (let i = 0; i < spec.checks.length; i++) if (!checks[i]?.up) return false;
  return true;
}

/**
 * A fresh state; `kept` carries over the health of checks that existed before a
 * reload so an unchanged check keeps its counters.
 */
export function initialRealServerHealth(spec: RealServerSpec, now: number, kept?: KeptHealth): RealServerHealth {
  const checks = spec.checks.map((c, i) => kept?.checks[i] ?? initialCheckHealth(c.thresholds));
  const up = allUp(checks, spec);
  const dynamicWeight = kept?.dynamicWeight;
  if (kept && kept.up === up) return { up, dynamicWeight, reason: kept.reason, since: kept.since, checks };
  const reason = spec.checks.length === 0 ? 'no health check' : up ? 'initial state up' : 'initial state down, waiting for checks to pass';
  return { up, dynamicWeight, reason: kept ? `config reload: ${reason}` : reason, since: now, checks };
}

/**
 * The state a real server was last seen in, for a monitor that starts over (a
 * restarted health-check thread): each check resumes with its last verdict and
 * counters, so the server is neither dropped from its pool nor re-announced.
 * `checks` are in the spec's order; a check the snapshot lacks starts fresh.
 */
export interface RealServerSeed {
  up: boolean;
  /** The effective weight it had (a check's dynamic weight, or the configured one). */
  weight: number;
  reason: string;
  /** Clock ms of its last up/down change. */
  since: number;
  checks: ReadonlyArray<{ up: boolean; successes: number; failures: number }>;
}

export function seededRealServerHealth(spec: RealServerSpec, seed: RealServerSeed, now: number): RealServerHealth {
  const checks = spec.checks.map((c, i): CheckHealth => {
    const was = seed.checks[i];
    return was ? { up: was.up, successes: was.successes, failures: was.failures } : initialCheckHealth(c.thresholds);
  });
  const up = allUp(checks, spec);
  const dynamicWeight = seed.weight !== spec.weight ? seed.weight : undefined;
  if (up === seed.up) return { up, dynamicWeight, reason: seed.reason, since: Math.min(seed.since, now), checks };
  const reason = up ? 'initial state up' : 'initial state down, waiting for checks to pass';
  return { up, dynamicWeight, reason, since: now, checks };
}

const NO_TRANSITIONS: readonly RealServerTransition[] = Object.freeze([]);

export function reduceRealServer(
  spec: RealServerSpec,
  state: RealServerHealth,
  event: { check: number; result: CheckResult },
  now: number,
): { state: RealServerHealth; transitions: readonly RealServerTransition[] } {
  const check = spec.checks[event.check];
  const before = state.checks[event.check];
  if (!check || !before) return { state, transitions: NO_TRANSITIONS };
  const after = reduceCheck(check.thresholds, before, event.result, now);
  const checks = state.checks.slice();
  checks[event.check] = after;
  const up = allUp(checks, spec);
  const oldWeight = effectiveWeight(spec, state);
  const dynamicWeight = event.result.ok && event.result.weight !== undefined ? event.result.weight : state.dynamicWeight;
  const next: RealServerHealth = { up: state.up, dynamicWeight, reason: state.reason, since: state.since, checks };
  // Most results change only counters: the reason text is built for a transition only
  // (a health check's every result passes here, thousands a second).
  if (up !== state.up) {
    const counted = up
      ? `${after.successes} success${after.successes === 1 ? '' : 'es'} in a row`
      : `${after.failures} failure${after.failures === 1 ? '' : 's'} in a row`;
    const why = `${check.label}: ${event.result.reason} (${counted})`;
    next.up = up;
    next.reason = why;
    next.since = now;
    return { state: next, transitions: [{ kind: up ? 'up' : 'down', reason: why }] };
  }
  const newWeight = dynamicWeight ?? spec.weight;
  if (up && newWeight !== oldWeight) {
    return {
      state: next,
      transitions: [{ kind: 'weight', from: oldWeight, to: newWeight, reason: `${check.label}: ${event.result.reason}` }],
    };
  }
  return { state: next, transitions: NO_TRANSITIONS };
}
