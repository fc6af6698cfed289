// VrrpHost over rtnetlink: reads the interface (index, MAC, state, addresses),
// watches its changes, and moves the virtual addresses.
import { RtNetlink, type AddressInfo, type LinkInfo, type RtnlSnapshot, type RtnlWatcher } from '../net/rtnetlink.js';
import type { NativeSocketFactory } from '../net/socket.js';
import type { InterfaceAddress, LinkState, VrrpHost } from './ports.js';

/** What happened to the netlink sockets under the host: for logs and metrics. */
export type HostSocketEvent = { kind: 'overrun'; error: Error } | { kind: 'resync'; links: number } | { kind: 'error'; error: Error };

export interface RtnetlinkHostOptions {
  netns?: string;
  /** The watching socket's receive buffer (bytes); the default is large. */
  watchReceiveBuffer?: number;
  onSocketEvent?: (event: HostSocketEvent) => void;
  /** Where the native sockets come from; tests pass a fake. */
  openNative?: NativeSocketFactory;
}

type Watch = { name: string; index?: number; onChange: (link: LinkState) => void; pending: boolean };

export class RtnetlinkHost implements VrrpHost {
  private readonly rtnl: RtNetlink;
  private watcher: RtnlWatcher | undefined;
  private readonly watchers = new Set<Watch>();
  /** Notifications lost to a full receive buffer, each followed by a resync. */
  overruns = 0;
  /** Resyncs applied: every watched link re-derived from a fresh dump. */
  resyncs = 0;
  /** Other receive errors on the watching socket. */
  socketErrors = 0;

  constructor(private readonly options: RtnetlinkHostOptions = {}) {
    const { netns, openNative } = options;
    this.rtnl = new RtNetlink({ ...(netns ? { netns } : {}), ...(openNative ? { openNative } : {}) });
  }

  async link(name: string): Promise<LinkState> {
    const info = await this.rtnl.getLink(name);
    this.indexes.set(name, info.index);
    const addresses = await this.rtnl.listAddresses({ ifindex: info.index });
    return toLinkState(info, addresses.map(toInterfaceAddress));
  }

  watchLink(name: string, onChange: (link: LinkState) => void): () => void {
    const entry: Watch = { name, onChange, pending: false };
    this.watchers.add(entry);
    if (!this.watcher) {
      const receiveBuffer = this.options.watchReceiveBuffer;
      this.watcher = this.rtnl.watch(receiveBuffer !== undefined ? { receiveBuffer } : {});
      this.watcher.on('change', (change) => {
        for (const w of this.watchers) {
          const relevant =
            change.kind === 'link' ? change.link.name === w.name || change.link.index === w.index : change.address.ifindex === w.index;
          if (relevant) this.refresh(w);
        }
      });
      // Lost notifications: the watcher re-lists, and every watched link is re-derived from that.
      this.watcher.on('overrun', (error) => {
        this.overruns++;
        this.options.onSocketEvent?.({ kind: 'overrun', error });
      });
      this.watcher.on('resync', (snapshot) => {
        this.resyncs++;
        this.options.onSocketEvent?.({ kind: 'resync', links: this.watchers.size });
        for (const w of this.watchers) this.apply(w, snapshot);
      });
      this.watcher.on('error', (error) => {
        this.socketErrors++;
        this.options.onSocketEvent?.({ kind: 'error', error });
        for (const w of this.watchers) this.refresh(w);
      });
    }
    void this.link(name).then(
      (l) => {
        entry.index = l.index;
      },
      () => undefined,
    );
    return () => {
      this.watchers.delete(entry);
      if (this.watchers.size === 0 && this.watcher) {
        this.watcher.close();
        this.watcher = undefined;
      }
    };
  }

  /**
   * The snapshot was requested after the overrun on the same socket as every
   * re-read, so it is newer than any re-read answered before it and older than
   * any answered after it: applying it in arrival order never goes back in time.
   */
  private apply(w: Watch, snapshot: RtnlSnapshot): void {
    const link = snapshot.links.find((l) => l.name === w.name);
    if (!link) {
      w.onChange({ name: w.name, index: w.index ?? 0, mac: Buffer.alloc(6), up: false, addresses: [] });
      return;
    }
    w.index = link.index;
    this.indexes.set(w.name, link.index);
    w.onChange(toLinkState(link, snapshot.addresses.filter((a) => a.ifindex === link.index).map(toInterfaceAddress)));
  }

  /** Coalesces a burst of notifications into one re-read. */
  private refresh(w: Watch): void {
    if (w.pending) return;
    w.pending = true;
    setImmediate(() => {
      w.pending = false;
      if (!this.watchers.has(w)) return;
      this.link(w.name).then(
        (link) => {
          w.index = link.index;
          w.onChange(link);
        },
        (err: { code?: string }) => {
          if (err.code === 'ENODEV') w.onChange({ name: w.name, index: w.index ?? 0, mac: Buffer.alloc(6), up: false, addresses: [] });
        },
      );
    });
  }

  /** Interface indexes by name: a failover must not wait for an extra round trip. */
  private readonly indexes = new Map<string, number>();

  private async indexOf(name: string): Promise<number> {
    const known = this.indexes.get(name);
    if (known !== undefined) return known;
    const link = await this.rtnl.getLink(name);
    this.indexes.set(name, link.index);
    return link.index;
  }

  /**
   * Runs an address operation, re-resolving the index once if the interface
   * was re-created. With the index known, the request is written before this
   * returns, and rtnetlink applies it inside that write: callers may announce
   * the address at once and await the promise only for the outcome.
   */
  private onInterface(name: string, op: (ifindex: number) => Promise<void>): Promise<void> {
    const known = this.indexes.get(name);
    const first = known !== undefined ? op(known) : this.indexOf(name).then(op);
    return first.catch(async (err: unknown) => {
      if ((err as { code?: string }).code !== 'ENODEV' || !this.indexes.delete(name)) throw err;
      await op(await this.indexOf(name));
    });
  }

  addAddress(interfaceName: string, address: InterfaceAddress): Promise<void> {
    return this.onInterface(interfaceName, async (ifindex) => {
      try {
        await this.rtnl.addAddress({
          ifindex,
          address: address.address,
          prefixLength: address.prefixLength,
          ...(address.label ? { label: address.label } : {}),
        });
      } catch (err) {
        if ((err as { code?: string }).code !== 'EEXIST') throw err;
      }
    });
  }

  removeAddress(interfaceName: string, address: InterfaceAddress): Promise<void> {
    return this.onInterface(interfaceName, async (ifindex) => {
      try {
        await this.rtnl.deleteAddress({ ifindex, address: address.address, prefixLength: address.prefixLength });
      } catch (err) {
        if ((err as { code?: string }).code !== 'EADDRNOTAVAIL') throw err;
      }
    });
  }

  close(): void {
    this.watcher?.close();
    this.watcher = undefined;
    this.watchers.clear();
    this.rtnl.close();
  }
}

function toInterfaceAddress(a: AddressInfo): InterfaceAddress {
  return { address: a.address, prefixLength: a.prefixLength, ...(a.label ? { label: a.label } : {}) };
}

function toLinkState(info: LinkInfo, addresses: InterfaceAddress[]): LinkState {
  const mac = info.mac ? Buffer.from(info.mac.replaceAll(':', ''), 'hex') : Buffer.alloc(6);
  return { name: info.name, index: info.index, mac, up: info.adminUp && info.lowerUp, addresses };
}
