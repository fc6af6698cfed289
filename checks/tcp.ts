// TCP connect check: up when the port accepts a connection; optionally sends a
// payload and waits for a response matching a pattern (an SMTP banner, "+PONG").
import { connect } from 'node:net';
import * as z from 'zod';
import type { CheckPlugin, CheckResult, CheckTarget } from '../src/health/check.js';
import { abortText, clip, elapsedSince, errorText } from '../src/health/check-helpers.js';

const options = z
  .object({
    /** Port to probe instead of the real server's port. */
    connect_port: z.number().int().min(1).max(65535).optional(),
    /** Source address for the probe connection. */
    bind_to: z.union([z.ipv4(), z.ipv6()]).optional(),
    /** Bytes to send once connected (YAML escapes like "\r\n" work). */
    send: z.string().optional(),
    /** A regular expression the response must match; the check waits for it. */
    expect: z
      .string()
      .refine((s) => {
        try {
          new RegExp(s);
          return true;
        } catch {
          return false;
        }
      }, 'not a valid regular expression')
      .optional(),
    /** How much of the response to read while looking for `expect`. */
    max_response_bytes: z
      .number()
      .int()
      .min(1)
      .max(1 << 20)
      .default(4096),
  })
  .strict();

export type TcpCheckOptions = z.infer<typeof options>;

function runTcp(target: CheckTarget, o: TcpCheckOptions, signal: AbortSignal): Promise<CheckResult> {
  const started = performance.now();
  const port = o.connect_port ?? target.port;
  const expect = o.expect === undefined ? undefined : new RegExp(o.expect);
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve({ ok: false, reason: `connect: ${abortText(signal)}`, latencyMs: 0 });
      return;
    }
    let phase = 'connect';
    let settled = false;
    let received = Buffer.alloc(0);
    const socket = connect({ host: target.address, port, localAddress: o.bind_to, noDelay: true });
    const finish = (ok: boolean, reason: string): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      // A reset instead of FIN leaves no TIME_WAIT behind, which matters at
      // thousands of probes a second (HAProxy's checks close the same way).
      if (!socket.destroyed && socket.readyState === 'open') socket.resetAndDestroy();
      else socket.destroy();
      resolve({ ok, reason, latencyMs: elapsedSince(started) });
    };
    const onAbort = (): void => finish(false, `${phase}: ${abortText(signal)}`);
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => {
      if (o.send === undefined && !expect) return finish(true, `connected to port ${port}`);
      if (o.send !== undefined) {
        phase = 'send';
        socket.write(o.send, (err) => {
          if (err) return finish(false, `send: ${errorText(err)}`);
          if (!expect) return finish(true, `connected to port ${port}, payload sent`);
          phase = 'response';
        });
      } else {
        phase = 'response';
      }
    });
    socket.on('data', (chunk: Buffer) => {
      if (!expect) return;
      received = Buffer.concat([received, chunk]).subarray(0, o.max_response_bytes);
      const text = received.toString('latin1');
      if (expect.test(text)) return finish(true, `response matched /${o.expect}/`);
      if (received.length >= o.max_response_bytes)
        finish(false, `first ${o.max_response_bytes} bytes of response do not match /${o.expect}/`);
    });
    socket.on('end', () => {
      const text = received.toString('latin1');
      finish(
        false,
        text.length === 0
          ? `${phase}: closed by server before any response`
          : `response ${JSON.stringify(clip(text, 60))} does not match /${o.expect}/`,
      );
    });
    socket.on('error', (err) => finish(false, `${phase}: ${errorText(err)}`));
  });
}

export const plugin: CheckPlugin<TcpCheckOptions> = {
  type: 'tcp',
  description: 'TCP connect to the real server (or connect_port); optionally send a payload and expect a response pattern',
  options,
  run: runTcp,
};
