// Issue 17, defect 4, the JS side: what the socket layers do with receive errors
// the addon reports, driven by a fake native socket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NativeDatagramSocket, ReceiveCallback } from '../../../src/net/native.js';
import { DatagramSocket, type NativeSocketFactory, type SocketError } from '../../../src/net/socket.js';
import { NetlinkSocket } from '../../../src/net/netlink-socket.js';
import { encodeMessage, NLMSG_DONE, NLMSG_ERROR, NLM_F_DUMP } from '../../../src/net/netlink.js';
import { sockaddrNetlink } from '../../../src/net/sockaddr.js';
import { AF_INET, MSG_TRUNC, NETLINK_ADD_MEMBERSHIP, NETLINK_ROUTE, SOCK_RAW, SOL_NETLINK } from '../../../src/net/constants.js';
import { RtnlWatcher, RTM_NEWLINK, type LinkInfo, type RtnlSnapshot } from '../../../src/net/rtnetlink.js';
import { RtnetlinkHost } from '../../../src/vrrp/rtnl-host.js';
import { openAdvertChannel } from '../../../src/vrrp/transport.js';
import type { AdvertChannel, LinkState } from '../../../src/vrrp/ports.js';

class FakeNative implements NativeDatagramSocket {
  fd = 100;
  closed = false;
  callback: ReceiveCallback | undefined;
  readonly sent: Buffer[] = [];
  readonly options: { level: number; name: number; value: Buffer }[] = [];
  constructor(
    readonly domain: number,
    readonly pid: number,
  ) {}
  bind(): void {}
  connect(): void {}
  send(data: Uint8Array): number {
    this.sent.push(Buffer.from(data));
    return data.byteLength;
  }
  setsockopt(level: number, name: number, value: Uint8Array): void {
    this.options.push({ level, name, value: Buffer.from(value) });
  }
  getsockopt(): Buffer {
    return Buffer.alloc(4);
  }
  getsockname(): Buffer {
    return sockaddrNetlink(this.pid, 0);
  }
  startReceiving(callback: ReceiveCallback): void {
    this.callback = callback;
  }
  stopReceiving(): void {
    this.callback = undefined;
  }
  close(): void {
    this.closed = true;
    this.callback = undefined;
  }
  setRef(): void {}

  /** What the addon reports for an error: a Node-style error, `fatal` after which it has stopped. */
  fail(code: string, fatal = false): void {
    const callback = this.callback;
    if (fatal) this.callback = undefined;
    const error = Object.assign(new Error(`recvmsg ${code}`), { code, syscall: 'recvmsg' });
    callback?.(fatal ? Object.assign(error, { fatal: true }) : error);
  }

  deliver(data: Buffer): void {
    this.callback?.(null, data, sockaddrNetlink(0, 0), [], 0);
  }

  /** The last request sent, as (type, flags, seq). */
  lastRequest(): { type: number; flags: number; seq: number } {
    const b = this.sent.at(-1)!;
    return { type: b.readUInt16LE(4), flags: b.readUInt16LE(6), seq: b.readUInt32LE(8) };
  }
}

function fakes(): { open: NativeSocketFactory; opened: FakeNative[] } {
  const opened: FakeNative[] = [];
  const open: NativeSocketFactory = (domain) => {
    const f = new FakeNative(domain, 1000 + opened.length);
    opened.push(f);
    return f;
  };
  return { opened, open };
}

const ack = (seq: number): Buffer => {
  const payload = Buffer.alloc(20);
  payload.writeUInt32LE(16, 4);
  payload.writeUInt32LE(seq, 12);
  return encodeMessage({ type: NLMSG_ERROR, flags: 0, seq, pid: 1000, payload });
};
const done = (seq: number): Buffer => encodeMessage({ type: NLMSG_DONE, flags: 0, seq, pid: 1000, payload: Buffer.alloc(4) });

