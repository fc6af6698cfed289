// A netlink socket with request/response matching: sequence numbers, ACKs,
// multipart dumps, errors with errno names and extended-ack text, timeouts,
// and unsolicited notifications for multicast subscribers.
import { EventEmitter } from 'node:events';
import { DatagramSocket } from './socket.js';
import { AF_NETLINK, SOCK_RAW, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, NETLINK_DROP_MEMBERSHIP, NETLINK_EXT_ACK, NETLINK_CAP_ACK, SOL_SOCKET, SO_RCVBUF, SO_RCVBUFFORCE } from './constants.js';
import { sockaddrNetlink, decodeSockaddr } from './sockaddr.js';
import {
  decodeErrorMessage, decodeMessages, encodeMessage, NetlinkError, type NetlinkMessage,
  NLM_F_ACK, NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR, NLMSG_NOOP, NLMSG_OVERRUN,
} from './netlink.js';

export interface RequestOptions {
  /** A dump: the reply is multipart, ended by NLMSG_DONE. */
  dump?: boolean;
  timeoutMs?: number;
  /** Name used in error messages, e.g. "IPVS_CMD_NEW_DEST". */
  operation?: string;
}

export interface NetlinkSocketOptions {
  netns?: string;
  /** Receive buffer in bytes; notifications and large dumps need room. */
  receiveBuffer?: number;
}

interface Pending {
  dump: boolean;
  operation: string;
  replies: NetlinkMessage[];
  interrupted: boolean;
  resolve(messages: NetlinkMessage[]): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

export class NetlinkTimeoutError extends Error {
  override name = 'NetlinkTimeoutError';
  readonly code = 'ETIMEDOUT';
}

export class NetlinkSocket extends EventEmitter<{ notification: [NetlinkMessage]; overrun: [Error]; error: [Error] }> {
  private readonly socket: DatagramSocket;
  private nextSeq = Math.floor(Math.random() * 0x7fffffff) + 1;
  private readonly pending = new Map<number, Pending>();
  private subscriptions = 0;
  readonly portId: number;
  /** Datagrams that could not be parsed; counted, never thrown. */
  malformed = 0;

  constructor(readonly protocol: number, options: NetlinkSocketOptions = {}) {
    super();
    this.socket = new DatagramSocket(AF_NETLINK, SOCK_RAW, protocol, options.netns ? { netns: options.netns } : {});
    try {
      const rcvbuf = options.receiveBuffer ?? 4 * 1024 * 1024;
      try { this.socket.setOption(SOL_SOCKET, SO_RCVBUFFORCE, rcvbuf); } catch { this.socket.setOption(SOL_SOCKET, SO_RCVBUF, rcvbuf); }
      this.socket.setOption(SOL_NETLINK, NETLINK_EXT_ACK, 1);
      this.socket.setOption(SOL_NETLINK, NETLINK_CAP_ACK, 1);
      this.socket.bind(sockaddrNetlink(0, 0));
      const local = decodeSockaddr(this.socket.localAddress());
      this.portId = local.family === 'netlink' ? local.pid : 0;
      this.socket.on('message', (d) => this.onDatagram(d.data, d.truncated));
      this.socket.on('error', (err) => this.onSocketError(err));
      this.socket.receive();
      this.updateRef();
    } catch (err) {
      this.socket.close();
      throw err;
    }
  }

  /** Joins a multicast group (e.g. RTNLGRP_LINK); notifications arrive as "notification". */
  subscribe(group: number): void {
    this.socket.setOption(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, group);
    this.subscriptions++;
    this.updateRef();
  }

  unsubscribe(group: number): void {
    this.socket.setOption(SOL_NETLINK, NETLINK_DROP_MEMBERSHIP, group);
    this.subscriptions = Math.max(0, this.subscriptions - 1);
    this.updateRef();
  }

  /**
   * Sends one request and resolves with its reply messages (empty for a plain ACK).
   * Rejects with NetlinkError (errno code + extended ack) or NetlinkTimeoutError.
   */
  request(type: number, flags: number, payload: Uint8Array, options: RequestOptions = {}): Promise<NetlinkMessage[]> {
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

  close(): void {
    if (this.socket.closed) return;
    this.socket.close();
    for (const [seq, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(Object.assign(new Error(`${p.operation}: netlink socket closed`), { code: 'ECANCELED' }));
      this.pending.delete(seq);
    }
  }

  private updateRef(): void {
    if (!this.socket.closed) this.socket.ref(this.pending.size > 0 || this.subscriptions > 0);
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
      const error = new Error(truncated ? 'netlink datagram truncated by the receive buffer' : `malformed netlink datagram: ${decoded.ok ? '' : decoded.error}`);
      // A reply we cannot read must fail its request rather than hang it.
      const seq = data.length >= 12 ? data.readUInt32LE(8) : -1;
      if (this.pending.has(seq)) this.settle(seq, { error });
      else this.emit('error', error);
      return;
    }
    for (const message of decoded.value) this.onMessage(message);
  }

  private onMessage(message: NetlinkMessage): void {
    const p = message.seq !== 0 ? this.pending.get(message.seq) : undefined;
    if (!p) {
      if (message.type === NLMSG_OVERRUN) this.emit('overrun', new Error('netlink overrun'));
      else if (message.type !== NLMSG_NOOP && message.type !== NLMSG_ERROR && message.type !== NLMSG_DONE) this.emit('notification', message);
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
      else if (p.interrupted) this.settle(message.seq, { error: Object.assign(new Error(`${p.operation}: dump interrupted by a concurrent change; retry`), { code: 'EINTR' }) });
      else this.settle(message.seq, { messages: p.replies });
      return;
    }
    if (message.type === NLMSG_NOOP) return;
    p.replies.push(message);
  }

  private onSocketError(err: Error & { code?: string }): void {
    if (err.code === 'ENOBUFS') {
      // Notifications were lost: listeners must resynchronise with a dump.
      this.emit('overrun', err);
      return;
    }
    this.emit('error', err);
  }
}
