// The real VrrpIo: rtnetlink for links and addresses, raw IP sockets for
// adverts, AF_PACKET for announcements; all in one network namespace.
import { PacketAnnouncer } from './announcer.js';
import type { VrrpIo } from './ports.js';
import { RtnetlinkHost, type HostSocketEvent } from './rtnl-host.js';
import { systemScheduling } from './realtime.js';
import { openAdvertChannel } from './transport.js';
import { systemYoungGeneration } from './young-generation.js';

export interface SystemVrrpIo extends VrrpIo {
  host: RtnetlinkHost;
  close(): void;
}

export interface SystemVrrpIoOptions {
  netns?: string;
  /** Overruns (each followed by a resync) and errors of the link-watching socket: for logs and metrics. */
  onSocketEvent?: (event: HostSocketEvent) => void;
}

export function systemVrrpIo(options: SystemVrrpIoOptions = {}): SystemVrrpIo {
  const host = new RtnetlinkHost(options);
  const youngGeneration = systemYoungGeneration();
  return {
    host,
    openChannel: (o) => openAdvertChannel(o),
    openAnnouncer: (o) => new PacketAnnouncer(o),
    scheduling: systemScheduling(),
    ...(youngGeneration ? { youngGeneration } : {}),
    close: () => host.close(),
  };
}
