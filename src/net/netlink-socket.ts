// A netlink socket with request/response matching: sequence numbers, ACKs,
// multipart dumps, errors with errno names and extended-ack text, timeouts,
// and unsolicited notifications for multicast subscribers.
import { EventEmitter } from 'node:events';
import { DatagramSocket, type NativeSocketFactory, type SocketError } from './socket.js';
import {
  AF_NETLINK,
  SOCK_RAW,
  SOL_NETLINK,
  NETLINK_ADD_MEMBERSHIP,
  NETLINK_DROP_MEMBERSHIP,
  NETLINK_EXT_ACK,
  NETLINK_CAP_ACK,
  SOL_SOCKET,
  SO_RCVBUF,
  SO_RCVBUFFORCE,
} from './constants.js';
import { sockaddrNetlink, decodeSockaddr } from './sockaddr.js';
import {
  align4,
  decodeErrorMessage,
  decodeMessages,
  encodeMessage,
  NetlinkError,
  type NetlinkMessage,
  NLMSG_HDRLEN,
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_DUMP_INTR,
  NLM_F_REQUEST,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_NOOP,
  NLMSG_OVERRUN,
} from './netlink.js';

export interface RequestOptions {
  /** A dump: the reply is multipart, ended by NLMSG_DONE. */
  dump?: boolean;
  timeoutMs?: number;
  /** Name used in error messages, e.g. "IPVS_CMD_NEW_DEST". */
  operation?: string;
}

/** One request of a batch (requestBatch): never a dump. */
export interface BatchRequest {
  type: number;
  flags: number;
  payload: Uint8Array;
  /** Name used in error messages, e.g. "IPVS_CMD_NEW_DEST". */
  operation: string;
}

export interface BatchOptions {
  timeoutMs?: number;
  /** Upper bound on one datagram; a larger batch goes out as several. Default 32 KiB. */
  maxDatagramBytes?: number;
}

/** A request's outcome in a batch: undefined when the kernel accepted it. */
export type BatchResult = (Error & { code?: string }) | undefined;

export interface NetlinkSocketOptions {
  netns?: string;
  /** Receive buffer in bytes; notifications and large dumps need room. */
  receiveBuffer?: number;
  /** Where the native socket comes from; tests pass a fake. */
  openNative?: NativeSocketFactory;
}

/** How long to wait before trying again to reopen a socket that died and could not be reopened at once. */
const REOPEN_RETRY_MS = 1000;

interface Pending {
  dump: boolean;
  operation: string;
  replies: NetlinkMessage[];
  interrupted: boolean;
  resolve(messages: NetlinkMessage[]): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

// Requests of a batch carry consecutive sequence numbers; only the last one of each
// datagram asks for an ACK. The kernel handles a datagram's messages in order and
// answers a failure whether asked or not, so when the closing ACK arrives every
// error before it has arrived too: no reply at all means success.
interface Batch {
  firstSeq: number;
  operations: string[];
  results: BatchResult[];
  /** Indices whose reply closes a datagram. */
  closers: Set<number>;
  awaiting: number;
  resolve(results: BatchResult[]): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

export class NetlinkTimeoutError extends Error {
  override name = 'NetlinkTimeoutError';
  readonly code = 'ETIMEDOUT';
}

/**
 * Emits "notification", "overrun" (notifications were lost: subscribers must
 * re-read the state they follow; also after the socket was reopened) and "error"
 * (only when listened to: errors are counted in `errors` either way, never thrown).
 * A socket that dies (a fatal receive error) is reopened with its multicast groups,
 * and the requests that were waiting on it are rejected.
 */
export class NetlinkSocket extends EventEmitter<{ notification: [NetlinkMessage]; overrun: [Error]; error: [Error] }> {
  private socket: DatagramSocket;
  private nextSeq = Math.floor(Math.random() * 0x7fffffff) + 1;
  private readonly pending = new Map<number, Pending>();
  private readonly batches = new Set<Batch>();
  private readonly groups = new Set<number>();
  /** Netlink runs one dump at a time per socket (a second gets EBUSY): dumps queue here. */
  private dumpTail: Promise<unknown> = Promise.resolve();
  private closedByOwner = false;
  private reopenTimer: NodeJS.Timeout | undefined;
  private port = 0;
  /** Datagrams that could not be parsed; counted, never thrown. */
  malformed = 0;
  /** Receive errors (overruns included). */
  errors = 0;
  /** Receive-buffer overruns: notifications or replies were lost. */
  overruns = 0;
  /** Times the socket died and was opened again. */
  reopens = 0;

