// One VRRP instance at work: the driver. It runs the pure state machine on a clock,
// sends and receives adverts, and carries out the machine's actions through its
// parts: the VIP queue, the announcements and the tracking (one file each).
// The agent constructs one per `vrrp:` entry.
import { isDeepStrictEqual } from 'node:util';
import { setDeadlineTimer, systemClock, type Clock, type TimerHandle } from '../clock.js';
import type { EventBus } from '../events.js';
import type { Logger } from '../log.js';
import { acceptAdvert, type AcceptPolicy, type ReceivedPacket } from './accept.js';
import { addressSetKey, MismatchLogLimit } from './address-mismatch.js';
import { Announcements } from './announcements.js';
import { instanceFamily, isIPv6Text, splitPrefix, validateVrrpInstanceConfig, type VrrpInstanceConfig } from './config.js';
import { canonicalIpOrSelf } from '../net/address.js';
import {
  initialState,
  nextDeadline,
  step,
  type FsmAction,
  type FsmConfig,
  type FsmEvent,
  type FsmSnapshot,
  type TransitionReason,
  type VrrpState,
} from './fsm.js';
import {
  DROP_REASONS,
  encodeAdvert,
  passwordAuthData,
  AUTH_NONE,
  AUTH_SIMPLE_PASSWORD,
  VRRP_MULTICAST_V4,
  VRRP_MULTICAST_V6,
  type DropReason,
} from './packet.js';
import type { TrackedStatus, TrackKind } from './priority.js';
import type { AdvertChannel, LinkState, VrrpIo } from './ports.js';
import type { SyncCommand, SyncMember, SyncMemberView, VrrpSyncGroup } from './sync-group.js';
import type { ScriptRun } from './track-script.js';
import { Tracking } from './tracking.js';
import { arrivalTime } from './arrival.js';
import type { TurnGate } from '../turn-gate.js';
import type { ScavengePacer } from './scavenge-pacer.js';
import { placeVips, vipInterfaceOf } from './vip-placement.js';
import { VipQueue, type VipOp } from './vip-queue.js';

export type SyncDaemonRole = 'master' | 'backup' | 'none';

export interface VrrpInstanceDeps {
  io: VrrpIo;
  clock?: Clock;
  events?: EventBus;
  log?: Logger;
  /** Network namespace path for sockets (tests, multi-namespace agents). */
  netns?: string;
  /** Start/stop the IPVS connection-sync daemon in the role of the state (only called when config.syncDaemon is set). */
  onSyncDaemon?: (role: SyncDaemonRole, syncDaemon: NonNullable<VrrpInstanceConfig['syncDaemon']>) => void | Promise<void>;
  syncGroup?: VrrpSyncGroup;
  /** For tests: how track scripts run. */
  runScript?: ScriptRun;
  trackFilePollMs?: number;
  /** How early a backup's Master_Down_Timer wakes to then yield until the exact deadline (default 2 ms on the system clock, 0 otherwise). */
  precisionSpinMs?: number;
  /** Where a backup posts its Master_Down deadline, for the agent's bulk work to stand aside near it. */
  turnGate?: Pick<TurnGate, 'post'>;
  /** Told after each event's wire work that did not change state: the moment to scavenge, if one is due. */
  scavengePacer?: Pick<ScavengePacer, 'quietMoment'>;
}

export interface VrrpCounters {
  advertsSent: number;
  advertsReceived: number;
  /** Received packets dropped, by reason (every reason present, 0 when none). */
  dropped: Record<DropReason, number>;
  transitions: number;
  becameMaster: number;
  announcementsSent: number;
  vipErrors: number;
  sendErrors: number;
  /** Accepted adverts whose addresses differ from our VIPs (RFC 5798 7.1: logged, still processed). */
  addressMismatches: number;
}

export interface VrrpStatus {
  name: string;
  state: VrrpState;
  basePriority: number;
  effectivePriority: number;
  masterAddress: string | undefined;
  masterPriority: number | undefined;
  sourceAddress: string | undefined;
  /** "kind/name" of failed weight-0 tracked objects. */
  faults: string[];
  /** Every tracked object with its weight and value. */
  tracked: TrackedStatus[];
  lastTransition: { from: VrrpState; to: VrrpState; reason: string; at: string } | undefined;
  counters: VrrpCounters;
}

