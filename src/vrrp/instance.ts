// One VRRP instance at work: the pure state machine driven by a clock, adverts
// on the wire, tracked objects folded into the effective priority, VIPs moved
// and announced, events published. The agent constructs one per `vrrp:` entry.
import { isDeepStrictEqual } from 'node:util';
import { systemClock, type Clock, type TimerHandle } from '../clock.js';
import type { EventBus } from '../events.js';
import type { Logger } from '../log.js';
import { acceptAdvert, type AcceptPolicy, type ReceivedPacket } from './accept.js';
import { instanceFamily, splitPrefix, validateVrrpInstanceConfig, type VrrpInstanceConfig } from './config.js';
import { canonicalIpOrSelf } from '../net/address.js';
import { ipToBytes } from '../net/sockaddr.js';
import { Debounced } from './debounce.js';
import { initialState, nextDeadline, step, type FsmAction, type FsmConfig, type FsmEvent, type FsmSnapshot, type TransitionReason, type VrrpState } from './fsm.js';
import { DROP_REASONS, encodeAdvert, passwordAuthData, AUTH_NONE, AUTH_SIMPLE_PASSWORD, VRRP_MULTICAST_V4, VRRP_MULTICAST_V6, type DropReason } from './packet.js';
import { effectivePriority, type TrackedStatus, type TrackKind } from './priority.js';
import type { AdvertChannel, Announcer, InterfaceAddress, LinkState, VrrpIo } from './ports.js';
import type { SyncCommand, SyncMember, SyncMemberView, VrrpSyncGroup } from './sync-group.js';
import { TrackFileWatcher } from './track-file.js';
import { TrackScriptRunner, type ScriptRun } from './track-script.js';

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
    advertsSent: 0, advertsReceived: 0,
    dropped: Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>,
    transitions: 0, becameMaster: 0, announcementsSent: 0, vipErrors: 0, sendErrors: 0, addressMismatches: 0,
  };
}

const trackKey = (kind: TrackKind, name: string): string => `${kind}/${name}`;
const TIMER_GRANULARITY_MS = 1;

export class VrrpInstance implements SyncMember {
  private config: VrrpInstanceConfig;
  private readonly clock: Clock;
  private fsm: FsmSnapshot | undefined;
  private timer: TimerHandle | undefined;
  private channel: AdvertChannel | undefined;
  private announcer: Announcer | undefined;
  /** Announcers of the other interfaces VIPs live on, by interface name. */
  private vipAnnouncers = new Map<string, Announcer>();
  private policy: AcceptPolicy | undefined;
  private link: LinkState | undefined;
  private readonly tracked = new Map<string, TrackedStatus>();
  private readonly linkDebounce = new Map<string, Debounced>();
  private unwatch: (() => void)[] = [];
  private scripts: TrackScriptRunner[] = [];
  private files: TrackFileWatcher[] = [];
  private vipQueue: Promise<void> = Promise.resolve();
  private vipOpsPending = 0;
  /** Whether every queued VIP change has already been handed to the kernel. */
  private vipsIssued = true;
  /** The pending announcements of the burst under way; each leaves the set when it fires (at most garp.count - 1). */
  private readonly burstTimers = new Set<TimerHandle>();
  private refreshTimer: TimerHandle | undefined;
  private delayedBurstTimer: TimerHandle | undefined;
  private readonly stateHandlers = new Set<(change: StateChange) => void>();
  private counters = emptyCounters();
  private receiveQueueDropsBefore = 0;
  private readonly mismatchLog = new MismatchLogLimit();
  private ownAddressSet: { vips: string[]; key: string } | undefined;
  private lastTransition: VrrpStatus['lastTransition'];
  private faults: string[] = [];
  private running = false;
  private applyingSync = false;

  constructor(config: VrrpInstanceConfig, private readonly deps: VrrpInstanceDeps) {
    const errors = validateVrrpInstanceConfig(config);
    if (errors.length) throw new Error(`vrrp instance ${config.name}: ${errors.join('; ')}`);
    this.config = config;
    this.clock = deps.clock ?? systemClock;
  }

