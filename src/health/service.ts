// Service-level health: quorum with hysteresis, as keepalived does it. The live
// weight is the sum of the effective weights of the real servers that are up.
// Quorum is lost when that sum is 0 or drops below quorum − hysteresis, and
// regained when it is positive and reaches quorum + hysteresis; in between the
// previous state holds, so a pool at the edge does not flap.

export interface QuorumSpec {
  quorum: number;
  hysteresis: number;
}

export interface QuorumState {
  up: boolean;
  liveWeight: number;
}

export type QuorumTransition = { kind: 'lost' | 'regained'; reason: string };

/** The starting state: no hysteresis yet, just whether the live weight meets the quorum. */
export function initialQuorum(spec: QuorumSpec, liveWeight: number): QuorumState {
  return { up: liveWeight > 0 && liveWeight >= spec.quorum, liveWeight };
}

export function reduceQuorum(
  spec: QuorumSpec,
  state: QuorumState,
  liveWeight: number,
): { state: QuorumState; transition?: QuorumTransition } {
  const lowWater = spec.quorum - spec.hysteresis;
  const highWater = spec.quorum + spec.hysteresis;
  if (state.up && (liveWeight <= 0 || liveWeight < lowWater)) {
    const reason =
      liveWeight <= 0
        ? 'no live real server weight'
        : `live weight ${liveWeight} < quorum ${spec.quorum}${spec.hysteresis ? ` − hysteresis ${spec.hysteresis}` : ''}`;
    return { state: { up: false, liveWeight }, transition: { kind: 'lost', reason } };
  }
  if (!state.up && liveWeight > 0 && liveWeight >= highWater) {
    return {
      state: { up: true, liveWeight },
      transition: {
        kind: 'regained',
        reason: `live weight ${liveWeight} ≥ quorum ${spec.quorum}${spec.hysteresis ? ` + hysteresis ${spec.hysteresis}` : ''}`,
      },
    };
  }
  return { state: { up: state.up, liveWeight } };
}