export interface StateChange {
  name: string;
  from: VrrpState;
  to: VrrpState;
  reason: TransitionReason;
}

function emptyCounters(): VrrpCounters {
  return {
    advertsSent: 0,
    advertsReceived: 0,
    dropped: Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>,
    transitions: 0,
    becameMaster: 0,
    announcementsSent: 0,
    vipErrors: 0,
    sendErrors: 0,
    addressMismatches: 0,
  };
}

export class VrrpInstance implements SyncMember {
  private config: VrrpInstanceConfig;
  private readonly clock: Clock;
  private fsm: FsmSnapshot | undefined;
  private timer: TimerHandle | undefined;
  /** The time of the last event the state machine was given: an advert read late is never dated before it. */
  private lastEventAt = -Infinity;
  /** How long after its deadline the last timer ran: logged with a takeover it caused. */
  private timerLateMs = 0;
  private channel: AdvertChannel | undefined;
  private readonly announcements: Announcements;
  private policy: AcceptPolicy | undefined;
  private link: LinkState | undefined;
  private readonly tracking: Tracking;
  private readonly vipQueue: VipQueue;
  private readonly stateHandlers = new Set<(change: StateChange) => void>();
  private counters = emptyCounters();
  private receiveQueueDropsBefore = 0;
  private readonly mismatchLog = new MismatchLogLimit();
  private ownAddressSet: { vips: string[]; key: string } | undefined;
  private lastTransition: VrrpStatus['lastTransition'];
  private faults: string[] = [];
  private running = false;
  private applyingSync = false;

  constructor(
    config: VrrpInstanceConfig,
    private readonly deps: VrrpInstanceDeps,
  ) {
    const errors = validateVrrpInstanceConfig(config);
    if (errors.length) throw new Error(`vrrp instance ${config.name}: ${errors.join('; ')}`);
    this.config = config;
    this.clock = deps.clock ?? systemClock;
    this.vipQueue = new VipQueue(deps.io.host, (err, op, vip) => this.onVipError(err, op, vip.iface, vip.address.address));
    this.announcements = new Announcements({
      io: deps.io,
      clock: this.clock,
      netns: deps.netns,
      config: () => this.config,
      isMaster: () => this.fsm?.state === 'master',
      onSent: (addresses) => {
        this.counters.announcementsSent += addresses;
      },
      onSendError: (err, iface) => {
        this.counters.sendErrors++;
        this.deps.log?.warn({ err, instance: this.name, interface: iface }, 'vrrp: gratuitous ARP/NA failed');
      },
    });
    this.tracking = new Tracking({
      host: deps.io.host,
      clock: this.clock,
      runScript: deps.runScript,
      trackFilePollMs: deps.trackFilePollMs,
      onChange: () => this.reevaluate(),
      onOwnLink: (link) => {
        this.link = link;
      },
    });
  }

  get name(): string {
    return this.config.name;
  }

  get family(): 4 | 6 {
    return instanceFamily(this.config);
  }

  onStateChange(handler: (change: StateChange) => void): () => void {
    this.stateHandlers.add(handler);
    return () => {
      this.stateHandlers.delete(handler);
    };
  }

  async start(): Promise<void> {
    if (this.running) return;
    const { io } = this.deps;
    const link = await io.host.link(this.config.interface);
    this.link = link;
    const source = this.config.sourceAddress ?? pickSourceAddress(link, this.config);
    if (!source)
      throw new Error(
        `vrrp instance ${this.name}: interface ${this.config.interface} has no ${this.family === 4 ? 'IPv4' : 'IPv6 link-local'} address to send adverts from`,
      );
    const netns = this.deps.netns;
    this.channel = io.openChannel({
      family: this.family,
      interfaceName: link.name,
      interfaceIndex: link.index,
      sourceAddress: source,
      multicast: this.config.unicastPeers.length === 0,
      ...(netns ? { netns } : {}),
    });
    try {
      await this.announcements.open(link);
    } catch (err) {
      this.channel.close();
      this.announcements.close();
      throw err;
    }
    this.policy = this.acceptPolicy(source);
    this.channel.onPacket((p) => this.onPacket(p));
    this.channel.onDrop((reason) => {
      this.counters.dropped[reason]++;
    });
    this.running = true;
    this.deps.syncGroup?.add(this);

    try {
      // Statuses kept since a stop (for status()) would otherwise outlive their config.
      this.tracking.clear();
      await this.tracking.start(this.config, link);
    } catch (err) {
      this.tracking.stop();
      this.tracking.clear();
      this.running = false;
      this.deps.syncGroup?.remove(this.name);
      this.channel.close();
      this.announcements.close();
      this.channel = undefined;
      throw err;
    }
    const { priority, fault } = this.computePriority();
    this.fsm = initialState(this.fsmConfig(source), priority);
    // A previous run may have died as master: the addresses must not linger.
    this.queueVips('remove');
    if (fault) this.dispatch({ type: 'fault', fault: true });
    this.dispatch({ type: 'start' });
  }