  get name(): string {
    return this.config.name;
  }

  get family(): 4 | 6 {
    return instanceFamily(this.config);
  }

  onStateChange(handler: (change: StateChange) => void): () => void {
    this.stateHandlers.add(handler);
    return () => { this.stateHandlers.delete(handler); };
  }

  async start(): Promise<void> {
    if (this.running) return;
    const { io } = this.deps;
    const link = await io.host.link(this.config.interface);
    this.link = link;
    const source = this.config.sourceAddress ?? pickSourceAddress(link, this.config);
    if (!source) throw new Error(`vrrp instance ${this.name}: interface ${this.config.interface} has no ${this.family === 4 ? 'IPv4' : 'IPv6 link-local'} address to send adverts from`);
    const netns = this.deps.netns;
    this.channel = io.openChannel({
      family: this.family, interfaceName: link.name, interfaceIndex: link.index, sourceAddress: source,
      multicast: this.config.unicastPeers.length === 0, ...(netns ? { netns } : {}),
    });
    try {
      this.announcer = io.openAnnouncer({ interfaceIndex: link.index, mac: link.mac, ...(netns ? { netns } : {}) });
      await this.openVipAnnouncers(this.config);
    } catch (err) {
      this.channel.close();
      this.closeAnnouncers();
      throw err;
    }
    this.policy = this.acceptPolicy(source);
    this.channel.onPacket((p) => this.onPacket(p));
    this.channel.onDrop((reason) => { this.counters.dropped[reason]++; });
    this.running = true;
    this.deps.syncGroup?.add(this);

    try {
      await this.startTracking(link);
    } catch (err) {
      this.stopTracking();
      this.tracked.clear();
      this.running = false;
      this.deps.syncGroup?.remove(this.name);
      this.channel.close();
      this.closeAnnouncers();
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
    this.stopAnnouncing();
    this.stopTracking();
    this.deps.syncGroup?.remove(this.name);
    await this.vipQueue;
    this.receiveQueueDropsBefore += this.channel?.receiveQueueDrops?.() ?? 0;
    this.channel?.close();
    this.closeAnnouncers();
    this.channel = undefined;
  }

  /** Opens an announcer for each other interface the config puts VIPs on, and closes those no longer used. */
  private async openVipAnnouncers(config: VrrpInstanceConfig): Promise<void> {
    const wanted = otherVipInterfaces(config);
    const netns = this.deps.netns;
    // New ones first: if an interface is missing, the running config keeps what it uses.
    for (const name of wanted.filter((n) => !this.vipAnnouncers.has(n))) {
      const link = await this.deps.io.host.link(name);
      this.vipAnnouncers.set(name, this.deps.io.openAnnouncer({ interfaceIndex: link.index, mac: link.mac, ...(netns ? { netns } : {}) }));
    }
    for (const [name, announcer] of this.vipAnnouncers) {
      if (!wanted.includes(name)) { announcer.close(); this.vipAnnouncers.delete(name); }
    }
  }

  private closeAnnouncers(): void {
    this.announcer?.close();
    this.announcer = undefined;
    for (const a of this.vipAnnouncers.values()) a.close();
    this.vipAnnouncers.clear();
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
    const identity = (c: VrrpInstanceConfig): string => JSON.stringify([c.name, c.interface, c.vrid, c.version, instanceFamily(c), c.sourceAddress, [...c.unicastPeers].sort()]);
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
    await this.openVipAnnouncers(next);
    this.config = next;
    this.policy = this.acceptPolicy(this.channel!.sourceAddress);
    if (!isDeepStrictEqual(prev.track, next.track) || !isDeepStrictEqual(prev.linkDebounce, next.linkDebounce)) {
      // Statuses reported from outside (service quorum) and learned ones carry over.
      const previous = new Map([...this.tracked].map(([k, v]) => [k, v.value]));
      this.stopTracking();
      this.tracked.clear();
      await this.startTracking(this.link!);
      for (const [key, status] of this.tracked) {
        if (status.kind !== 'interface' && previous.has(key)) status.value = previous.get(key)!;
      }
    }
    this.dispatch({ type: 'config', config: this.fsmConfig(this.channel!.sourceAddress) });
    this.reevaluate();
    if (this.fsm?.state !== 'master') return;
    const placed = (c: VrrpInstanceConfig): string[] => c.vips.map((v) => `${v}@${vipInterfaceOf(c, v)}`);
    const vipsChanged = !isDeepStrictEqual(placed(prev), placed(next)) || prev.vipLabel !== next.vipLabel;
    if (vipsChanged) {
      this.queueVipList(prev.vips.filter((v) => !placed(next).includes(`${v}@${vipInterfaceOf(prev, v)}`)), 'remove', prev);
      this.queueVips('add');
      this.announceAfterVips();
    }
    if (vipsChanged || !isDeepStrictEqual(prev.garp, next.garp)) this.scheduleRefresh();
  }

  /** Reports a tracked object's status: services' quorum (up), scripts, files (value). */
  setTracked(kind: TrackKind, name: string, value: boolean | number): void {
    const entry = this.tracked.get(trackKey(kind, name));
    if (!entry || entry.value === value) return;
    entry.value = value;
    this.reevaluate();
  }

  // ---- sync group ---------------------------------------------------------

  syncView(): SyncMemberView {
    return { name: this.name, state: this.fsm?.state ?? 'init', ownFault: this.fsm?.ownFault ?? false };
  }

  applySync(command: SyncCommand): void {
    if (!this.running) return;
    this.applyingSync = true;
    try {
      this.dispatch({ type: 'sync', to: command });
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
    const { state, actions } = step(this.fsm, event, now);
    this.fsm = state;
    // The wire first (advert, VIPs, announcement), then the bookkeeping of the
    // transition: event subscribers, logs and the sync group must not delay a failover.
    for (const action of actions) if (action.type !== 'transition') this.execute(action);
    for (const action of actions) if (action.type === 'transition') this.execute(action);
    this.reschedule();
  }

  private reschedule(): void {
    this.timer?.cancel();
    this.timer = undefined;
    if (!this.running || !this.fsm) return;
    const at = nextDeadline(this.fsm);
    if (at === undefined) return;
    // Timers have whole-millisecond granularity and start from the event loop's
    // cached time: a fractional delay (skew is 609.375 ms at priority 100) would
    // fire early, find the deadline not reached and re-arm for another 1-2 ms.
    // Round up, and count a deadline less than a millisecond away as reached.
    // A backup's Master_Down_Timer decides the failover time: on the real clock
    // it wakes a little early and yields until the exact deadline.
    const spinMs = this.fsm.state === 'backup' ? this.deps.precisionSpinMs ?? (this.clock === systemClock ? 2 : 0) : 0;
    const delay = Math.max(0, at - this.clock.now());
    const fire = (): void => {
      this.timer = undefined;
      const now = this.clock.now();
      this.dispatch({ type: 'tick' }, now >= at - TIMER_GRANULARITY_MS ? Math.max(now, at) : now);
    };
    if (spinMs > 0 && delay > spinMs) {
      this.timer = this.clock.setTimer(Math.floor(delay - spinMs), () => {
        let cancelled = false;
        this.timer = { cancel: () => { cancelled = true; } };
        const wait = (): void => {
          if (cancelled) return;
          if (this.clock.now() >= at) fire();
          else setImmediate(wait);
        };
        wait();
      });
      return;
    }
    this.timer = this.clock.setTimer(Math.ceil(delay), fire);
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
        this.stopAnnouncing();
        this.queueVips('remove');
        return;
      case 'announce':
        this.announceAfterVips();
        if (action.reason === 'became-master') {
          this.scheduleRefresh();
          this.scheduleDelayedBurst();
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
        channel.send(encodeAdvert(advert, { family, source: channel.sourceAddress, destination }, { v3Ipv4Checksum: c.v3Ipv4Checksum }), destination);
        this.counters.advertsSent++;
      } catch (err) {
        this.counters.sendErrors++;
        this.deps.log?.warn({ err, instance: this.name, destination }, 'vrrp: sending an advert failed');
      }
    }
  }

  /** The label names the instance's interface ("eth0:web"): it applies to the VIPs on that interface only. */
  private vipAddress(v: string, iface: string): InterfaceAddress {
    const labelled = this.config.vipLabel && this.family === 4 && iface === this.config.interface;
    return { ...splitPrefix(v), ...(labelled ? { label: this.config.vipLabel } : {}) };
  }

  private queueVips(op: 'add' | 'remove'): void {
    this.queueVipList(this.config.vips, op);
  }

  /**
   * VIP changes run in order, one after another, whatever their latency. When
   * nothing is pending they are issued at once, in this call: the kernel has
   * applied them when the host returns, so the announcement need not wait for
   * the acknowledgement (a millisecond or two of failover time).
   */
  private queueVipList(vips: string[], op: 'add' | 'remove', placement: VrrpInstanceConfig = this.config): void {
    const host = this.deps.io.host;
    const placed = vips.map((v) => {
      const iface = vipInterfaceOf(placement, v);
      return { iface, address: this.vipAddress(v, iface) };
    });
    const run = (): Promise<void> => Promise.all(placed.map(async ({ iface, address: a }) => {
      try {
        if (op === 'add') await host.addAddress(iface, a);
        else await host.removeAddress(iface, a);
      } catch (err) {
        this.counters.vipErrors++;
        this.deps.log?.error({ err, instance: this.name, address: a.address, interface: iface }, `vrrp: ${op} VIP failed`);
      }
    })).then(() => undefined);
    const idle = this.vipOpsPending === 0;
    this.vipOpsPending++;
    const settled = (): void => { this.vipOpsPending--; };
    this.vipsIssued = idle;
    this.vipQueue = (idle ? run() : this.vipQueue.then(run)).then(settled, settled);
  }

  /** Announces once the VIPs are in place: at once if they were issued now, else after the queue. */
  private announceAfterVips(): void {
    if (this.vipsIssued) this.announce();
    else this.vipQueue = this.vipQueue.then(() => this.announce());
  }

  /** One burst: `count` announcements `interval` apart. A burst still under way is replaced, not added to. */
  private announce(): void {
    if (this.fsm?.state !== 'master' || !this.announcer) return;
    const { count, intervalMs } = this.config.garp;
    const byInterface = new Map<string, string[]>();
    for (const v of this.config.vips) {
      const iface = vipInterfaceOf(this.config, v);
      byInterface.set(iface, [...(byInterface.get(iface) ?? []), splitPrefix(v).address]);
    }
    const once = (): void => {
      if (this.fsm?.state !== 'master' || !this.announcer) return;
      for (const [iface, addresses] of byInterface) {
        const announcer = iface === this.config.interface ? this.announcer : this.vipAnnouncers.get(iface);
        if (!announcer) continue;
        try {
          announcer.announce(addresses);
          this.counters.announcementsSent += addresses.length;
        } catch (err) {
          this.counters.sendErrors++;
          this.deps.log?.warn({ err, instance: this.name, interface: iface }, 'vrrp: gratuitous ARP/NA failed');
        }
      }
    };
    if (count <= 0) return;
    this.cancelBurst();
    once();
    for (let i = 1; i < count; i++) {
      const timer = this.clock.setTimer(i * intervalMs, () => {
        this.burstTimers.delete(timer);
        once();
      });
      this.burstTimers.add(timer);
    }
  }

  private cancelBurst(): void {
    for (const t of this.burstTimers) t.cancel();
    this.burstTimers.clear();
  }

  private scheduleRefresh(): void {
    this.refreshTimer?.cancel();
    this.refreshTimer = undefined;
    const { refreshMs } = this.config.garp;
    if (refreshMs <= 0) return;
    this.refreshTimer = this.clock.setTimer(refreshMs, () => {
      this.refreshTimer = undefined;
      if (this.fsm?.state !== 'master') return;
      this.announce();
      this.scheduleRefresh();
    });
  }

  private scheduleDelayedBurst(): void {
    this.delayedBurstTimer?.cancel();
    this.delayedBurstTimer = undefined;
    const { delayMs } = this.config.garp;
    if (delayMs <= 0) return;
    this.delayedBurstTimer = this.clock.setTimer(delayMs, () => {
      this.delayedBurstTimer = undefined;
      this.announce();
    });
  }

  private stopAnnouncing(): void {
    this.cancelBurst();
    this.refreshTimer?.cancel();
    this.refreshTimer = undefined;
    this.delayedBurstTimer?.cancel();
    this.delayedBurstTimer = undefined;
  }

  private onTransition(from: VrrpState, to: VrrpState, reason: TransitionReason): void {
    this.counters.transitions++;
    if (to === 'master') this.counters.becameMaster++;
    this.lastTransition = { from, to, reason, at: this.clock.wallNow().toISOString() };
    const priority = this.fsm?.priority;
    this.deps.log?.info({ instance: this.name, from, to, reason, priority }, `vrrp ${this.name}: ${from} -> ${to} (${reason})`);
    this.deps.events?.publish({
      type: 'vrrp.state', object: `vrrp/${this.name}`, from, to, reason,
      data: { priority, vrid: this.config.vrid, interface: this.config.interface, faults: [...this.faults] },
    });
    const change: StateChange = { name: this.name, from, to, reason };
    for (const h of this.stateHandlers) {
      try { h(change); } catch (err) { this.deps.log?.error({ err }, 'vrrp: state-change handler failed'); }
    }
    const sync = this.config.syncDaemon;
    if (sync && this.deps.onSyncDaemon) {
      const role: SyncDaemonRole = to === 'master' ? 'master' : to === 'init' ? 'none' : 'backup';
      Promise.resolve()
        .then(() => this.deps.onSyncDaemon!(role, sync))
        .catch((err: unknown) => this.deps.log?.error({ err, instance: this.name, role }, 'vrrp: sync daemon switch failed'));
    }
    if (!this.applyingSync && reason !== 'sync-group') this.deps.syncGroup?.memberChanged(this.name, from, to);
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
    this.dispatch({ type: 'advert', source: a.source, priority: a.priority, intervalCs: a.intervalCs });
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
    this.deps.log?.warn({ instance: this.name, source, advertised, vips: mine },
      `vrrp ${this.name}: adverts from ${source} carry addresses [${advertised.join(', ')}], ours are [${mine.join(', ')}]: the two directors' VIP lists differ`);
  }

  // ---- tracking -----------------------------------------------------------

  private async startTracking(link: LinkState): Promise<void> {
    const c = this.config;
    const host = this.deps.io.host;
    // Our own interface going down always means FAULT (weight 0).
    const interfaces = [{ name: c.interface, weight: 0 }, ...c.track.interfaces.filter((t) => t.name !== c.interface)];
    const ownWeight = c.track.interfaces.find((t) => t.name === c.interface);
    if (ownWeight) interfaces[0] = ownWeight;
    for (const t of interfaces) {
      const initial = t.name === link.name ? link : await host.link(t.name).catch(() => undefined);
      const status: TrackedStatus = { kind: 'interface', name: t.name, weight: t.weight, value: initial?.up ?? false };
      this.tracked.set(trackKey('interface', t.name), status);
      const debounced = new Debounced(status.value as boolean, c.linkDebounce, this.clock, (up) => this.setTracked('interface', t.name, up));
      this.linkDebounce.set(t.name, debounced);
      this.unwatch.push(host.watchLink(t.name, (l) => {
        if (t.name === c.interface) this.link = l;
        debounced.report(l.up);
      }));
    }
    for (const s of c.track.services) this.tracked.set(trackKey('service', s.name), { kind: 'service', name: s.name, weight: s.weight, value: true });
    for (const s of c.track.scripts) {
      const runner = new TrackScriptRunner(s, this.clock, (up) => this.setTracked('script', s.name, up), this.deps.runScript);
      this.tracked.set(trackKey('script', s.name), { kind: 'script', name: s.name, weight: s.weight, value: true });
      this.scripts.push(runner);
      runner.start();
    }
    for (const f of c.track.files) {
      const watcher = new TrackFileWatcher(f.path, this.clock, (v) => this.setTracked('file', f.path, v), this.deps.trackFilePollMs);
      await watcher.start();
      this.tracked.set(trackKey('file', f.path), { kind: 'file', name: f.path, weight: f.weight, value: watcher.value });
      this.files.push(watcher);
    }
  }

  private stopTracking(): void {
    for (const u of this.unwatch) u();
    this.unwatch = [];
    for (const d of this.linkDebounce.values()) d.cancel();
    this.linkDebounce.clear();
    for (const s of this.scripts) s.stop();
    this.scripts = [];
    for (const f of this.files) f.stop();
    this.files = [];
  }

  private computePriority(): { priority: number; fault: boolean } {
    const result = effectivePriority(this.config.priority, [...this.tracked.values()]);
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

/**
 * Which advert-address mismatches are worth a log line: a signature not among the last
 * MEMORY logged, and no more than PER_WINDOW lines per WINDOW_MS. The counter counts them all.
 */
class MismatchLogLimit {
  static readonly MEMORY = 16;
  static readonly PER_WINDOW = 10;
  static readonly WINDOW_MS = 60_000;
  private readonly logged = new Map<string, true>();
  private lineTimes: number[] = [];

  shouldLog(signature: string, now: number): boolean {
    if (this.logged.has(signature)) {
      this.logged.delete(signature);
      this.logged.set(signature, true);
      return false;
    }
    this.lineTimes = this.lineTimes.filter((t) => now - t < MismatchLogLimit.WINDOW_MS);
    if (this.lineTimes.length >= MismatchLogLimit.PER_WINDOW) return false;
    this.lineTimes.push(now);
    this.logged.set(signature, true);
    if (this.logged.size > MismatchLogLimit.MEMORY) this.logged.delete(this.logged.keys().next().value!);
    return true;
  }

  clear(): void {
    this.logged.clear();
  }
}

/** A canonical, order-free key of an address list; an IPv6 link-local entry (fe80::/10) is a router's own, not a VIP, and is left out. */
function addressSetKey(addresses: string[]): string {
  return addresses.map((x) => ipToBytes(x).toString('hex')).filter((hex) => !(hex.length === 32 && /^fe[89ab]/.test(hex))).sort().join(',');
}

/** The interface a VIP entry goes on: its own, or the instance's. */
export function vipInterfaceOf(c: Pick<VrrpInstanceConfig, 'interface' | 'vipInterfaces'>, vip: string): string {
  return c.vipInterfaces?.[vip] ?? c.interface;
}

/** The interfaces other than the instance's that carry VIPs, sorted. */
export function otherVipInterfaces(c: Pick<VrrpInstanceConfig, 'interface' | 'vipInterfaces' | 'vips'>): string[] {
  return [...new Set(c.vips.map((v) => vipInterfaceOf(c, v)).filter((i) => i !== c.interface))].sort();
}

/** keepalived's default source: the interface's first IPv4 address that is not a VIP, or its IPv6 link-local. */
export function pickSourceAddress(link: LinkState, config: Pick<VrrpInstanceConfig, 'vips'>): string | undefined {
  const vips = new Set(config.vips.map((v) => canonicalIpOrSelf(splitPrefix(v).address)));
  const family = instanceFamily(config);
  const candidates = link.addresses.map((a) => canonicalIpOrSelf(a.address)).filter((a) => !vips.has(a));
  return family === 4 ? candidates.find((a) => a.includes('.')) : candidates.find((a) => /^fe[89ab][0-9a-f]:/.test(a));
}