  constructor(
    readonly protocol: number,
    private readonly options: NetlinkSocketOptions = {},
  ) {
    super();
    this.socket = this.open();
  }

  get portId(): number {
    return this.port;
  }

  private open(): DatagramSocket {
    const { netns, openNative } = this.options;
    const socket = new DatagramSocket(AF_NETLINK, SOCK_RAW, this.protocol, {
      ...(netns ? { netns } : {}),
      ...(openNative ? { openNative } : {}),
    });
    try {
      const rcvbuf = this.options.receiveBuffer ?? 4 * 1024 * 1024;
      try {
        socket.setOption(SOL_SOCKET, SO_RCVBUFFORCE, rcvbuf);
      } catch {
        socket.setOption(SOL_SOCKET, SO_RCVBUF, rcvbuf);
      }
      socket.setOption(SOL_NETLINK, NETLINK_EXT_ACK, 1);
      socket.setOption(SOL_NETLINK, NETLINK_CAP_ACK, 1);
      socket.bind(sockaddrNetlink(0, 0));
      const local = decodeSockaddr(socket.localAddress());
      this.port = local.family === 'netlink' ? local.pid : 0;
      for (const group of this.groups) socket.setOption(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, group);
      socket.on('message', (d) => this.onDatagram(d.data, d.truncated));
      socket.on('error', (err) => this.onSocketError(err));
      socket.receive();
    } catch (err) {
      socket.close();
      throw err;
    }
    return socket;
  }

  /** Joins a multicast group (e.g. RTNLGRP_LINK); notifications arrive as "notification". */
  subscribe(group: number): void {
    this.socket.setOption(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, group);
    this.groups.add(group);
    this.updateRef();
  }

  unsubscribe(group: number): void {
    this.socket.setOption(SOL_NETLINK, NETLINK_DROP_MEMBERSHIP, group);
    this.groups.delete(group);
    this.updateRef();
  }

  /**
   * Sends one request and resolves with its reply messages (empty for a plain ACK).
   * Rejects with NetlinkError (errno code + extended ack) or NetlinkTimeoutError.
   */
  request(type: number, flags: number, payload: Uint8Array, options: RequestOptions = {}): Promise<NetlinkMessage[]> {
    if (!options.dump) return this.send(type, flags, payload, options);
    const result = this.dumpTail.then(() => this.send(type, flags, payload, options));
    this.dumpTail = result.catch(() => undefined);
    return result;
  }

