// The VRRP state machine of RFC 5798 section 6.4 (and RFC 3768 for v2) as a
// pure reducer, plus FAULT, preempt_delay, a startup hold and sync-group
// commands. Time is an argument; timers are deadlines in the state, and the
// runner calls step(..., {type: 'tick'}, now) at nextDeadline().
import { ipToBytes } from '../net/sockaddr.js';
import type { VrrpVersion } from './packet.js';

export type VrrpState = 'init' | 'backup' | 'master' | 'fault';

export const OWNER_PRIORITY = 255;
export const RESIGN_PRIORITY = 0;

export interface FsmConfig {
  version: VrrpVersion;
  /** Our Advertisement_Interval in centiseconds. */
  advertIntervalCs: number;
  preempt: boolean;
  /** keepalived's preempt_delay: how long a backup holds back from preempting a lower-priority master. */
  preemptDelayMs: number;
  /** Never become master before this long after start. */
  startupDelayMs: number;
  /** Our primary address (advert source), for the equal-priority tie-break. */
  primaryAddress: string;
  /**
   * The least time between two announcement bursts answering lower-priority adverts
   * (keepalived's garp_lower_prio_delay); never less than the advert interval. Default: the interval.
   */
  lowerPriorityAnnounceHoldMs?: number;
}

export interface FsmSnapshot {
  readonly state: VrrpState;
  readonly config: FsmConfig;
  /** Effective priority (0 is never used: that means resigning). */
  readonly priority: number;
  /** A tracked object with weight 0 failed, or the interface is down. */
  readonly ownFault: boolean;
  /** Another member of our sync group is in FAULT. */
  readonly syncFault: boolean;
  /** Master_Adver_Interval (v3 learns it from the master), centiseconds. */
  readonly masterAdverIntervalCs: number;
  readonly masterDownAt: number | undefined;
  readonly advertAt: number | undefined;
  readonly preemptAt: number | undefined;
  readonly holdUntil: number;
  /** The current master's address as far as we know. */
  readonly masterAddress: string | undefined;
  readonly masterPriority: number | undefined;
  /** As master: when we last answered a lower-priority (or priority-0) advert with an advert. */
  readonly answeredAt: number | undefined;
  /** As master: an advert that came too soon after an answer is owed one; the next scheduled advert is it. */
  readonly answerOwed: boolean;
  /** As master: when we last answered a lower-priority advert with an announcement burst. */
  readonly announcedAt: number | undefined;
}

export type TransitionReason =
  | 'startup'
  | 'address-owner'
  | 'master-down-timer'
  | 'higher-priority-advert'
  | 'fault'
  | 'fault-cleared'
  | 'sync-group'
  | 'shutdown'
  /** An operator made the master step down (resign, force-backup). */
  | 'resigned';

export type FsmEvent =
  | { type: 'start' }
  | { type: 'stop' }
  /** Step down as master: a priority-0 advert (the backups take over after Skew_Time), then BACKUP. */
  | { type: 'resign' }
  | { type: 'tick' }
  | { type: 'advert'; source: string; priority: number; intervalCs: number }
  | { type: 'priority'; priority: number }
  | { type: 'fault'; fault: boolean }
  | { type: 'sync'; to: 'master' | 'backup' | 'fault' | 'fault-cleared' }
  | { type: 'config'; config: FsmConfig };

export type FsmAction =
  | { type: 'transition'; from: VrrpState; to: VrrpState; reason: TransitionReason }
  | { type: 'send-advert'; priority: number }
  | { type: 'add-vips' }
  | { type: 'remove-vips' }
  /** Gratuitous ARP / unsolicited NA burst. */
  | { type: 'announce'; reason: 'became-master' | 'lower-priority-advert' };

export interface StepResult {
  state: FsmSnapshot;
  actions: FsmAction[];
}

