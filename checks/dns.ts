// DNS check: one query over UDP (again over TCP when the reply is truncated);
// up when the rcode is the expected one and, with expect_answers, the records of the
// asked type are exactly those (or include them, with answers_match: contains).
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import { connect, isIPv6, type Socket as TcpSocket } from 'node:net';
import * as z from 'zod';
import type { CheckPlugin, CheckResult, CheckTarget } from '../src/health/check.js';
import { abortText, elapsedSince, errorText } from '../src/health/check-helpers.js';
import { answersProblem, encodeQuery, normalizeExpected, QUERY_TYPES, RCODES, readReply, type DnsReply } from './lib/dns-message.js';

const options = z
  .object({
    /** The name to look up, e.g. www.example.com. */
    name: z
      .string()
      .min(1)
      .max(253)
      .regex(/^[A-Za-z0-9_*.-]+$/, 'a domain name like www.example.com'),
    query_type: z.enum(QUERY_TYPES).default('A'),
    /** The response code that means up. */
    expect_rcode: z.enum(RCODES).default('NOERROR'),
    /** The records of query_type the answer must hold (A: "10.0.0.1", MX: "10 mx.example.com", TXT: the text). */
    expect_answers: z.array(z.string().min(1)).min(1).optional(),
    /** exact: the answer's records are exactly expect_answers; contains: at least those. */
    answers_match: z.enum(['exact', 'contains']).default('exact'),
    /** Ask the server to recurse (the RD bit); false to probe an authoritative server. */
    recursion_desired: z.boolean().default(true),
    connect_port: z.number().int().min(1).max(65535).optional(),
    bind_to: z.union([z.ipv4(), z.ipv6()]).optional(),
  })
  .strict();

export type DnsCheckOptions = z.infer<typeof options>;

const expectedAnswers = new WeakMap<object, string[]>();
function expectedFor(o: DnsCheckOptions): string[] | undefined {
  if (!o.expect_answers) return undefined;
  let list = expectedAnswers.get(o);
  if (!list) {
    list = o.expect_answers.map((a) => normalizeExpected(o.query_type, a));
    expectedAnswers.set(o, list);
  }
  return list;
}

function judge(reply: Extract<DnsReply, { kind: 'answer' }>, o: DnsCheckOptions, transport: string): { ok: boolean; reason: string } {
  if (reply.rcode !== o.expect_rcode) return { ok: false, reason: `rcode ${reply.rcode}, expected ${o.expect_rcode}` };
  const expected = expectedFor(o);
  if (expected) {
    const problem = answersProblem(reply.answers, expected, o.answers_match);
    if (problem) return { ok: false, reason: `${o.name} ${o.query_type}: ${problem}` };
  }
  const n = reply.answers.length;
  return { ok: true, reason: `${reply.rcode}, ${n} ${o.query_type} record${n === 1 ? '' : 's'} over ${transport}` };
}

function runDns(target: CheckTarget, o: DnsCheckOptions, signal: AbortSignal): Promise<CheckResult> {
  const started = performance.now();
  const port = o.connect_port ?? target.port;
  const id = randomInt(0, 0x10000);
  const query = encodeQuery(id, o.name, o.query_type, o.recursion_desired);
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve({ ok: false, reason: `query: ${abortText(signal)}`, latencyMs: 0 });
      return;
    }
    let phase = 'udp query';
    let settled = false;
    let udp: UdpSocket | undefined;
    let tcp: TcpSocket | undefined;
    let lastForeign = '';
    const finish = (ok: boolean, reason: string): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      try {
        udp?.close();
      } catch {
        /* already closed */
      }
      tcp?.destroy();
      resolve({ ok, reason, latencyMs: elapsedSince(started) });
    };
    const onAbort = (): void => finish(false, `${phase}: ${abortText(signal)}${lastForeign ? ` (ignored a reply: ${lastForeign})` : ''}`);
    signal.addEventListener('abort', onAbort, { once: true });

    const onMessage = (message: Buffer, transport: string): boolean => {
      const reply = readReply(message, id, o.name, o.query_type);
      if (reply.kind === 'foreign') {
        lastForeign = reply.why;
        return false;
      }
      if (reply.kind === 'malformed') {
        finish(false, `${transport} reply: ${reply.why}`);
        return true;
      }
      if (reply.truncated && transport === 'udp') {
        overTcp();
        return true;
      }
      const verdict = judge(reply, o, transport);
      finish(verdict.ok, verdict.reason);
      return true;
    };

    // RFC 7766: the same query with a two-byte length in front; one reply read.
    const overTcp = (): void => {
      phase = 'tcp query (udp reply truncated)';
      try {
        udp?.close();
      } catch {
        /* already closed */
      }
      udp = undefined;
      const socket = connect({ host: target.address, port, localAddress: o.bind_to, noDelay: true });
      tcp = socket;
      let received = Buffer.alloc(0);
      socket.once('connect', () => {
        const framed = Buffer.alloc(2 + query.length);
        framed.writeUInt16BE(query.length, 0);
        query.copy(framed, 2);
        socket.write(framed);
      });
      socket.on('data', (chunk: Buffer) => {
        received = Buffer.concat([received, chunk]);
        if (received.length < 2) return;
        const length = received.readUInt16BE(0);
        if (received.length < 2 + length) return;
        if (!onMessage(received.subarray(2, 2 + length), 'tcp')) finish(false, `tcp reply: not a reply to this query (${lastForeign})`);
      });
      socket.on('end', () => finish(false, `${phase}: closed by the server before a whole reply`));
      socket.on('error', (err) => finish(false, `${phase}: ${errorText(err)}`));
    };

    try {
      udp = createSocket({ type: isIPv6(target.address) ? 'udp6' : 'udp4' });
    } catch (err) {
      finish(false, `socket: ${errorText(err)}`);
      return;
    }
    const socket = udp;
    socket.on('error', (err: Error & { code?: string }) => {
      finish(false, `${phase}: ${err.code === 'ECONNREFUSED' ? 'ICMP port unreachable (ECONNREFUSED)' : errorText(err)}`);
    });
    socket.on('message', (message) => {
      onMessage(message, 'udp');
    });
    const send = (): void =>
      socket.connect(port, target.address, () => {
        socket.send(query, (err) => {
          if (err) finish(false, `${phase}: ${errorText(err)}`);
        });
      });
    if (o.bind_to) socket.bind({ address: o.bind_to, port: 0 }, send);
    else send();
  });
}

export const plugin: CheckPlugin<DnsCheckOptions> = {
  type: 'dns',
  description: 'DNS query (name, query_type) over UDP, TCP when truncated; up on expect_rcode and, if given, expect_answers',
  options,
  run: runDns,
};