  /** Graceful stop: a master sends priority 0 and removes its VIPs first. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.dispatch({ type: 'stop' });
    this.running = false;
    this.timer?.cancel();
    this.deps.turnGate?.post(this, undefined);
    this.announcements.stop();
    this.tracking.stop();
    this.deps.syncGroup?.remove(this.name);
    await this.vipQueue.settled();
    this.receiveQueueDropsBefore += this.channel?.receiveQueueDrops?.() ?? 0;
    this.channel?.close();
    this.announcements.close();
    this.channel = undefined;
  }

  /** The counters, with the kernel's receive-queue drops of every socket this instance has had (they reset with a socket). */
  private countersNow(): VrrpCounters {
    const counters = structuredClone(this.counters);
    counters.dropped.receive_queue_full = this.receiveQueueDropsBefore + (this.channel?.receiveQueueDrops?.() ?? 0);
    return counters;
  }

  status(): VrrpStatus {
    const eff = this.computePriority();
    return {
      name: this.name,
      state: this.fsm?.state ?? 'init',
      basePriority: this.config.priority,
      effectivePriority: this.fsm?.priority ?? eff.priority,
      masterAddress: this.fsm?.masterAddress,
      masterPriority: this.fsm?.masterPriority,
      sourceAddress: this.channel?.sourceAddress,
      faults: [...this.faults],
      tracked: this.tracking.statuses(),
      lastTransition: this.lastTransition,
      counters: this.countersNow(),
    };
  }

  /**
   * Reload. Keeps state and timers when only priorities, tracking, timers,
   * VIPs (and the interfaces they go on) or announcement settings change; a new interface, VRID, version,
   * family, source or peer list restarts the instance (as a new router).
   */
  async update(next: VrrpInstanceConfig): Promise<void> {
    const errors = validateVrrpInstanceConfig(next);
    if (errors.length) throw new Error(`vrrp instance ${next.name}: ${errors.join('; ')}`);
    const prev = this.config;
    const identity = (c: VrrpInstanceConfig): string =>
      JSON.stringify([c.name, c.interface, c.vrid, c.version, instanceFamily(c), c.sourceAddress, [...c.unicastPeers].sort()]);
    if (!this.running) {
      this.config = next;
      return;
    }
    if (identity(prev) !== identity(next)) {
      await this.stop();
      this.config = next;
      this.counters = emptyCounters();
      this.receiveQueueDropsBefore = 0;
      await this.start();
      return;
    }
    await this.announcements.openVipAnnouncers(next);
    this.config = next;
    this.policy = this.acceptPolicy(this.channel!.sourceAddress);
    if (!isDeepStrictEqual(prev.track, next.track) || !isDeepStrictEqual(prev.linkDebounce, next.linkDebounce)) {
      await this.tracking.restart(next, this.link!);
    }
    this.dispatch({ type: 'config', config: this.fsmConfig(this.channel!.sourceAddress) });
    this.reevaluate();
    if (this.fsm?.state !== 'master') return;
    const placed = (c: VrrpInstanceConfig): string[] => c.vips.map((v) => `${v}@${vipInterfaceOf(c, v)}`);
    const vipsChanged = !isDeepStrictEqual(placed(prev), placed(next)) || prev.vipLabel !== next.vipLabel;
    if (vipsChanged) {
      this.queueVipList(
        prev.vips.filter((v) => !placed(next).includes(`${v}@${vipInterfaceOf(prev, v)}`)),
        'remove',
        prev,
      );
      this.queueVips('add');
      this.announceAfterVips();
    }
    if (vipsChanged || !isDeepStrictEqual(prev.garp, next.garp)) this.announcements.scheduleRefresh();
  }