test('a receive error with no "error" listener is counted, never thrown out of the receive callback', () => {
  const { open, opened } = fakes();
  const socket = new DatagramSocket(AF_INET, SOCK_RAW, 112, { openNative: open }).receive();
  assert.doesNotThrow(() => opened[0]!.fail('ECONNREFUSED'));
  assert.equal(socket.receiveErrors, 1);
  assert.equal(socket.lastError?.code, 'ECONNREFUSED');
  assert.equal(socket.receiving, true, 'a non-fatal error leaves the socket receiving');
  const errors: SocketError[] = [];
  socket.on('error', (e) => errors.push(e));
  opened[0]!.fail('EBADF', true);
  assert.equal(errors[0]?.fatal, true);
  assert.equal(socket.receiving, false, 'a fatal error is visible as a socket that stopped receiving');
});

test('a netlink request socket with no "error" listener survives errors; ENOBUFS is an overrun', () => {
  const { open, opened } = fakes();
  const socket = new NetlinkSocket(NETLINK_ROUTE, { openNative: open });
  assert.doesNotThrow(() => opened[0]!.fail('EPERM'));
  assert.doesNotThrow(() => opened[0]!.fail('ENOBUFS'));
  assert.equal(socket.errors, 2);
  assert.equal(socket.overruns, 1);
  // A datagram cut by the receive buffer that answers no request: counted, not thrown.
  const truncated = encodeMessage({ type: RTM_NEWLINK, flags: 0, seq: 0, pid: 0, payload: Buffer.alloc(16) });
  assert.doesNotThrow(() => opened[0]!.callback?.(null, truncated, sockaddrNetlink(0, 0), [], MSG_TRUNC));
  assert.equal(socket.malformed, 1);
  socket.close();
});

test('a fatal error rejects what the dead socket was waiting for, then reopens it with its multicast groups', async () => {
  const { open, opened } = fakes();
  const socket = new NetlinkSocket(NETLINK_ROUTE, { openNative: open });
  socket.subscribe(1);
  socket.subscribe(5);
  const overruns: Error[] = [];
  socket.on('overrun', (e) => overruns.push(e));
  const waiting = socket.request(RTM_NEWLINK, 0, Buffer.alloc(16), { operation: 'set link' });
  opened[0]!.fail('EBADF', true);
  await assert.rejects(waiting, (e: { code?: string; message: string }) => e.code === 'EBADF' && /outcome unknown/.test(e.message));
  assert.equal(opened.length, 2, 'a new socket was opened');
  assert.equal(opened[0]!.closed, true);
  assert.equal(socket.reopens, 1);
  const groups = opened[1]!.options
    .filter((o) => o.level === SOL_NETLINK && o.name === NETLINK_ADD_MEMBERSHIP)
    .map((o) => o.value.readInt32LE(0));
  assert.deepEqual(groups.sort(), [1, 5]);
  assert.equal(overruns.length, 1, 'subscribers hear that notifications may have been lost');
  assert.equal(socket.portId, 1001);
  // The new socket carries requests.
  const next = socket.request(RTM_NEWLINK, 0, Buffer.alloc(16));
  opened[1]!.deliver(ack(opened[1]!.lastRequest().seq));
  assert.deepEqual(await next, []);
  socket.close();
});

test('dumps on one socket run one after another (the kernel answers a second concurrent dump with EBUSY)', async () => {
  const { open, opened } = fakes();
  const socket = new NetlinkSocket(NETLINK_ROUTE, { openNative: open });
  const fake = opened[0]!;
  const first = socket.request(18, 0, Buffer.alloc(16), { dump: true });
  const second = socket.request(18, 0, Buffer.alloc(16), { dump: true });
  await new Promise((r) => setImmediate(r));
  assert.equal(fake.sent.length, 1, 'the second dump waits');
  assert.ok(fake.lastRequest().flags & NLM_F_DUMP);
  fake.deliver(done(fake.lastRequest().seq));
  await first;
  await new Promise((r) => setImmediate(r));
  assert.equal(fake.sent.length, 2);
  fake.deliver(done(fake.lastRequest().seq));
  await second;
  socket.close();
});

const link = (name: string, up: boolean): LinkInfo => ({
  index: 7,
  name,
  mac: '02:00:00:00:00:07',
  mtu: 1500,
  operState: up ? 'up' : 'down',
  flags: up ? 0x10041 : 0,
  adminUp: up,
  lowerUp: up,
});

