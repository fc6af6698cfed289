// VrrpHost over rtnetlink: reads the interface (index, MAC, state, addresses),
// watches its changes, and moves the virtual addresses.
import { RtNetlink, type LinkInfo, type RtnlWatcher } from '../net/rtnetlink.js';
import type { InterfaceAddress, LinkState, VrrpHost } from './ports.js';

export class RtnetlinkHost implements VrrpHost {
  private readonly rtnl: RtNetlink;
  private watcher: RtnlWatcher | undefined;
  private readonly watchers = new Set<{ name: string; index?: number; onChange: (link: LinkState) => void; pending: boolean }>();

  constructor(options: { netns?: string } = {}) {
    this.rtnl = new RtNetlink(options.netns ? { netns: options.netns } : {});
  }

  async link(name: string): Promise<LinkState> {
    const info = await this.rtnl.getLink(name);
    this.indexes.set(name, info.index);
    const addresses = await this.rtnl.listAddresses({ ifindex: info.index });
    return toLinkState(info, addresses.map((a) => ({ address: a.address, prefixLength: a.prefixLength, ...(a.label ? { label: a.label } : {}) })));
  }

  watchLink(name: string, onChange: (link: LinkState) => void): () => void {
    const entry: { name: string; index?: number; onChange: (link: LinkState) => void; pending: boolean } = { name, onChange, pending: false };
    this.watchers.add(entry);
    if (!this.watcher) {
      this.watcher = this.rtnl.watch();
      this.watcher.on('change', (change) => {
        for (const w of this.watchers) {
          const relevant = change.kind === 'link' ? change.link.name === w.name || change.link.index === w.index : change.address.ifindex === w.index;
          if (relevant) this.refresh(w);
        }
      });
      // Lost notifications: re-read everything watched.
      this.watcher.on('overrun', () => { for (const w of this.watchers) this.refresh(w); });
      this.watcher.on('error', () => { for (const w of this.watchers) this.refresh(w); });
    }
    void this.link(name).then((l) => { entry.index = l.index; }, () => undefined);
    return () => {
      this.watchers.delete(entry);
      if (this.watchers.size === 0 && this.watcher) {
        this.watcher.close();
        this.watcher = undefined;
      }
    };
  }

  /** Coalesces a burst of notifications into one re-read. */
  private refresh(w: { name: string; index?: number; onChange: (link: LinkState) => void; pending: boolean }): void {
    if (w.pending) return;
    w.pending = true;
    setImmediate(() => {
      w.pending = false;
      if (!this.watchers.has(w)) return;
      this.link(w.name).then(
        (link) => { w.index = link.index; w.onChange(link); },
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
        await this.rtnl.addAddress({ ifindex, address: address.address, prefixLength: address.prefixLength, ...(address.label ? { label: address.label } : {}) });
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

function toLinkState(info: LinkInfo, addresses: InterfaceAddress[]): LinkState {
  const mac = info.mac ? Buffer.from(info.mac.replaceAll(':', ''), 'hex') : Buffer.alloc(6);
  return { name: info.name, index: info.index, mac, up: info.adminUp && info.lowerUp, addresses };
}