  /**
   * An operator's step down: a master sends priority 0 and becomes BACKUP; it may become
   * master again by the normal rules. Returns false when it was not master (nothing to do).
   */
  resign(): boolean {
    if (!this.running || this.fsm?.state !== 'master') return false;
    this.dispatch({ type: 'resign' });
    return true;
  }

  /** Reports a tracked object's status: services' quorum (up), scripts, files (value). */
  setTracked(kind: TrackKind, name: string, value: boolean | number): void {
    this.tracking.set(kind, name, value);
  }

  // ---- sync group ---------------------------------------------------------

  syncView(): SyncMemberView {
    return { name: this.name, state: this.fsm?.state ?? 'init', ownFault: this.fsm?.ownFault ?? false };
  }

  applySync(command: SyncCommand): void {
    if (!this.running) return;
    this.applyingSync = true;
    try {
      this.dispatch(command === 'resign' ? { type: 'resign' } : { type: 'sync', to: command });
    } finally {
      this.applyingSync = false;
    }
  }

  // ---- internals ----------------------------------------------------------

  private fsmConfig(source: string): FsmConfig {
    const c = this.config;
    return {
      version: c.version,
      advertIntervalCs: Math.round(c.advertIntervalMs / 10),
      preempt: c.preempt,
      preemptDelayMs: c.preemptDelayMs,
      startupDelayMs: c.startupDelayMs,
      primaryAddress: source,
      lowerPriorityAnnounceHoldMs: c.garp.delayMs,
    };
  }

  private acceptPolicy(source: string): AcceptPolicy {
    const c = this.config;
    return {
      family: this.family,
      version: c.version,
      vrid: c.vrid,
      intervalCs: Math.round(c.advertIntervalMs / 10),
      ...(c.authPassword !== undefined ? { password: c.authPassword } : {}),
      ownAddresses: new Set([canonicalIpOrSelf(source)]),
      ...(c.unicastPeers.length ? { unicastPeers: new Set(c.unicastPeers.map(canonicalIpOrSelf)) } : {}),
    };
  }

  private dispatch(event: FsmEvent, now = this.clock.now()): void {
    if (!this.fsm) return;
    this.lastEventAt = now;
    const { state, actions } = step(this.fsm, event, now);
    this.fsm = state;
    // The wire first (advert, VIPs, announcement), then the bookkeeping of the
    // transition: event subscribers, logs and the sync group must not delay a failover.
    for (const action of actions) if (action.type !== 'transition') this.execute(action);
    for (const action of actions) if (action.type === 'transition') this.execute(action);
    this.reschedule();
    // An advert just sent or read: the next deadline is an interval or more away. Not
    // after a transition, whose VIPs and announcements are still on their way.
    if (!actions.some((a) => a.type === 'transition')) this.deps.scavengePacer?.quietMoment();
  }

  private reschedule(): void {
    this.timer?.cancel();
    this.timer = undefined;
    const at = this.running && this.fsm ? nextDeadline(this.fsm) : undefined;
    // A backup's takeover is what a piece of bulk work started just before it would make
    // late: the agent's other work stands aside near that deadline (TurnGate). A master's
    // adverts have three intervals of slack and are not posted.
    this.deps.turnGate?.post(this, this.fsm?.state === 'backup' ? at : undefined);
    if (!this.fsm || at === undefined) return;
    // A backup's Master_Down_Timer decides the failover time (skew alone is 609.375 ms
    // at priority 100): on the real clock it wakes a little early and yields until the
    // exact deadline.
    const spinMs = this.fsm.state === 'backup' ? (this.deps.precisionSpinMs ?? (this.clock === systemClock ? 2 : 0)) : 0;
    this.timer = setDeadlineTimer(
      this.clock,
      at,
      (now) => {
        this.timer = undefined;
        this.timerLateMs = Math.max(0, this.clock.now() - at);
        // After a stall (GC, a busy CPU) libuv runs due timers before it reads sockets: a
        // backup first reads the adverts that came meanwhile, so that a live master is not
        // taken over from. Only an advert that pushed the deadline on defers the tick: a
        // queue always refilled with adverts the backup ignores (a lower priority, a
        // flood) must not hold it back from taking over.
        if (this.fsm?.state === 'backup' && this.channel?.receivePending) {
          this.channel.receivePending();
          const deadline = this.fsm ? nextDeadline(this.fsm) : undefined;
          if (deadline !== undefined && deadline > now) return;
        }
        this.dispatch({ type: 'tick' }, now);
      },
      { spinMs },
    );
  }

