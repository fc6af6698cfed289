// UDP check: sends one datagram on a connected socket and waits for a reply.
// Up = a reply (matching `expect`/`expect_hex` when given). Down = no reply within
// the timeout, or an ICMP error: on a connected socket the kernel turns a port
// unreachable into ECONNREFUSED (host unreachable into EHOSTUNREACH).
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import * as z from 'zod';
import type { CheckPlugin, CheckResult, CheckTarget } from '../src/health/check.js';
import { abortText, clip, elapsedSince, errorText } from '../src/health/check-helpers.js';

const validRegex = (s: string): boolean => {
  try {
    new RegExp(s);
    return true;
  } catch {
    return false;
  }
};
const hex = () => z.string().regex(/^([0-9a-fA-F]{2})*$/, 'an even number of hex digits, like "0d0a"');

const options = z
  .object({
    /** Port to probe instead of the real server's port. */
    connect_port: z.number().int().min(1).max(65535).optional(),
    /** Source address for the probe. */
    bind_to: z.union([z.ipv4(), z.ipv6()]).optional(),
    /** The datagram to send, as text (YAML escapes like "\r\n" work); default empty. */
    send: z.string().optional(),
    /** The datagram to send, as hex (keepalived's UDP_CHECK payload). */
    send_hex: hex().optional(),
    /** A regular expression the reply (as latin1 text) must match. */
    expect: z.string().refine(validRegex, 'not a valid regular expression').optional(),
    /** Bytes the reply must start with, as hex (keepalived's require_reply). */
    expect_hex: hex().optional(),
  })
  .strict()
  .refine((o) => o.send === undefined || o.send_hex === undefined, {
    message: 'give send or send_hex, not both',
    path: ['send_hex'],
  });

export type UdpCheckOptions = z.infer<typeof options>;

const payloads = new WeakMap<object, { payload: Buffer; expect?: RegExp; expectBytes?: Buffer }>();
function planFor(o: UdpCheckOptions) {
  let plan = payloads.get(o);
  if (!plan) {
    plan = {
      payload: o.send_hex !== undefined ? Buffer.from(o.send_hex, 'hex') : Buffer.from(o.send ?? '', 'latin1'),
      ...(o.expect !== undefined ? { expect: new RegExp(o.expect) } : {}),
      ...(o.expect_hex !== undefined ? { expectBytes: Buffer.from(o.expect_hex, 'hex') } : {}),
    };
    payloads.set(o, plan);
  }
  return plan;
}

function describeError(err: Error & { code?: string }): string {
  if (err.code === 'ECONNREFUSED') return 'ICMP port unreachable (ECONNREFUSED)';
  if (err.code === 'EHOSTUNREACH') return 'ICMP host unreachable (EHOSTUNREACH)';
  return errorText(err);
}

function runUdp(target: CheckTarget, o: UdpCheckOptions, signal: AbortSignal): Promise<CheckResult> {
  const started = performance.now();
  const port = o.connect_port ?? target.port;
  const plan = planFor(o);
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve({ ok: false, reason: `send: ${abortText(signal)}`, latencyMs: 0 });
      return;
    }
    let phase = 'bind';
    let settled = false;
    let socket: Socket;
    const finish = (ok: boolean, reason: string): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      try {
        socket.close();
      } catch {
        /* already closed */
      }
      resolve({ ok, reason, latencyMs: elapsedSince(started) });
    };
    const onAbort = (): void => finish(false, phase === 'reply' ? `no reply: ${abortText(signal)}` : `${phase}: ${abortText(signal)}`);
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      socket = createSocket({ type: isIPv6(target.address) ? 'udp6' : 'udp4' });
    } catch (err) {
      finish(false, `socket: ${errorText(err)}`);
      return;
    }
    socket.on('error', (err: Error & { code?: string }) => finish(false, `${phase}: ${describeError(err)}`));
    socket.on('message', (reply) => {
      if (plan.expectBytes && !reply.subarray(0, plan.expectBytes.length).equals(plan.expectBytes)) {
        return finish(false, `reply ${clip(reply.toString('hex'), 40)} does not start with ${o.expect_hex}`);
      }
      if (plan.expect && !plan.expect.test(reply.toString('latin1'))) {
        return finish(false, `reply ${JSON.stringify(clip(reply.toString('latin1'), 60))} does not match /${o.expect}/`);
      }
      finish(true, `reply of ${reply.length} bytes from port ${port}`);
    });
    const connectAndSend = (): void => {
      phase = 'connect';
      socket.connect(port, target.address, () => {
        phase = 'send';
        socket.send(plan.payload, (err) => {
          if (err) return finish(false, `send: ${describeError(err)}`);
          phase = 'reply';
        });
      });
    };
    if (o.bind_to) socket.bind({ address: o.bind_to, port: 0 }, connectAndSend);
    else connectAndSend();
  });
}

export const plugin: CheckPlugin<UdpCheckOptions> = {
  type: 'udp',
  description: 'UDP: send a datagram (send/send_hex) and expect a reply (expect/expect_hex); ICMP port unreachable or no reply = down',
  options,
  run: runUdp,
};
