// The real Announcer: gratuitous ARP (IPv4) and unsolicited neighbour
// advertisements (IPv6) from the interface's MAC over AF_PACKET.
import { gratuitousArpFrame, PacketSender } from '../net/arp.js';
import { unsolicitedNeighborAdvertFrame } from '../net/ndisc.js';
import { isIPv6 } from 'node:net';
import type { Announcer, AnnouncerOptions } from './ports.js';

export class PacketAnnouncer implements Announcer {
  private readonly sender: PacketSender;
  private readonly frames = new Map<string, Buffer>();

  constructor(private readonly options: AnnouncerOptions) {
    this.sender = new PacketSender(options.interfaceIndex, options.netns ? { netns: options.netns } : {});
  }

  announce(addresses: string[]): void {
    for (const address of addresses) {
      let frame = this.frames.get(address);
      if (!frame) {
        frame = isIPv6(address) ? unsolicitedNeighborAdvertFrame(this.options.mac, address) : gratuitousArpFrame(this.options.mac, address);
        this.frames.set(address, frame);
      }
      this.sender.send(frame);
    }
  }

  close(): void {
    this.sender.close();
  }
}