  private execute(action: FsmAction): void {
    switch (action.type) {
      case 'send-advert':
        this.sendAdvert(action.priority);
        return;
      case 'add-vips':
        this.queueVips('add');
        return;
      case 'remove-vips':
        this.announcements.stop();
        this.queueVips('remove');
        return;
      case 'announce':
        this.announceAfterVips();
        if (action.reason === 'became-master') {
          this.announcements.scheduleRefresh();
          this.announcements.scheduleDelayedBurst();
        }
        return;
      case 'transition':
        this.onTransition(action.from, action.to, action.reason);
        return;
    }
  }

  private sendAdvert(priority: number): void {
    const channel = this.channel;
    if (!channel) return;
    const c = this.config;
    const family = this.family;
    const destinations = c.unicastPeers.length ? c.unicastPeers : [family === 4 ? VRRP_MULTICAST_V4 : VRRP_MULTICAST_V6];
    const advert = {
      version: c.version,
      vrid: c.vrid,
      priority,
      intervalCs: Math.round(c.advertIntervalMs / 10),
      addresses: c.vips.map((v) => splitPrefix(v).address),
      ...(c.version === 2
        ? c.authPassword !== undefined
          ? { authType: AUTH_SIMPLE_PASSWORD, authData: passwordAuthData(c.authPassword) }
          : { authType: AUTH_NONE }
        : {}),
    };
    for (const destination of destinations) {
      try {
        channel.send(
          encodeAdvert(advert, { family, source: channel.sourceAddress, destination }, { v3Ipv4Checksum: c.v3Ipv4Checksum }),
          destination,
        );
        this.counters.advertsSent++;
      } catch (err) {
        this.counters.sendErrors++;
        this.deps.log?.warn({ err, instance: this.name, destination }, 'vrrp: sending an advert failed');
      }
    }
  }

  private queueVips(op: VipOp): void {
    this.queueVipList(this.config.vips, op);
  }

  /** Queues a change of `vips`, placed on the interfaces `placement` gives them. */
  private queueVipList(vips: string[], op: VipOp, placement: VrrpInstanceConfig = this.config): void {
    this.vipQueue.queue(
      op,
      placeVips(vips, placement, { interface: this.config.interface, vipLabel: this.config.vipLabel, family: this.family }),
    );
  }

  private onVipError(err: unknown, op: VipOp, iface: string, address: string): void {
    this.counters.vipErrors++;
    this.deps.log?.error({ err, instance: this.name, address, interface: iface }, `vrrp: ${op} VIP failed`);
  }

  /** Announces once the VIPs are in place: at once if they were issued now, else after the queue. */
  private announceAfterVips(): void {
    this.vipQueue.afterIssued(() => this.announcements.burst());
  }

  private onTransition(from: VrrpState, to: VrrpState, reason: TransitionReason): void {
    this.counters.transitions++;
    if (to === 'master') this.counters.becameMaster++;
    this.lastTransition = { from, to, reason, at: this.clock.wallNow().toISOString() };
    const priority = this.fsm?.priority;
    // A takeover's Master_Down_Timer ran this long after its deadline: what a stall of the thread added to the failover.
    const late = reason === 'master-down-timer' ? { masterDownLateMs: Math.round(this.timerLateMs * 10) / 10 } : {};
    this.deps.log?.info({ instance: this.name, from, to, reason, priority, ...late }, `vrrp ${this.name}: ${from} -> ${to} (${reason})`);
    this.deps.events?.publish({
      type: 'vrrp.state',
      object: `vrrp/${this.name}`,
      from,
      to,
      reason,
      data: { priority, vrid: this.config.vrid, interface: this.config.interface, faults: [...this.faults] },
    });
    const change: StateChange = { name: this.name, from, to, reason };
    for (const h of this.stateHandlers) {
      try {
        h(change);
      } catch (err) {
        this.deps.log?.error({ err }, 'vrrp: state-change handler failed');
      }
    }
    const sync = this.config.syncDaemon;
    if (sync && this.deps.onSyncDaemon) {
      const role: SyncDaemonRole = to === 'master' ? 'master' : to === 'init' ? 'none' : 'backup';
      Promise.resolve()
        .then(() => this.deps.onSyncDaemon!(role, sync))
        .catch((err: unknown) => this.deps.log?.error({ err, instance: this.name, role }, 'vrrp: sync daemon switch failed'));
    }
    if (!this.applyingSync && reason !== 'sync-group') this.deps.syncGroup?.memberChanged(this.name, from, to, reason === 'resigned');
  }

