import { EventEmitter } from 'node:events';
import { native, type AncillaryData, type NativeDatagramSocket } from './native.js';
import { MSG_TRUNC } from './constants.js';

export interface Datagram {
  data: Buffer;
  /** The sender's raw sockaddr (decode with decodeSockaddr). */
  from: Buffer;
  ancillary: AncillaryData[];
  truncated: boolean;
}

export interface DatagramSocketOptions {
  /** Open the socket inside this network namespace (e.g. /run/netns/NAME). */
  netns?: string;
}

/**
 * A datagram socket of any (domain, type, protocol): AF_NETLINK, raw IP,
 * AF_PACKET, AF_UNIX datagrams. Emits "message" (Datagram) and "error".
 */
export class DatagramSocket extends EventEmitter<{ message: [Datagram]; error: [Error] }> {
  private readonly handle: NativeDatagramSocket;
  private isClosed = false;

  constructor(readonly domain: number, readonly type: number, readonly protocol: number, options: DatagramSocketOptions = {}) {
    super();
    const Native = native().DatagramSocket;
    this.handle = options.netns ? new Native(domain, type, protocol, options.netns) : new Native(domain, type, protocol);
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

  localAddress(): Buffer {
    return this.handle.getsockname();
  }

  /** Starts delivering "message" events (idempotent). */
  receive(): this {
    if (this.isClosed) throw Object.assign(new Error('socket is closed'), { code: 'EBADF' });
    this.handle.startReceiving((err, data, from, ancillary, flags) => {
      if (err) {
        this.emit('error', err);
        return;
      }
      this.emit('message', { data: data!, from: from!, ancillary: ancillary ?? [], truncated: ((flags ?? 0) & MSG_TRUNC) !== 0 });
    });
    return this;
  }

  pause(): void {
    if (!this.isClosed) this.handle.stopReceiving();
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
