import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatagramSocket, type Datagram } from '../../../src/net/socket.js';
import {
  AF_INET,
  AF_INET6,
  AF_NETLINK,
  AF_PACKET,
  AF_UNIX,
  ETH_P_ALL,
  IPPROTO_VRRP,
  NETLINK_ROUTE,
  SOCK_DGRAM,
  SOCK_RAW,
} from '../../../src/net/constants.js';
import { decodeSockaddr, sockaddrIn, sockaddrUnix } from '../../../src/net/sockaddr.js';
import { Netns } from '../../helpers/netns.js';
import { waitFor } from '../../helpers/wait.js';

const ns = Netns.create('fo-sock');
const scratch = mkdtempSync(join(tmpdir(), 'failoverd-sock-'));
after(() => {
  ns.delete();
  rmSync(scratch, { recursive: true, force: true });
});

const openFds = (): number => readdirSync('/proc/self/fd').length;
const htons = (v: number): number => ((v & 0xff) << 8) | ((v >> 8) & 0xff);

const DOMAINS: { name: string; domain: number; type: number; protocol: number; count?: number }[] = [
  { name: 'AF_NETLINK', domain: AF_NETLINK, type: SOCK_RAW, protocol: NETLINK_ROUTE },
  { name: 'AF_INET raw', domain: AF_INET, type: SOCK_RAW, protocol: IPPROTO_VRRP },
  { name: 'AF_INET6 raw', domain: AF_INET6, type: SOCK_RAW, protocol: IPPROTO_VRRP },
  { name: 'AF_PACKET', domain: AF_PACKET, type: SOCK_DGRAM, protocol: 0 },
  { name: 'AF_UNIX dgram', domain: AF_UNIX, type: SOCK_DGRAM, protocol: 0 },
  // The kernel's packet_release waits an RCU grace period (~12 ms on the host
  // kernel) per packet socket, so the 10,000 above take about two minutes; the
  // SOCK_RAW variant with a receive hook (what GARP uses) is covered by fewer.
  { name: 'AF_PACKET raw ETH_P_ALL', domain: AF_PACKET, type: SOCK_RAW, protocol: htons(ETH_P_ALL), count: 300 },
];

for (const d of DOMAINS) {
  const count = d.count ?? 10_000;
  test(`${count.toLocaleString('en')} ${d.name} sockets opened and closed (half with a receive pending) leave no fd behind`, () => {
    const before = openFds();
    for (let i = 0; i < count; i++) {
      const socket = new DatagramSocket(d.domain, d.type, d.protocol, { netns: ns.path });
      if (i % 2 === 0) socket.receive();
      socket.close();
      socket.close();
    }
    assert.equal(openFds(), before);
  });
}

test('closing while a receive is pending, and closing inside the message handler, does not crash', async () => {
  const path = join(scratch, 'close-in-handler.sock');
  const receiver = new DatagramSocket(AF_UNIX, SOCK_DGRAM, 0).bind(sockaddrUnix(path));
  const sender = new DatagramSocket(AF_UNIX, SOCK_DGRAM, 0);
  let delivered = 0;
  receiver.on('message', () => {
    delivered++;
    receiver.close();
  });
  receiver.receive();
  for (let i = 0; i < 10; i++) sender.send(Buffer.from(`m${i}`), sockaddrUnix(path));
  await waitFor(() => delivered > 0, { what: 'first datagram' });
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(delivered, 1, 'no delivery after close inside the handler');
  assert.equal(receiver.closed, true);
  sender.close();
  assert.throws(
    () => receiver.send(Buffer.from('x')),
    (e: { code?: string }) => e.code === 'EBADF',
  );
});

test('datagrams arrive with the sender address; raw IPv4 delivers the IP header', async () => {
  const pathA = join(scratch, 'a.sock');
  const pathB = join(scratch, 'b.sock');
  const a = new DatagramSocket(AF_UNIX, SOCK_DGRAM, 0).bind(sockaddrUnix(pathA));
  const b = new DatagramSocket(AF_UNIX, SOCK_DGRAM, 0).bind(sockaddrUnix(pathB));
  const got: Datagram[] = [];
  a.on('message', (m) => got.push(m)).receive();
  b.send(Buffer.from('hello'), sockaddrUnix(pathA));
  await waitFor(() => got.length === 1, { what: 'unix datagram' });
  assert.equal(got[0]!.data.toString(), 'hello');
  assert.deepEqual(decodeSockaddr(got[0]!.from), { family: 'unix', path: pathB });
  a.close();
  b.close();

  const raw = new DatagramSocket(AF_INET, SOCK_RAW, IPPROTO_VRRP, { netns: ns.path });
  const rawGot: Datagram[] = [];
  raw.on('message', (m) => rawGot.push(m)).receive();
  raw.send(Buffer.from('vrrp-payload'), sockaddrIn('127.0.0.1'));
  await waitFor(() => rawGot.length >= 1, { what: 'raw IPv4 datagram' });
  const packet = rawGot[0]!.data;
  assert.equal(packet[0]! >> 4, 4, 'IPv4 header first');
  assert.equal(packet[9], IPPROTO_VRRP);
  assert.equal(packet.subarray((packet[0]! & 0x0f) * 4).toString(), 'vrrp-payload');
  assert.deepEqual(decodeSockaddr(rawGot[0]!.from), { family: 'inet', address: '127.0.0.1', port: 0 });
  raw.close();
});

test('system errors surface as Node-style errors with code, errno and syscall', () => {
  assert.throws(
    () => new DatagramSocket(12345, SOCK_DGRAM, 0),
    (e: { code?: string; errno?: number; syscall?: string }) => e.code === 'EAFNOSUPPORT' && e.errno === -97 && e.syscall === 'socket',
  );
  const path = join(scratch, 'taken.sock');
  const first = new DatagramSocket(AF_UNIX, SOCK_DGRAM, 0).bind(sockaddrUnix(path));
  const second = new DatagramSocket(AF_UNIX, SOCK_DGRAM, 0);
  assert.throws(
    () => second.bind(sockaddrUnix(path)),
    (e: { code?: string }) => e.code === 'EADDRINUSE',
  );
  assert.throws(
    () => new DatagramSocket(AF_INET, SOCK_RAW, IPPROTO_VRRP, { netns: '/run/netns/does-not-exist' }),
    (e: { code?: string }) => e.code === 'ENOENT',
  );
  first.close();
  second.close();
});