  private send(type: number, flags: number, payload: Uint8Array, options: RequestOptions): Promise<NetlinkMessage[]> {
    if (this.socket.closed) return Promise.reject(Object.assign(new Error('netlink socket is closed'), { code: 'EBADF' }));
    const seq = this.nextSeq;
    this.nextSeq = this.nextSeq >= 0xfffffffe ? 1 : this.nextSeq + 1;
    const dump = options.dump ?? false;
    const operation = options.operation ?? `netlink request type ${type}`;
    const message = encodeMessage({ type, flags: flags | NLM_F_REQUEST | (dump ? NLM_F_DUMP : NLM_F_ACK), seq, pid: 0, payload });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(seq);
        this.updateRef();
        reject(new NetlinkTimeoutError(`${operation}: no answer from the kernel in ${options.timeoutMs ?? 5000} ms`));
      }, options.timeoutMs ?? 5000);
      this.pending.set(seq, { dump, operation, replies: [], interrupted: false, resolve, reject, timer });
      this.updateRef();
      try {
        this.socket.send(message, sockaddrNetlink(0, 0));
      } catch (err) {
        clearTimeout(timer);
        this.pending.delete(seq);
        this.updateRef();
        reject(err);
      }
    });
  }

  /**
   * Sends requests back to back, packed into as few datagrams as fit (one
   * system call each, one ACK each), and resolves with each request's outcome,
   * in order, once the kernel has handled them all. A refused request does not
   * stop the ones after it. Rejects only when the outcome is unknown: timeout,
   * socket closed, replies lost to a receive-buffer overrun.
   */
  requestBatch(requests: readonly BatchRequest[], options: BatchOptions = {}): Promise<BatchResult[]> {
    if (this.socket.closed) return Promise.reject(Object.assign(new Error('netlink socket is closed'), { code: 'EBADF' }));
    if (requests.length === 0) return Promise.resolve([]);
    const dump = requests.find((r) => r.flags & NLM_F_DUMP);
    if (dump) return Promise.reject(new TypeError(`${dump.operation}: a dump cannot be part of a batch`));
    const maxBytes = options.maxDatagramBytes ?? 32 * 1024;
    // Consecutive numbers, so a reply's request is found by subtraction.
    if (this.nextSeq + requests.length > 0xfffffffe) this.nextSeq = 1;
    const firstSeq = this.nextSeq;
    this.nextSeq += requests.length;
    const timeoutMs = options.timeoutMs ?? 5000;
    return new Promise((resolve, reject) => {
      const batch: Batch = {
        firstSeq,
        operations: requests.map((r) => r.operation),
        results: new Array<BatchResult>(requests.length).fill(undefined),
        closers: new Set(),
        awaiting: 0,
        resolve,
        reject,
        timer: setTimeout(
          () =>
            this.endBatch(
              batch,
              new NetlinkTimeoutError(
                `${batch.operations[0]} and ${requests.length - 1} more: no answer from the kernel in ${timeoutMs} ms`,
              ),
            ),
          timeoutMs,
        ),
      };
      this.batches.add(batch);
      this.updateRef();
      let start = 0;
      while (start < requests.length) {
        let end = start,
          bytes = 0;
        do {
          bytes += align4(NLMSG_HDRLEN + requests[end]!.payload.byteLength);
          end++;
        } while (end < requests.length && bytes + align4(NLMSG_HDRLEN + requests[end]!.payload.byteLength) <= maxBytes);
        const datagram = Buffer.alloc(bytes);
        let offset = 0;
        for (let i = start; i < end; i++) {
          const r = requests[i]!;
          const length = NLMSG_HDRLEN + r.payload.byteLength;
          datagram.writeUInt32LE(length, offset);
          datagram.writeUInt16LE(r.type, offset + 4);
          datagram.writeUInt16LE(r.flags | NLM_F_REQUEST | (i === end - 1 ? NLM_F_ACK : 0), offset + 6);
          datagram.writeUInt32LE(firstSeq + i, offset + 8);
          datagram.writeUInt32LE(0, offset + 12);
          datagram.set(r.payload, offset + NLMSG_HDRLEN);
          offset += align4(length);
        }
        try {
          this.socket.send(datagram, sockaddrNetlink(0, 0));
          batch.closers.add(end - 1);
          batch.awaiting++;
        } catch (err) {
          // Nothing of this datagram reached the kernel, and nothing after it will be sent.
          for (let i = start; i < requests.length; i++) batch.results[i] = err as Error;
          break;
        }
        start = end;
      }
      if (batch.awaiting === 0) this.endBatch(batch);
    });
  }

  close(): void {
    this.closedByOwner = true;
    clearTimeout(this.reopenTimer);
    if (this.socket.closed) return;
    this.socket.close();
    this.failOutstanding('netlink socket closed', 'ECANCELED');
  }

  /** Rejects every request and batch still waiting for a reply. */
  private failOutstanding(why: string, code: string): void {
    for (const [seq, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(Object.assign(new Error(`${p.operation}: ${why}`), { code }));
      this.pending.delete(seq);
    }
    for (const b of this.batches) {
      const operations = `${b.operations[0]} and ${b.operations.length - 1} more`;
      this.endBatch(b, Object.assign(new Error(`${operations}: ${why}`), { code }));
    }
  }

  private updateRef(): void {
    if (!this.socket.closed) this.socket.ref(this.pending.size > 0 || this.batches.size > 0 || this.groups.size > 0);
  }

  private endBatch(batch: Batch, error?: Error): void {
    if (!this.batches.delete(batch)) return;
    clearTimeout(batch.timer);
    this.updateRef();
    if (error) batch.reject(error);
    else batch.resolve(batch.results);
  }

  private batchOf(seq: number): Batch | undefined {
    for (const b of this.batches) {
      if (seq >= b.firstSeq && seq < b.firstSeq + b.results.length) return b;
    }
    return undefined;
  }

  private onBatchReply(batch: Batch, message: NetlinkMessage): void {
    if (message.type !== NLMSG_ERROR) return;
    const index = message.seq - batch.firstSeq;
    // In range: batchOf picked this batch by its sequence numbers, one per operation.
    const operation = batch.operations[index]!;
    const info = decodeErrorMessage(message);
    if (!info.ok) batch.results[index] = new Error(`${operation}: malformed NLMSG_ERROR: ${info.error}`);
    else if (info.value.errno !== 0) batch.results[index] = new NetlinkError(info.value.errno, info.value.extAck, operation);
    if (batch.closers.has(index) && --batch.awaiting === 0) this.endBatch(batch);
  }

  private settle(seq: number, outcome: { messages: NetlinkMessage[] } | { error: Error }): void {
    const p = this.pending.get(seq);
    if (!p) return;
    this.pending.delete(seq);
    clearTimeout(p.timer);
    this.updateRef();
    if ('error' in outcome) p.reject(outcome.error);
    else p.resolve(outcome.messages);
  }

  private onDatagram(data: Buffer, truncated: boolean): void {
    const decoded = decodeMessages(data);
    if (!decoded.ok || truncated) {
      this.malformed++;
      const error = new Error(
        truncated ? 'netlink datagram truncated by the receive buffer' : `malformed netlink datagram: ${decoded.ok ? '' : decoded.error}`,
      );
      // A reply we cannot read must fail its request rather than hang it.
      const seq = data.length >= 12 ? data.readUInt32LE(8) : -1;
      const batch = this.batchOf(seq);
      if (this.pending.has(seq)) this.settle(seq, { error });
      else if (batch) this.endBatch(batch, error);
      else this.report(error);
      return;
    }
    for (const message of decoded.value) this.onMessage(message);
  }

  private onMessage(message: NetlinkMessage): void {
    const p = message.seq !== 0 ? this.pending.get(message.seq) : undefined;
    if (!p) {
      const batch = message.seq !== 0 && this.batches.size > 0 ? this.batchOf(message.seq) : undefined;
      if (batch) {
        this.onBatchReply(batch, message);
        return;
      }
      if (message.type === NLMSG_OVERRUN) this.emit('overrun', new Error('netlink overrun'));
      else if (message.type !== NLMSG_NOOP && message.type !== NLMSG_ERROR && message.type !== NLMSG_DONE)
        this.emit('notification', message);
      return;
    }
    if (message.flags & NLM_F_DUMP_INTR) p.interrupted = true;
    if (message.type === NLMSG_ERROR) {
      const info = decodeErrorMessage(message);
      if (!info.ok) {
        this.settle(message.seq, { error: new Error(`${p.operation}: malformed NLMSG_ERROR: ${info.error}`) });
      } else if (info.value.errno === 0) {
        this.settle(message.seq, { messages: p.replies });
      } else {
        this.settle(message.seq, { error: new NetlinkError(info.value.errno, info.value.extAck, p.operation) });
      }
      return;
    }
    if (message.type === NLMSG_DONE) {
      const status = message.payload.length >= 4 ? message.payload.readInt32LE(0) : 0;
      if (status < 0) this.settle(message.seq, { error: new NetlinkError(-status, undefined, p.operation) });
      else if (p.interrupted)
        this.settle(message.seq, {
          error: Object.assign(new Error(`${p.operation}: dump interrupted by a concurrent change; retry`), { code: 'EINTR' }),
        });
      else this.settle(message.seq, { messages: p.replies });
      return;
    }
    if (message.type === NLMSG_NOOP) return;
    p.replies.push(message);
  }

  private onSocketError(err: SocketError): void {
    this.errors++;
    if (err.fatal) {
      this.reopen(err);
      return;
    }
    if (err.code === 'ENOBUFS') {
      this.overruns++;
      // Notifications were lost: listeners must resynchronise with a dump. A
      // batch learns of failures only from replies, and some may be among the lost.
      for (const b of this.batches)
        this.endBatch(
          b,
          Object.assign(
            new Error(`${b.operations[0]} and ${b.operations.length - 1} more: replies lost to a receive-buffer overrun, outcome unknown`),
            { code: 'ENOBUFS' },
          ),
        );
      this.emit('overrun', err);
      return;
    }
    this.report(err);
  }

  /** An unlistened "error" would throw out of the native receive callback: the counters are enough then. */
  private report(err: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  /** The socket will never receive again: whatever it was waiting for is lost. */
  private reopen(err: SocketError): void {
    this.socket.removeAllListeners();
    this.socket.close();
    this.failOutstanding(`netlink socket failed (${err.code ?? err.message}), outcome unknown`, err.code ?? 'EIO');
    this.report(err);
    this.tryReopen(err);
  }

  private tryReopen(cause: Error): void {
    if (this.closedByOwner) return;
    try {
      this.socket = this.open();
    } catch (err) {
      this.report(err as Error);
      this.reopenTimer = setTimeout(() => this.tryReopen(cause), REOPEN_RETRY_MS);
      this.reopenTimer.unref();
      return;
    }
    this.reopens++;
    this.dumpTail = Promise.resolve();
    this.updateRef();
    // Notifications sent while the socket was dead are lost.
    if (this.groups.size > 0) this.emit('overrun', cause);
  }
}