export function initialState(config: FsmConfig, priority: number): FsmSnapshot {
  return {
    state: 'init',
    config,
    priority,
    ownFault: false,
    syncFault: false,
    masterAdverIntervalCs: config.advertIntervalCs,
    masterDownAt: undefined,
    advertAt: undefined,
    preemptAt: undefined,
    holdUntil: 0,
    masterAddress: undefined,
    masterPriority: undefined,
    answeredAt: undefined,
    answerOwed: false,
    announcedAt: undefined,
  };
}

/** Skew_Time in ms: v2 (256 − prio)/256 s; v3 ((256 − prio) × Master_Adver_Interval)/256 cs. */
export function skewMs(version: VrrpVersion, priority: number, masterAdverIntervalCs: number): number {
  return version === 2 ? ((256 - priority) * 1000) / 256 : ((256 - priority) * masterAdverIntervalCs * 10) / 256;
}

/** Master_Down_Interval in ms: 3 × Master_Adver_Interval + Skew_Time. */
export function masterDownIntervalMs(version: VrrpVersion, priority: number, masterAdverIntervalCs: number): number {
  return 3 * masterAdverIntervalCs * 10 + skewMs(version, priority, masterAdverIntervalCs);
}

/** The earliest time the runner must call step(..., tick). */
export function nextDeadline(s: FsmSnapshot): number | undefined {
  if (s.state === 'master') return s.advertAt;
  if (s.state === 'backup') return s.masterDownAt;
  return undefined;
}

/** Compares addresses as unsigned integers (RFC 5798 6.4.3: the higher primary address wins). */
export function compareAddresses(a: string, b: string): number {
  return Buffer.compare(ipToBytes(a), ipToBytes(b));
}

