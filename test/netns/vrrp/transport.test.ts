// The raw-socket advert channel on a real kernel: TTL/hop limit, source and
// destination reach the receiver; our own multicast does not come back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canRunNetns, Lab } from './lab.js';
import { openAdvertChannel } from '../../../src/vrrp/transport.js';
import { encodeAdvert } from '../../../src/vrrp/packet.js';
import { RtnetlinkHost } from '../../../src/vrrp/rtnl-host.js';
import { DatagramSocket } from '../../../src/net/socket.js';
import { AF_INET, IPPROTO_IP, IP_MULTICAST_TTL, SOCK_RAW, SOL_SOCKET, SO_BINDTODEVICE } from '../../../src/net/constants.js';
import { sockaddrIn } from '../../../src/net/sockaddr.js';
import type { ReceivedPacket } from '../../../src/vrrp/accept.js';
import type { AdvertChannel } from '../../../src/vrrp/ports.js';
import { waitFor } from '../../helpers/wait.js';

const skip = canRunNetns();

/** Waits (bounded; the assertions that follow say what is missing) for `count` packets. */
async function next(received: ReceivedPacket[], count: number): Promise<void> {
  await waitFor(() => received.length >= count, { what: `${count} packets`, timeoutMs: 10_000, stepMs: 5 }).catch(() => undefined);
}

/** Nodes a (192.0.2.1) and b (192.0.2.2) on one segment; advert channels opened on either; `close` ends them all. */
function channelLab(name: string) {
  const lab = new Lab(name);
  const channels: AdvertChannel[] = [];
  const hosts: RtnetlinkHost[] = [];
  lab.setup([
    { name: 'a', ipv4: '192.0.2.1' },
    { name: 'b', ipv4: '192.0.2.2' },
  ]);
  const netns = (n: string): string => `/run/netns/${lab.node(n).ns}`;
  const link = async (n: string) => {
    const host = new RtnetlinkHost({ netns: netns(n) });
    hosts.push(host);
    return host.link('eth0');
  };
  const open = async (n: string, family: 4 | 6): Promise<AdvertChannel> => {
    const l = await link(n);
    const source =
      family === 4
        ? l.addresses.find((x) => x.address.includes('.'))!.address
        : l.addresses.find((x) => x.address.startsWith('fe80:'))!.address;
    const c = openAdvertChannel({
      family,
      interfaceName: 'eth0',
      interfaceIndex: l.index,
      sourceAddress: source,
      multicast: true,
      netns: netns(n),
    });
    channels.push(c);
    return c;
  };
  const close = async (): Promise<void> => {
    for (const c of channels) c.close();
    for (const h of hosts) h.close();
    await lab.cleanup();
  };
  return { lab, netns, link, open, close };
}

test(
  'IPv4 and IPv6 channels: TTL 255, addresses and ancillary data on a real kernel; no echo of our own packets',
  { skip, timeout: 30_000 },
  async () => {
    const rig = channelLab('t');
    try {
      const la = await rig.link('a');
      assert.deepEqual(la.mac, Buffer.from(rig.lab.node('a').mac.replaceAll(':', ''), 'hex'));
      assert.equal(la.up, true);
      const channels: AdvertChannel[] = [];
      for (const family of [4, 6] as const) {
        const a = await rig.open('a', family);
        const b = await rig.open('b', family);
        channels.push(a, b);
        const atA: ReceivedPacket[] = [],
          atB: ReceivedPacket[] = [];
        a.onPacket((p) => atA.push(p));
        b.onPacket((p) => atB.push(p));
        const group = family === 4 ? '224.0.0.18' : 'ff02::12';
        const payload = encodeAdvert(
          { version: 3, vrid: 9, priority: 100, intervalCs: 100, addresses: [family === 4 ? '192.0.2.195' : '2001:db8::195'] },
          { family, source: a.sourceAddress, destination: group },
        );
        a.send(payload, group);
        await next(atB, 1);
        assert.equal(atB.length, 1, `IPv${family}: b received the advert`);
        assert.deepEqual(Buffer.from(atB[0]!.payload), payload);
        assert.equal(atB[0]!.source, a.sourceAddress);
        assert.equal(atB[0]!.destination, group);
        assert.equal(atB[0]!.ttl, 255);
        await new Promise((r) => setTimeout(r, 50));
        assert.equal(atA.length, 0, `IPv${family}: no echo of our own multicast`);
      }
      // A VRRP packet sent with TTL 1 reaches the channel with TTL 1 (for acceptAdvert to drop).
      const atB4: ReceivedPacket[] = [];
      channels[1]!.onPacket((p) => atB4.push(p));
      const raw = new DatagramSocket(AF_INET, SOCK_RAW, 112, { netns: rig.netns('a') });
      try {
        raw.setOption(SOL_SOCKET, SO_BINDTODEVICE, Buffer.from('eth0\0'));
        raw.setOption(IPPROTO_IP, IP_MULTICAST_TTL, 1);
        raw.send(
          encodeAdvert(
            { version: 3, vrid: 9, priority: 1, intervalCs: 100, addresses: ['192.0.2.195'] },
            { family: 4, source: '192.0.2.1', destination: '224.0.0.18' },
          ),
          sockaddrIn('224.0.0.18'),
        );
        await next(atB4, 1);
        assert.equal(atB4[0]?.ttl, 1);
      } finally {
        raw.close();
      }
    } finally {
      await rig.close();
    }
  },
);

test(
  'an advert read late carries its age from the kernel receive stamp (SO_TIMESTAMPNS), IPv4 and IPv6',
  { skip, timeout: 30_000 },
  async () => {
    const rig = channelLab('ts');
    try {
      for (const family of [4, 6] as const) {
        const a = await rig.open('a', family);
        const b = await rig.open('b', family);
        const atB: ReceivedPacket[] = [];
        b.onPacket((p) => atB.push(p));
        const group = family === 4 ? '224.0.0.18' : 'ff02::12';
        const payload = encodeAdvert(
          { version: 3, vrid: 9, priority: 100, intervalCs: 100, addresses: [family === 4 ? '192.0.2.195' : '2001:db8::195'] },
          { family, source: a.sourceAddress, destination: group },
        );
        // The first socket on a host to ask for stamps has the kernel turn them on from a work
        // queue, a moment later; a datagram that comes before that is stamped when it is read.
        // One advert read as it comes lets that happen before the one that is measured.
        a.send(payload, group);
        await next(atB, 1);
        assert.equal(atB.length, 1, `IPv${family}: b received the first advert`);
        await new Promise((r) => setTimeout(r, 20));
        // The same process reads the second: its event loop sleeps 40 ms after the send, leaving
        // the CPU to the kernel.
        const blockMs = 40;
        a.send(payload, group);
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, blockMs);
        await next(atB, 2);
        assert.equal(atB.length, 2, `IPv${family}: b received the second advert`);
        const age = atB[1]!.ageMs;
        assert.ok(
          typeof age === 'number' && age >= blockMs - 1 && age < blockMs + 1000,
          `IPv${family}: age ${age} ms after a ${blockMs} ms hold`,
        );
      }
    } finally {
      await rig.close();
    }
  },
);
