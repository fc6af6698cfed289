// Issue 17, defect 4: a socket error must not silence the socket. libuv stops the
// poll on POLLERR; the addon must read the real error, clear it and keep receiving.
// Traffic stays on the loopback of a namespace created here.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { DatagramSocket, type Datagram, type SocketError } from '../../../src/net/socket.js';
import { AF_INET, IPPROTO_IP, SOCK_DGRAM } from '../../../src/net/constants.js';
import { sockaddrIn } from '../../../src/net/sockaddr.js';
import { RtNetlink } from '../../../src/net/rtnetlink.js';
import { RtnetlinkHost } from '../../../src/vrrp/rtnl-host.js';
import type { LinkState } from '../../../src/vrrp/ports.js';
import { Netns, vethPair } from '../../helpers/netns.js';
import { waitFor } from '../../helpers/wait.js';

const ns = Netns.create('fo-sockerr');
after(() => ns.delete());

const IPPROTO_UDP = 17;
const IP_RECVERR = 11;

function udp(port: number): DatagramSocket {
  return new DatagramSocket(AF_INET, SOCK_DGRAM, IPPROTO_UDP, { netns: ns.path }).bind(sockaddrIn('127.0.0.1', port));
}

/** The socket under test gets an ICMP port unreachable, then a datagram from `peerPort`. */
async function errorThenDatagram(
  socket: DatagramSocket,
  peerPort: number,
  sendBadly: () => void,
): Promise<{ errors: SocketError[]; got: Datagram[] }> {
  const errors: SocketError[] = [];
  const got: Datagram[] = [];
  socket.on('message', (m) => got.push(m)).receive();
  socket.on('error', (e) => errors.push(e));
  sendBadly();
  await waitFor(() => errors.length > 0, { what: 'the ICMP error to be reported' });
  const peer = udp(peerPort);
  try {
    for (let i = 0; i < 20 && got.length === 0; i++) {
      peer.send(Buffer.from(`after-error-${i}`), socket.localAddress());
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    peer.close();
  }
  return { errors, got };
}

test('a connected socket whose peer is unreachable reports ECONNREFUSED (not EBADF) and still delivers afterwards', async () => {
  const socket = udp(47101).connect(sockaddrIn('127.0.0.1', 47102));
  try {
    const { errors, got } = await errorThenDatagram(socket, 47102, () => socket.send(Buffer.from('to nobody')));
    assert.equal(errors.length, 1);
    assert.equal(errors[0]!.code, 'ECONNREFUSED');
    assert.equal(errors[0]!.errno, -111);
    assert.notEqual(errors[0]!.fatal, true);
    assert.ok(got.length >= 1, 'the same socket delivered a datagram after the error');
    assert.match(got[0]!.data.toString(), /^after-error-/);
    assert.equal(socket.receiving, true);
  } finally {
    socket.close();
  }
});

test('with IP_RECVERR the error queue is drained: the real errno is reported once and the socket keeps receiving', async () => {
  const socket = udp(47111);
  socket.setOption(IPPROTO_IP, IP_RECVERR, 1);
  try {
    const sendToNobody = (): void => {
      socket.send(Buffer.from('to nobody'), sockaddrIn('127.0.0.1', 47113));
    };
    const { errors, got } = await errorThenDatagram(socket, 47112, sendToNobody);
    assert.equal(errors[0]?.code, 'ECONNREFUSED');
    assert.ok(got.length >= 1, 'the same socket delivered a datagram after the error');
    // A drained queue does not raise POLLERR again: no stream of repeated reports.
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(socket.receiveErrors, 1);
  } finally {
    socket.close();
  }
});

test('a socket error with no "error" listener is counted, not thrown out of the native callback', async () => {
  const socket = udp(47121).connect(sockaddrIn('127.0.0.1', 47122));
  const uncaught: unknown[] = [];
  const onUncaught = (err: unknown): void => {
    uncaught.push(err);
  };
  process.prependListener('uncaughtException', onUncaught);
  try {
    const got: Datagram[] = [];
    socket.on('message', (m) => got.push(m)).receive();
    socket.send(Buffer.from('to nobody'));
    await waitFor(() => socket.receiveErrors > 0 || uncaught.length > 0, { what: 'the ICMP error to be counted' });
    const peer = udp(47122);
    for (let i = 0; i < 20 && got.length === 0; i++) {
      peer.send(Buffer.from('later'), socket.localAddress());
      await new Promise((r) => setTimeout(r, 50));
    }
    peer.close();
    assert.equal(uncaught.length, 0, `nothing escaped: ${String(uncaught[0])}`);
    assert.equal(socket.lastError?.code, 'ECONNREFUSED');
    assert.ok(got.length >= 1);
  } finally {
    process.off('uncaughtException', onUncaught);
    socket.close();
  }
});

test('a netlink overrun is reported as ENOBUFS, the watcher re-lists, and a later link-down is still seen', async () => {
  vethPair({ ns, name: 'flood0' }, { ns, name: 'flood1' });
  const host = new RtnetlinkHost({ netns: ns.path, watchReceiveBuffer: 4096 });
  const states: LinkState[] = [];
  const unwatch = host.watchLink('flood0', (l) => states.push(l));
  const rtnl = new RtNetlink({ netns: ns.path, receiveBuffer: 4096 });
  const watcher = rtnl.watch();
  const socketErrors: SocketError[] = [];
  watcher.on('overrun', (e: SocketError) => socketErrors.push(e));
  watcher.on('error', (e: SocketError) => socketErrors.push(e));
  let linkDownSeen = false;
  watcher.on('change', (c) => {
    if (c.kind === 'link' && c.link.name === 'flood0' && !c.link.adminUp) linkDownSeen = true;
  });
  try {
    await waitFor(async () => (await host.link('flood0')).up, { what: 'flood0 up' });
    // 2,000 address notifications while this thread is blocked in execFileSync:
    // nobody reads the 4 KiB receive buffers, so they overrun.
    const lines: string[] = [];
    const address = (i: number): string => `10.77.${i >> 8}.${i & 0xff}/32`;
    for (let i = 1; i <= 1000; i++) lines.push(`addr add ${address(i)} dev flood0`);
    for (let i = 1; i <= 1000; i++) lines.push(`addr del ${address(i)} dev flood0`);
    ns.exec('ip', ['-batch', '-'], { input: `${lines.join('\n')}\n` });
    await waitFor(() => socketErrors.length > 0, { what: 'the overrun to be reported' });
    assert.equal(socketErrors[0]!.code, 'ENOBUFS', `the real errno: ${socketErrors[0]!.message}`);

    ns.ip('link', 'set', 'flood0', 'down');
    await waitFor(() => linkDownSeen, { what: 'the watcher to see flood0 go down after the overrun', timeoutMs: 10_000 });
    await waitFor(() => states.some((l) => !l.up), { what: 'the host to see flood0 go down after the overrun', timeoutMs: 10_000 });
    assert.equal(states.at(-1)?.up, false);
    assert.ok(watcher.resyncs >= 1, 'the watcher re-listed links and addresses');
    const counts = `${host.overruns} overruns, ${host.resyncs} resyncs`;
    assert.ok(host.overruns >= 1 && host.resyncs >= 1, `the host resynchronised (${counts})`);
  } finally {
    unwatch();
    watcher.close();
    rtnl.close();
    host.close();
  }
});