test('after an overrun the watcher re-lists and emits resync; a failed re-list is retried', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { open, opened } = fakes();
  let calls = 0;
  const snapshot = async (): Promise<RtnlSnapshot> => {
    calls++;
    if (calls === 1) throw new Error('dump failed');
    return { links: [link('eth0', false)], addresses: [] };
  };
  const watcher = new RtnlWatcher({ openNative: open }, snapshot);
  const resyncs: RtnlSnapshot[] = [];
  watcher.on('resync', (s) => resyncs.push(s));
  opened[0]!.fail('ENOBUFS');
  for (let i = 0; i < 5; i++) await Promise.resolve();
  assert.equal(watcher.overruns, 1);
  assert.equal(watcher.resyncFailures, 1);
  assert.equal(resyncs.length, 0);
  t.mock.timers.tick(1000);
  for (let i = 0; i < 5; i++) await Promise.resolve();
  assert.equal(resyncs.length, 1);
  assert.equal(watcher.resyncs, 1);
  watcher.close();
});

test('the VRRP host re-derives a watched link from the resync: a link-down lost in the overrun is seen', async () => {
  const { open, opened } = fakes();
  const host = new RtnetlinkHost({ openNative: open });
  const states: LinkState[] = [];
  const unwatch = host.watchLink('eth0', (l) => states.push(l));
  // opened[0]: the request socket; opened[1]: the watcher.
  const requests = opened[0]!;
  const watcher = opened[1]!;
  await new Promise((r) => setImmediate(r));
  const answered = new Set<number>();
  const answer = (reply: (seq: number, type: number) => Buffer[]): void => {
    const { seq, type } = requests.lastRequest();
    if (answered.has(seq)) return;
    answered.add(seq);
    for (const b of reply(seq, type)) requests.deliver(b);
  };
  // The initial read of the link is not what this test is about: fail it.
  answer((seq) => [ack(seq)]);
  watcher.fail('ENOBUFS');
  // The resync: RTM_GETLINK dump → one link, down; then RTM_GETADDR dump → none.
  for (let i = 0; i < 20 && states.length === 0; i++) {
    await new Promise((r) => setImmediate(r));
    answer((seq, type) =>
      type === 18
        ? [encodeMessage({ type: RTM_NEWLINK, flags: 2, seq, pid: 1000, payload: linkPayload(7, 'eth0', false) }), done(seq)]
        : [done(seq)],
    );
  }
  assert.equal(host.overruns, 1);
  assert.equal(host.resyncs, 1);
  assert.equal(states.at(-1)?.up, false);
  assert.equal(states.at(-1)?.index, 7);
  unwatch();
  host.close();
});

function linkPayload(index: number, name: string, up: boolean): Buffer {
  const header = Buffer.alloc(16);
  header.writeInt32LE(index, 4);
  header.writeUInt32LE(up ? 0x10041 : 0, 8);
  const nameBytes = Buffer.from(`${name}\0`);
  const attr = Buffer.alloc(4 + Math.ceil(nameBytes.length / 4) * 4);
  attr.writeUInt16LE(4 + nameBytes.length, 0);
  attr.writeUInt16LE(3, 2); // IFLA_IFNAME
  nameBytes.copy(attr, 4);
  return Buffer.concat([header, attr]);
}

test('a VRRP channel whose receiving socket dies opens a new one and keeps receiving', () => {
  const { open, opened } = fakes();
  const options = { family: 4, interfaceName: 'eth0', interfaceIndex: 2, sourceAddress: '10.0.0.1', multicast: true } as const;
  const channel = openAdvertChannel(options, open) as AdvertChannel & { receiveErrors: number; reopens: number };
  assert.doesNotThrow(() => opened[0]!.fail('ECONNREFUSED'));
  assert.equal(channel.receiveErrors, 1);
  assert.equal(opened.length, 1, 'a transient error keeps the socket');
  opened[0]!.fail('EBADF', true);
  assert.equal(opened.length, 2, 'a fatal error replaces it');
  assert.equal(opened[0]!.closed, true);
  assert.ok(opened[1]!.callback, 'the new socket is receiving');
  assert.equal(channel.reopens, 1);
  channel.close();
  assert.equal(opened[1]!.closed, true);
});