export function step(s: FsmSnapshot, event: FsmEvent, now: number): StepResult {
  const out: FsmAction[] = [];
  const next = reduce(s, event, now, out);
  return { state: next, actions: out };
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function reduce(prev: FsmSnapshot, event: FsmEvent, now: number, out: FsmAction[]): FsmSnapshot {
  const s: Mutable<FsmSnapshot> = { ...prev };
  switch (event.type) {
    case 'start':
      if (s.state !== 'init') return s;
      s.holdUntil = now + s.config.startupDelayMs;
      return enterRunning(s, now, out, 'startup');

    case 'stop':
      if (s.state === 'master') resignMastership(s, out);
      if (s.state !== 'init') transition(s, 'init', 'shutdown', out);
      clearTimers(s);
      return s;

    case 'resign':
      // A master never steps down because its own priority dropped (a nopreempt peer
      // would never take over): it says so on the wire, as on a graceful stop, and
      // waits as BACKUP under the normal rules (a peer's adverts, or Master_Down_Timer).
      if (s.state !== 'master') return s;
      resignMastership(s, out);
      s.masterAddress = undefined;
      s.masterPriority = undefined;
      enterBackup(s, now, out, 'resigned');
      return s;

    case 'tick':
      if (s.state === 'master' && s.advertAt !== undefined && now >= s.advertAt) {
        out.push({ type: 'send-advert', priority: s.priority });
        s.advertAt = now + advertIntervalMs(s);
        if (s.answerOwed) {
          s.answeredAt = now;
          s.answerOwed = false;
        }
      } else if (s.state === 'backup' && s.masterDownAt !== undefined && now >= s.masterDownAt) {
        becomeMaster(s, now, out, 'master-down-timer');
      }
      return s;

    case 'advert':
      return onAdvert(s, event, now, out);

    case 'priority':
      s.priority = event.priority;
      return s;

    case 'fault':
      s.ownFault = event.fault;
      return applyFault(s, now, out, 'fault', 'fault-cleared');

    case 'sync':
      if (event.to === 'fault' || event.to === 'fault-cleared') {
        s.syncFault = event.to === 'fault';
        return applyFault(s, now, out, 'sync-group', 'sync-group');
      }
      if (event.to === 'master' && s.state === 'backup') becomeMaster(s, now, out, 'sync-group');
      else if (event.to === 'backup' && s.state === 'master') {
        removeMastership(s, out);
        enterBackup(s, now, out, 'sync-group');
      }
      return s;

    case 'config': {
      const intervalChanged = event.config.advertIntervalCs !== s.config.advertIntervalCs;
      s.config = event.config;
      if (intervalChanged && s.state === 'master') {
        s.masterAdverIntervalCs = event.config.advertIntervalCs;
        s.advertAt = Math.min(s.advertAt ?? now, now + advertIntervalMs(s));
      }
      return s;
    }
  }
}

function isFaulted(s: FsmSnapshot): boolean {
  return s.ownFault || s.syncFault;
}

function applyFault(
  s: Mutable<FsmSnapshot>,
  now: number,
  out: FsmAction[],
  enterReason: TransitionReason,
  leaveReason: TransitionReason,
): FsmSnapshot {
  if (s.state === 'init') return s;
  if (isFaulted(s) && s.state !== 'fault') {
    if (s.state === 'master') resignMastership(s, out);
    transition(s, 'fault', enterReason, out);
    clearTimers(s);
    s.masterAddress = undefined;
    s.masterPriority = undefined;
  } else if (!isFaulted(s) && s.state === 'fault') {
    return enterRunning(s, now, out, leaveReason);
  }
  return s;
}

/** RFC 6.4.1 "Startup", also used when a fault clears. */
function enterRunning(s: Mutable<FsmSnapshot>, now: number, out: FsmAction[], reason: TransitionReason): FsmSnapshot {
  if (isFaulted(s)) {
    transition(s, 'fault', 'fault', out);
    return s;
  }
  if (s.priority === OWNER_PRIORITY && now >= s.holdUntil) {
    becomeMaster(s, now, out, reason === 'startup' ? 'address-owner' : reason);
    return s;
  }
  enterBackup(s, now, out, reason);
  return s;
}

function enterBackup(s: Mutable<FsmSnapshot>, now: number, out: FsmAction[], reason: TransitionReason): void {
  if (s.state !== 'master') s.masterAdverIntervalCs = s.config.advertIntervalCs;
  transition(s, 'backup', reason, out);
  s.advertAt = undefined;
  s.preemptAt = undefined;
  const down = s.priority === OWNER_PRIORITY ? now : now + masterDownIntervalMs(s.config.version, s.priority, s.masterAdverIntervalCs);
  s.masterDownAt = Math.max(down, s.holdUntil);
}

function becomeMaster(s: Mutable<FsmSnapshot>, now: number, out: FsmAction[], reason: TransitionReason): void {
  transition(s, 'master', reason, out);
  s.masterDownAt = undefined;
  s.preemptAt = undefined;
  s.masterAdverIntervalCs = s.config.advertIntervalCs;
  s.masterAddress = s.config.primaryAddress;
  s.masterPriority = s.priority;
  // The advert goes first so other backups hold back; the VIPs, then the
  // announcement that moves the neighbours' caches to us.
  out.push({ type: 'send-advert', priority: s.priority });
  out.push({ type: 'add-vips' });
  out.push({ type: 'announce', reason: 'became-master' });
  s.advertAt = now + advertIntervalMs(s);
  s.answeredAt = undefined;
  s.answerOwed = false;
  s.announcedAt = undefined;
}

/** Leaving MASTER for FAULT or INIT: tell the backups at once (priority 0). */
function resignMastership(s: Mutable<FsmSnapshot>, out: FsmAction[]): void {
  out.push({ type: 'send-advert', priority: RESIGN_PRIORITY });
  removeMastership(s, out);
}

function removeMastership(s: Mutable<FsmSnapshot>, out: FsmAction[]): void {
  out.push({ type: 'remove-vips' });
  s.advertAt = undefined;
}

function onAdvert(s: Mutable<FsmSnapshot>, advert: Extract<FsmEvent, { type: 'advert' }>, now: number, out: FsmAction[]): FsmSnapshot {
  const { version } = s.config;
  if (s.state === 'backup') {
    if (advert.priority === RESIGN_PRIORITY) {
      // The master resigned: take over after Skew_Time, not Master_Down_Interval.
      s.masterDownAt = Math.max(now + skewMs(version, s.priority, s.masterAdverIntervalCs), s.holdUntil);
      s.masterAddress = undefined;
      s.masterPriority = undefined;
      return s;
    }
    const preempt = s.config.preempt || s.priority === OWNER_PRIORITY;
    let accept = !preempt || advert.priority >= s.priority;
    if (!accept && s.config.preemptDelayMs > 0 && s.priority !== OWNER_PRIORITY) {
      s.preemptAt ??= now + s.config.preemptDelayMs;
      accept = now < s.preemptAt;
    }
    if (accept) {
      if (version === 3) s.masterAdverIntervalCs = advert.intervalCs;
      s.masterDownAt = Math.max(now + masterDownIntervalMs(version, s.priority, s.masterAdverIntervalCs), s.holdUntil);
      s.masterAddress = advert.source;
      s.masterPriority = advert.priority;
    }
    return s;
  }
  if (s.state === 'master') {
    if (advert.priority === RESIGN_PRIORITY) {
      // RFC 5798 6.4.3: send an advert and reset the Adver_Timer (at most once per interval).
      answer(s, now, out, false);
      return s;
    }
    const wins =
      advert.priority > s.priority || (advert.priority === s.priority && compareAddresses(advert.source, s.config.primaryAddress) > 0);
    if (wins) {
      removeMastership(s, out);
      if (version === 3) s.masterAdverIntervalCs = advert.intervalCs;
      transition(s, 'backup', 'higher-priority-advert', out);
      s.masterDownAt = Math.max(now + masterDownIntervalMs(version, s.priority, s.masterAdverIntervalCs), s.holdUntil);
      s.masterAddress = advert.source;
      s.masterPriority = advert.priority;
      return s;
    }
    // Another router thinks it is master with a lower priority (a healed
    // split): assert ourselves at once instead of waiting for our next advert.
    answer(s, now, out, true);
  }
  return s;
}

/**
 * A master's answer to a lower-priority or priority-0 advert: an advert now (the next
 * scheduled one brought forward) and, for a lower priority, an announcement burst.
 * Each is rate-limited, whoever sends the adverts and however many: at most one answering
 * advert per advert interval (a flood finds the next scheduled advert owed to it), at
 * most one burst per lowerPriorityAnnounceHoldMs.
 */
function answer(s: Mutable<FsmSnapshot>, now: number, out: FsmAction[], announce: boolean): void {
  const interval = advertIntervalMs(s);
  if (s.answeredAt !== undefined && now < s.answeredAt + interval) {
    s.answerOwed = true;
    return;
  }
  out.push({ type: 'send-advert', priority: s.priority });
  s.advertAt = now + interval;
  s.answeredAt = now;
  s.answerOwed = false;
  const hold = Math.max(interval, s.config.lowerPriorityAnnounceHoldMs ?? 0);
  if (!announce || (s.announcedAt !== undefined && now < s.announcedAt + hold)) return;
  out.push({ type: 'announce', reason: 'lower-priority-advert' });
  s.announcedAt = now;
}

function advertIntervalMs(s: FsmSnapshot): number {
  return s.config.advertIntervalCs * 10;
}

function clearTimers(s: Mutable<FsmSnapshot>): void {
  s.masterDownAt = undefined;
  s.advertAt = undefined;
  s.preemptAt = undefined;
}

function transition(s: Mutable<FsmSnapshot>, to: VrrpState, reason: TransitionReason, out: FsmAction[]): void {
  if (s.state === to) return;
  out.push({ type: 'transition', from: s.state, to, reason });
  s.state = to;
}
