// The real VrrpIo: rtnetlink for links and addresses, raw IP sockets for
// adverts, AF_PACKET for announcements; all in one network namespace.
import { PacketAnnouncer } from './announcer.js';
import type { VrrpIo } from './ports.js';
import { RtnetlinkHost } from './rtnl-host.js';
import { openAdvertChannel } from './transport.js';

export interface SystemVrrpIo extends VrrpIo {
  close(): void;
}

export function systemVrrpIo(options: { netns?: string } = {}): SystemVrrpIo {
  const host = new RtnetlinkHost(options);
  return {
    host,
    openChannel: (o) => openAdvertChannel(o),
    openAnnouncer: (o) => new PacketAnnouncer(o),
    close: () => host.close(),
  };
}
