// When a director announces its VIPs to the routing daemon, as a pure reducer: no I/O,
// no clock. Timers are actions the caller arms and feeds back as inputs, so a test
// drives every sequence (health gate, SIGTERM, adopting at start) with a fake clock.
//
// The announcement is separate from serving: withdrawing only removes the route the
// daemon exports; the VIP stays on its NOARP interface and IPVS keeps forwarding the
// packets the router still sends while it converges.

export type AnnouncePhase = 'adopting' | 'running' | 'stopping' | 'stopped';

export interface AnnounceState {
  phase: AnnouncePhase;
  /** The route is in the kernel (the daemon exports it). */
  announced: boolean;
  /** The latest health-gate verdict. */
  healthy: boolean;
  reason: string;
}

/** What the health gate says: `final` reasons (maintenance) act even while adopting. */
export interface GateVerdict {
  healthy: boolean;
  reason: string;
  final?: boolean;
}

export type AnnounceInput =
  /** Start: whether the kernel already holds the route (a previous agent announced it). */
  | { kind: 'start'; present: boolean }
  | { kind: 'gate'; verdict: GateVerdict }
  /** The adopt grace ended: the gate has had time to prove the adopted route. */
  | { kind: 'adopt-expired' }
  /** SIGTERM: withdraw, wait for the router to converge, then stop. */
  | { kind: 'stop' }
  | { kind: 'converged' }
  /** A reload removed the announcement: withdraw now (no converge wait: the agent keeps serving). */
  | { kind: 'retire'; reason: string };

export type AnnounceAction =
  | { kind: 'announce'; reason: string }
  | { kind: 'withdraw'; reason: string }
  | { kind: 'arm'; timer: 'adopt' | 'converge' }
  | { kind: 'disarm'; timer: 'adopt' }
  | { kind: 'stopped' };

export const initialAnnounceState: AnnounceState = { phase: 'stopped', announced: false, healthy: false, reason: 'not started' };

export function reduceAnnounce(state: AnnounceState, input: AnnounceInput): { state: AnnounceState; actions: AnnounceAction[] } {
  const actions: AnnounceAction[] = [];
  let next = { ...state };
  switch (input.kind) {
    case 'start':
      if (input.present) {
        // Keep what the previous agent announced until the gate has had its chance:
        // withdrawing now and announcing again after the first checks would flap the route.
        next = { phase: 'adopting', announced: true, healthy: false, reason: 'adopted the route at start; waiting for the health gate' };
        actions.push({ kind: 'arm', timer: 'adopt' });
      } else {
        next = { phase: 'running', announced: false, healthy: false, reason: 'waiting for the health gate' };
      }
      break;
    case 'gate': {
      if (state.phase === 'stopping' || state.phase === 'stopped') break;
      next.healthy = input.verdict.healthy;
      next.reason = input.verdict.reason;
      if (state.phase === 'adopting') {
        if (input.verdict.healthy) {
          next.phase = 'running';
          actions.push({ kind: 'disarm', timer: 'adopt' });
        } else if (input.verdict.final) {
          next.phase = 'running';
          actions.push({ kind: 'disarm', timer: 'adopt' });
          if (next.announced) {
            next.announced = false;
            actions.push({ kind: 'withdraw', reason: input.verdict.reason });
          }
        }
        break;
      }
      if (input.verdict.healthy && !state.announced) {
        next.announced = true;
        actions.push({ kind: 'announce', reason: input.verdict.reason });
      }
      if (!input.verdict.healthy && state.announced) {
        next.announced = false;
        actions.push({ kind: 'withdraw', reason: input.verdict.reason });
      }
      break;
    }
    case 'adopt-expired':
      if (state.phase !== 'adopting') break;
      next.phase = 'running';
      if (!state.healthy && state.announced) {
        next.announced = false;
        actions.push({ kind: 'withdraw', reason: `the adopted route was not confirmed by the health gate: ${state.reason}` });
      }
      break;
    case 'stop':
      if (state.phase === 'stopping' || state.phase === 'stopped') break;
      if (state.phase === 'adopting') actions.push({ kind: 'disarm', timer: 'adopt' });
      if (state.announced) {
        next = { ...next, phase: 'stopping', announced: false, reason: 'stopping: withdrawn, serving until the router converges' };
        actions.push({ kind: 'withdraw', reason: 'stopping (SIGTERM)' }, { kind: 'arm', timer: 'converge' });
      } else {
        next = { ...next, phase: 'stopped', reason: 'stopped' };
        actions.push({ kind: 'stopped' });
      }
      break;
    case 'converged':
      if (state.phase !== 'stopping') break;
      next = { ...next, phase: 'stopped', reason: 'stopped' };
      actions.push({ kind: 'stopped' });
      break;
    case 'retire':
      if (state.phase === 'stopping' || state.phase === 'stopped') break;
      if (state.phase === 'adopting') actions.push({ kind: 'disarm', timer: 'adopt' });
      next = { ...next, phase: 'stopped', announced: false, reason: input.reason };
      if (state.announced) actions.push({ kind: 'withdraw', reason: input.reason });
      break;
  }
  return { state: next, actions };
}

/** One gating service's health: undefined while the monitor does not know it yet. */
export interface GateInputs {
  services: Array<{ name: string; quorumUp: boolean | undefined }>;
  /** The operator's maintenance marker (a file) is present. */
  maintenance: boolean;
}

/** Announce only while every gating service has quorum and the director is not in maintenance. */
export function gateVerdict(inputs: GateInputs): GateVerdict {
  if (inputs.maintenance) return { healthy: false, reason: 'maintenance', final: true };
  const down = inputs.services.filter((s) => s.quorumUp !== true).map((s) => s.name);
  if (down.length) return { healthy: false, reason: `no quorum: ${down.join(', ')}` };
  return { healthy: true, reason: `quorum: ${inputs.services.map((s) => s.name).join(', ')}` };
}