  private onPacket(packet: ReceivedPacket): void {
    if (!this.policy || !this.fsm) return;
    const result = acceptAdvert(packet, this.policy);
    if (!result.ok) {
      this.counters.dropped[result.reason]++;
      return;
    }
    this.counters.advertsReceived++;
    const a = result.value;
    this.checkAdvertisedAddresses(a.source, a.addresses);
    const arrived = arrivalTime(this.clock.now(), packet.ageMs, this.config.advertIntervalMs, this.lastEventAt);
    this.dispatch({ type: 'advert', source: a.source, priority: a.priority, intervalCs: a.intervalCs }, arrived);
  }

  /**
   * RFC 3768/5798 7.1: a receiver MAY check the advertised addresses and SHOULD log a mismatch.
   * The advert is still processed: dropping it would make two routers whose VIP lists differ
   * (a reload half-rolled across the pair) both master. Logged once per distinct mismatch
   * among the last few, and at most a few lines a minute: alternating or forged sets cannot flood the log.
   */
  private checkAdvertisedAddresses(source: string, advertised: string[]): void {
    // Our side changes only with the config: worked out once per VIP list, not per advert.
    if (this.ownAddressSet?.vips !== this.config.vips) {
      this.ownAddressSet = { vips: this.config.vips, key: addressSetKey(this.config.vips.map((v) => splitPrefix(v).address)) };
      this.mismatchLog.clear();
    }
    const ours = this.ownAddressSet.key;
    const theirs = addressSetKey(advertised);
    if (theirs === ours) return;
    this.counters.addressMismatches++;
    if (!this.mismatchLog.shouldLog(`${source} ${theirs}`, this.clock.now())) return;
    const mine = this.config.vips.map((v) => splitPrefix(v).address);
    this.deps.log?.warn(
      { instance: this.name, source, advertised, vips: mine },
      `vrrp ${this.name}: adverts from ${source} carry addresses [${advertised.join(', ')}], ours are [${mine.join(', ')}]: the two directors' VIP lists differ`,
    );
  }

  private computePriority(): { priority: number; fault: boolean } {
    const result = this.tracking.priority(this.config.priority);
    this.faults = result.faultedBy;
    return result;
  }

  private reevaluate(): void {
    if (!this.fsm || !this.running) return;
    const { priority, fault } = this.computePriority();
    if (priority !== this.fsm.priority) this.dispatch({ type: 'priority', priority });
    if (fault !== this.fsm.ownFault) this.dispatch({ type: 'fault', fault });
  }
}

/** keepalived's default source: the interface's first IPv4 address that is not a VIP, or its IPv6 link-local. */
export function pickSourceAddress(link: LinkState, config: Pick<VrrpInstanceConfig, 'vips'>): string | undefined {
  const vips = new Set(config.vips.map((v) => canonicalIpOrSelf(splitPrefix(v).address)));
  const family = instanceFamily(config);
  // The family first: an IPv4 instance never parses the link's IPv6 addresses, which
  // would compile node's IPv6 pattern, 11 ms of a start (issue 15).
  const sameFamily = link.addresses.map((a) => a.address).filter((a) => isIPv6Text(a) === (family === 6));
  const candidates = sameFamily.map(canonicalIpOrSelf).filter((a) => !vips.has(a));
  return family === 4 ? candidates[0] : candidates.find((a) => /^fe[89ab][0-9a-f]:/.test(a));
}
