import { EventEmitter } from 'node:events';
import { native, type AncillaryData, type NativeDatagramSocket } from './native.js';
import { MSG_TRUNC } from './constants.js';

export interface Datagram {
  data: Buffer;
  /** The sender's raw sockaddr (decode with decodeSockaddr). */
  from: Buffer;
  ancillary: AncillaryData[];
  truncated: boolean;
  /** How long before it was read the kernel received it, in ms: 0 unless the socket asked for SO_TIMESTAMPNS. */
  ageMs: number;
}

/**
 * A receive error as the addon reports it: the real errno, and `fatal` (once) when
 * the socket has stopped receiving for good.
 */
export type SocketError = Error & { code?: string; errno?: number; syscall?: string; fatal?: boolean };

export type NativeSocketFactory = (domain: number, type: number, protocol: number, netns?: string) => NativeDatagramSocket;

export interface DatagramSocketOptions {
  /** Open the socket inside this network namespace (e.g. /run/netns/NAME). */
  netns?: string;
  /** Where the native socket comes from; tests pass a fake. */
  openNative?: NativeSocketFactory;
}

const openNativeSocket: NativeSocketFactory = (domain, type, protocol, netns) => {
  const Native = native().DatagramSocket;
  return netns ? new Native(domain, type, protocol, netns) : new Native(domain, type, protocol);
};

export function isFatalSocketError(err: Error): boolean {
  return (err as SocketError).fatal === true;
}

/**
 * A datagram socket of any (domain, type, protocol): AF_NETLINK, raw IP,
 * AF_PACKET, AF_UNIX datagrams. Emits "message" (Datagram) and "error"
 * (SocketError). A receive error never throws out of the receive callback, even
 * with no "error" listener: it is counted, and after a non-fatal error the socket
 * keeps delivering. After a fatal one (`fatal: true`) it has stopped receiving.
 */
export class DatagramSocket extends EventEmitter<{ message: [Datagram]; error: [SocketError] }> {
  private readonly handle: NativeDatagramSocket;
  private isClosed = false;
  private isReceiving = false;
  /** Receive errors reported by the kernel, fatal or not, listened to or not. */
  receiveErrors = 0;
  lastError: SocketError | undefined;

  constructor(
    readonly domain: number,
    readonly type: number,
    readonly protocol: number,
    options: DatagramSocketOptions = {},
  ) {
    super();
    this.handle = (options.openNative ?? openNativeSocket)(domain, type, protocol, options.netns);
  }

  /** Receiving, and not stopped by a fatal error. */
  get receiving(): boolean {
    return this.isReceiving && !this.isClosed;
  }

  get fd(): number {
    return this.handle.fd;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  bind(sockaddr: Uint8Array): this {
    this.handle.bind(sockaddr);
    return this;
  }

  connect(sockaddr: Uint8Array): this {
    this.handle.connect(sockaddr);
    return this;
  }

  send(data: Uint8Array, to?: Uint8Array): number {
    return this.handle.send(data, to ?? null);
  }

  setOption(level: number, name: number, value: Uint8Array | number): void {
    const bytes = typeof value === 'number' ? int32(value) : value;
    this.handle.setsockopt(level, name, bytes);
  }

  getOption(level: number, name: number, maxLength = 4): Buffer {
    return this.handle.getsockopt(level, name, maxLength);
  }

  /** Attaches a classic BPF program (src/net/bpf.ts): the kernel drops what it rejects. */
  attachFilter(program: Uint8Array): void {
    // Optional in the interface so test doubles without filters still type-check.
    if (!this.handle.attachFilter) throw new Error('this socket cannot attach a BPF filter');
    this.handle.attachFilter(program);
  }

  localAddress(): Buffer {
    return this.handle.getsockname();
  }

  /** Starts delivering "message" events (idempotent). */
  receive(): this {
    if (this.isClosed) throw Object.assign(new Error('socket is closed'), { code: 'EBADF' });
    this.handle.startReceiving((err, data, from, ancillary, flags, ageMs) => {
      if (err) {
        this.onReceiveError(err);
        return;
      }
      this.emit('message', {
        data: data!,
        from: from!,
        ancillary: ancillary ?? [],
        truncated: ((flags ?? 0) & MSG_TRUNC) !== 0,
        ageMs: ageMs ?? 0,
      });
    });
    this.isReceiving = true;
    return this;
  }

  /** Emits "message" now for what is queued on the socket, instead of at the event loop's next poll. */
  receivePending(): void {
    if (this.isReceiving && !this.isClosed) this.handle.receivePending?.();
  }

  pause(): void {
    this.isReceiving = false;
    if (!this.isClosed) this.handle.stopReceiving();
  }

  private onReceiveError(err: SocketError): void {
    this.receiveErrors++;
    this.lastError = err;
    if (err.fatal) this.isReceiving = false;
    // EventEmitter throws an unlistened "error"; here that would be a throw out of
    // the native callback, i.e. a crash for a socket error.
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  /** Whether a pending receive keeps the process alive (default yes). */
  ref(keepAlive = true): this {
    this.handle.setRef(keepAlive);
    return this;
  }

  /** Safe to call twice and while a receive is pending. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.isReceiving = false;
    this.handle.close();
  }
}

export function int32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32LE(value, 0);
  return b;
}

export function interfaceIndex(name: string): number {
  return native().nameToIndex(name);
}

export function interfaceName(index: number): string {
  return native().indexToName(index);
}

export function errnoName(errno: number): string {
  return native().errnoName(errno);
}
