// Gratuitous ARP / unsolicited NA for a master's VIPs: a burst on becoming master
// (count announcements interval apart), a second burst garp.delay later, a refresh
// every garp.refresh while master; on every interface that carries a VIP.
import type { Clock, TimerHandle } from '../clock.js';
import type { VrrpInstanceConfig } from './config.js';
import type { Announcer, LinkState, VrrpIo } from './ports.js';
import { otherVipInterfaces, vipAddressesByInterface } from './vip-placement.js';

export interface AnnouncementsDeps {
  io: VrrpIo;
  clock: Clock;
  netns?: string | undefined;
  /** The instance's config as it is now (a reload changes it under a running burst). */
  config: () => VrrpInstanceConfig;
  /** Announcements go out only while this holds. */
  isMaster: () => boolean;
  onSent: (addresses: number) => void;
  onSendError: (err: unknown, iface: string) => void;
}

export class Announcements {
  private announcer: Announcer | undefined;
  /** Announcers of the other interfaces VIPs live on, by interface name. */
  private readonly vipAnnouncers = new Map<string, Announcer>();
  /** The pending announcements of the burst under way; each leaves the set when it fires (at most garp.count - 1). */
  private readonly burstTimers = new Set<TimerHandle>();
  private refreshTimer: TimerHandle | undefined;
  private delayedBurstTimer: TimerHandle | undefined;

  constructor(private readonly deps: AnnouncementsDeps) {}

  /** Opens the announcers of the instance's interface and of every other interface its VIPs go on. */
  async open(link: LinkState): Promise<void> {
    this.announcer = this.deps.io.openAnnouncer({ interfaceIndex: link.index, mac: link.mac, ...this.netnsOption() });
    await this.openVipAnnouncers(this.deps.config());
  }

  /** Opens an announcer for each other interface `config` puts VIPs on, and closes those no longer used. */
  async openVipAnnouncers(config: VrrpInstanceConfig): Promise<void> {
    const wanted = otherVipInterfaces(config);
    // New ones first: if an interface is missing, the running config keeps what it uses.
    for (const name of wanted.filter((n) => !this.vipAnnouncers.has(n))) {
      const link = await this.deps.io.host.link(name);
      this.vipAnnouncers.set(name, this.deps.io.openAnnouncer({ interfaceIndex: link.index, mac: link.mac, ...this.netnsOption() }));
    }
    for (const [name, announcer] of this.vipAnnouncers) {
      if (!wanted.includes(name)) {
        announcer.close();
        this.vipAnnouncers.delete(name);
      }
    }
  }

  close(): void {
    this.announcer?.close();
    this.announcer = undefined;
    for (const a of this.vipAnnouncers.values()) a.close();
    this.vipAnnouncers.clear();
  }

  /** One burst: `count` announcements `interval` apart. A burst still under way is replaced, not added to. */
  burst(): void {
    if (!this.deps.isMaster() || !this.announcer) return;
    const config = this.deps.config();
    const { count, intervalMs } = config.garp;
    const byInterface = vipAddressesByInterface(config);
    const once = (): void => {
      if (!this.deps.isMaster() || !this.announcer) return;
      for (const [iface, addresses] of byInterface) {
        const announcer = iface === this.deps.config().interface ? this.announcer : this.vipAnnouncers.get(iface);
        if (!announcer) continue;
        try {
          announcer.announce(addresses);
          this.deps.onSent(addresses.length);
        } catch (err) {
          this.deps.onSendError(err, iface);
        }
      }
    };
    if (count <= 0) return;
    this.cancelBurst();
    once();
    for (let i = 1; i < count; i++) {
      const timer = this.deps.clock.setTimer(i * intervalMs, () => {
        this.burstTimers.delete(timer);
        once();
      });
      this.burstTimers.add(timer);
    }
  }

  /** (Re)starts the refresh: a burst every garp.refresh while master. */
  scheduleRefresh(): void {
    this.refreshTimer?.cancel();
    this.refreshTimer = undefined;
    const { refreshMs } = this.deps.config().garp;
    if (refreshMs <= 0) return;
    this.refreshTimer = this.deps.clock.setTimer(refreshMs, () => {
      this.refreshTimer = undefined;
      if (!this.deps.isMaster()) return;
      this.burst();
      this.scheduleRefresh();
    });
  }

  /** The second burst, garp.delay after becoming master. */
  scheduleDelayedBurst(): void {
    this.delayedBurstTimer?.cancel();
    this.delayedBurstTimer = undefined;
    const { delayMs } = this.deps.config().garp;
    if (delayMs <= 0) return;
    this.delayedBurstTimer = this.deps.clock.setTimer(delayMs, () => {
      this.delayedBurstTimer = undefined;
      this.burst();
    });
  }

  /** Cancels every pending announcement: the burst under way, the refresh and the delayed burst. */
  stop(): void {
    this.cancelBurst();
    this.refreshTimer?.cancel();
    this.refreshTimer = undefined;
    this.delayedBurstTimer?.cancel();
    this.delayedBurstTimer = undefined;
  }

  private cancelBurst(): void {
    for (const t of this.burstTimers) t.cancel();
    this.burstTimers.clear();
  }

  private netnsOption(): { netns?: string } {
    return this.deps.netns ? { netns: this.deps.netns } : {};
  }
}
