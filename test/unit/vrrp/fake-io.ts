// In-memory twins of the VRRP ports: a shared segment carrying adverts between
// channels (delivered through the fake clock), hosts with links and addresses.
import type { Clock } from '../../../src/clock.js';
import type { ReceivedPacket } from '../../../src/vrrp/accept.js';
import type {
  AdvertChannel,
  AdvertChannelOptions,
  Announcer,
  AnnouncerOptions,
  InterfaceAddress,
  LinkState,
  VrrpHost,
  VrrpIo,
} from '../../../src/vrrp/ports.js';

export interface WireRecord {
  at: number;
  from: string;
  payload: Buffer;
  destination: string;
}

export class FakeSegment {
  readonly channels = new Set<FakeChannel>();
  readonly wire: WireRecord[] = [];
  readonly announcements: { at: number; mac: string; addresses: string[] }[] = [];
  constructor(readonly clock: Clock) {}
}

export class FakeChannel implements AdvertChannel {
  private handlers: ((p: ReceivedPacket) => void)[] = [];
  /** A crashed router: sends nothing, hears nothing. */
  dead = false;
  constructor(
    private readonly segment: FakeSegment,
    readonly options: AdvertChannelOptions,
  ) {
    segment.channels.add(this);
  }
  get sourceAddress(): string {
    return this.options.sourceAddress;
  }
  send(payload: Buffer, destination: string): void {
    if (this.dead) return;
    const copy = Buffer.from(payload);
    this.segment.wire.push({ at: this.segment.clock.now(), from: this.sourceAddress, payload: copy, destination });
    for (const other of this.segment.channels) {
      if (other === this || other.dead) continue;
      if (!destination.startsWith('224.') && !destination.startsWith('ff02:') && destination !== other.sourceAddress) continue;
      this.segment.clock.setTimer(0, () => other.deliver({ payload: copy, source: this.sourceAddress, destination, ttl: 255 }));
    }
  }
  deliver(p: ReceivedPacket): void {
    if (!this.dead) for (const h of this.handlers) h(p);
  }
  onPacket(handler: (p: ReceivedPacket) => void): void {
    this.handlers.push(handler);
  }
  onDrop(): void {
    /* the fake wire carries no malformed IP */
  }
  close(): void {
    this.segment.channels.delete(this);
  }
}

export class FakeHost implements VrrpHost {
  readonly links = new Map<string, LinkState>();
  private watchers = new Map<string, Set<(l: LinkState) => void>>();
  readonly ops: string[] = [];

  addLink(name: string, index: number, mac: string, addresses: InterfaceAddress[]): void {
    this.links.set(name, { name, index, mac: Buffer.from(mac.replaceAll(':', ''), 'hex'), up: true, addresses });
  }
  async link(name: string): Promise<LinkState> {
    const l = this.links.get(name);
    if (!l) throw Object.assign(new Error(`no link ${name}`), { code: 'ENODEV' });
    return copyLink(l);
  }
  watchLink(name: string, onChange: (link: LinkState) => void): () => void {
    const set = this.watchers.get(name) ?? new Set();
    set.add(onChange);
    this.watchers.set(name, set);
    return () => set.delete(onChange);
  }
  setUp(name: string, up: boolean): void {
    const l = this.links.get(name)!;
    l.up = up;
    for (const w of this.watchers.get(name) ?? []) w(copyLink(l));
  }
  async addAddress(name: string, a: InterfaceAddress): Promise<void> {
    const l = this.links.get(name)!;
    this.ops.push(`add ${a.address}/${a.prefixLength}${a.label ? ` ${a.label}` : ''}`);
    if (!l.addresses.some((x) => x.address === a.address)) l.addresses.push(a);
  }
  async removeAddress(name: string, a: InterfaceAddress): Promise<void> {
    const l = this.links.get(name)!;
    if (l.addresses.some((x) => x.address === a.address)) this.ops.push(`remove ${a.address}/${a.prefixLength}`);
    l.addresses = l.addresses.filter((x) => x.address !== a.address);
  }
  has(name: string, address: string): boolean {
    return this.links.get(name)!.addresses.some((a) => a.address === address);
  }
}

export function fakeIo(segment: FakeSegment, host: FakeHost): VrrpIo & { channels: FakeChannel[] } {
  const channels: FakeChannel[] = [];
  return {
    host,
    channels,
    openChannel(o: AdvertChannelOptions): AdvertChannel {
      const c = new FakeChannel(segment, o);
      channels.push(c);
      return c;
    },
    openAnnouncer(o: AnnouncerOptions): Announcer {
      return {
        announce: (addresses) => {
          segment.announcements.push({ at: segment.clock.now(), mac: o.mac.toString('hex'), addresses });
        },
        close: () => undefined,
      };
    },
  };
}

function copyLink(l: LinkState): LinkState {
  return { ...l, mac: Buffer.from(l.mac), addresses: l.addresses.map((a) => ({ ...a })) };
}
