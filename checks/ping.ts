// ICMP echo check (IPv4 and IPv6) over a raw socket of the native addon: one echo
// request per run; up on the echo reply with our identifier, sequence and payload
// from the target; down on an ICMP error quoting our request, or on no reply in
// the timeout. Raw sockets need CAP_NET_RAW (the agent's unit grants it).
import { randomBytes, randomInt } from 'node:crypto';
import { isIPv6 } from 'node:net';
import * as z from 'zod';
import type { CheckPlugin, CheckResult, CheckTarget } from '../src/health/check.js';
import { abortText, elapsedSince, errorText } from '../src/health/check-helpers.js';
import { canonicalIp } from '../src/net/address.js';
import { AF_INET, AF_INET6, ICMP_FILTER, ICMPV6_FILTER, IPPROTO_ICMP, IPPROTO_ICMPV6, SOCK_RAW, SOL_RAW } from '../src/net/constants.js';
import {
  encodeEchoRequest,
  ICMP_DEST_UNREACH,
  ICMP_ECHO_REPLY,
  ICMP_TIME_EXCEEDED,
  icmpTypeFilter,
  ICMPV6_DEST_UNREACH,
  ICMPV6_ECHO_REPLY,
  ICMPV6_TIME_EXCEEDED,
  parseIcmp,
  type IcmpFamily,
} from '../src/net/icmp.js';
import { decodeSockaddr, sockaddrIp } from '../src/net/sockaddr.js';
import { DatagramSocket } from '../src/net/socket.js';

const options = z
  .object({
    /** Source address of the echo requests. */
    bind_to: z.union([z.ipv4(), z.ipv6()]).optional(),
    /** Bytes of payload after the ICMP header (ping's -s; default 56, as ping). */
    payload_bytes: z.number().int().min(8).max(1400).default(56),
  })
  .strict();

export type PingCheckOptions = z.infer<typeof options>;

let nextSequence = randomInt(0, 0x10000);

function runPing(target: CheckTarget, o: PingCheckOptions, signal: AbortSignal): Promise<CheckResult> {
  const started = performance.now();
  if (signal.aborted) return Promise.resolve({ ok: false, reason: `echo: ${abortText(signal)}`, latencyMs: 0 });
  const family: IcmpFamily = isIPv6(target.address) ? 6 : 4;
  const from = canonicalIp(target.address) ?? target.address;
  const identifier = randomInt(0, 0x10000);
  const sequence = (nextSequence = (nextSequence + 1) & 0xffff);
  const payload = randomBytes(o.payload_bytes);
  const icmp = family === 4 ? 'ICMP' : 'ICMPv6';
  return new Promise((resolve) => {
    let socket: DatagramSocket | undefined;
    let settled = false;
    const finish = (ok: boolean, reason: string): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      socket?.close();
      resolve({ ok, reason, latencyMs: elapsedSince(started) });
    };
    const onAbort = (): void => finish(false, `no ${icmp} echo reply: ${abortText(signal)}`);
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      socket = family === 4 ? new DatagramSocket(AF_INET, SOCK_RAW, IPPROTO_ICMP) : new DatagramSocket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6);
      const pass =
        family === 4
          ? [ICMP_ECHO_REPLY, ICMP_DEST_UNREACH, ICMP_TIME_EXCEEDED]
          : [ICMPV6_ECHO_REPLY, ICMPV6_DEST_UNREACH, ICMPV6_TIME_EXCEEDED];
      socket.setOption(family === 4 ? SOL_RAW : IPPROTO_ICMPV6, family === 4 ? ICMP_FILTER : ICMPV6_FILTER, icmpTypeFilter(family, pass));
      if (o.bind_to) socket.bind(sockaddrIp(o.bind_to));
      socket.on('error', (err) => {
        if (err.fatal) finish(false, `receive: ${errorText(err)}`);
      });
      socket.on('message', ({ data, from: sender }) => {
        const message = parseIcmp(family, data);
        // Every raw ICMP socket of the host sees every reply: only ours count.
        if (message.kind === 'echo-reply') {
          const peer = decodeSockaddr(sender);
          if (message.identifier !== identifier || message.sequence !== sequence) return;
          if (peer.family !== 'inet' && peer.family !== 'inet6') return;
          if (peer.address !== from) return;
          if (!message.payload.equals(payload)) return finish(false, `${icmp} echo reply from ${from} with a different payload`);
          return finish(true, `${icmp} echo reply from ${from}, ${o.payload_bytes} bytes`);
        }
        if (message.kind === 'error' && message.identifier === identifier && message.sequence === sequence) {
          const peer = decodeSockaddr(sender);
          const by = peer.family === 'inet' || peer.family === 'inet6' ? ` from ${peer.address}` : '';
          finish(false, `${message.text}${by}`);
        }
      });
      socket.receive();
      socket.send(encodeEchoRequest(family, identifier, sequence, payload), sockaddrIp(target.address));
    } catch (err) {
      finish(false, `${icmp} echo: ${errorText(err)}`);
    }
  });
}

export const plugin: CheckPlugin<PingCheckOptions> = {
  type: 'ping',
  description: 'ICMP/ICMPv6 echo to the real server (raw socket); up on a matching echo reply within the timeout',
  options,
  run: runPing,
};
