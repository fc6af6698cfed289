// V8 collects the young generation (a scavenge) when it fills, whatever the thread is
// about to do. Under --single-threaded-gc, which vrrp_realtime needs (docs/vrrp.md), a
// scavenge of the VRRP thread takes 4-6 ms on a busy host, and one that starts in the
// last milliseconds before a backup's Master_Down deadline makes the takeover that much
// late. Given a way to scavenge on demand (node --expose-gc, as the packaged realtime
// drop-in starts it), the agent scavenges at a moment of its choosing instead: right
// after a VRRP event's wire work, once the young generation is mostly full, and never
// near a posted deadline. V8 then seldom needs to scavenge at a moment of its own.
import type { TurnGate } from '../turn-gate.js';
import type { YoungGeneration } from './ports.js';

/**
 * How full the young generation is when a quiet moment scavenges it. The rest is the
 * room left for what the thread allocates until its next quiet moment, an advert
 * interval later at most: tens of kilobytes at a few megabytes a second.
 */
export const SCAVENGE_AT_FILL = 0.75;

export class ScavengePacer {
  constructor(
    private readonly young: YoungGeneration,
    /** Where backups post their deadlines: no scavenge starts within its lead of one. */
    private readonly gate: Pick<TurnGate, 'waitMs'>,
    private readonly threshold = SCAVENGE_AT_FILL,
  ) {}

  /** A quiet moment (an instance has just done an event's wire work): scavenges if it is time. True if it did. */
  quietMoment(): boolean {
    if (this.gate.waitMs() > 0 || this.young.fill() < this.threshold) return false;
    this.young.scavenge();
    return true;
  }
}
