// The DNS check's pure part: the query it sends and what it makes of the reply.
// The wire codec is dns-packet's; this file decides which reply belongs to the
// query, how each record type reads as text, and whether the answers are the
// expected ones. No sockets here.
import dnsPacket from 'dns-packet';
import { canonicalIp } from '../../src/net/address.js';

export const QUERY_TYPES = ['A', 'AAAA', 'CNAME', 'MX', 'TXT', 'SOA', 'NS', 'PTR', 'SRV', 'CAA'] as const;
export type QueryType = (typeof QUERY_TYPES)[number];
export const RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'] as const;

export function encodeQuery(id: number, name: string, type: QueryType, recursionDesired: boolean): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id,
    flags: recursionDesired ? dnsPacket.RECURSION_DESIRED : 0,
    questions: [{ type, name, class: 'IN' }],
  });
}

/** A domain name as compared: lower case, no trailing dot. */
export function normalizeName(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

/** How a record reads in `expect_answers` and in reasons: "10.0.0.1", "10 mx.example.com", "v=spf1 -all". */
export function recordText(type: QueryType, data: unknown): string {
  switch (type) {
    case 'A':
    case 'AAAA':
      return canonicalIp(String(data)) ?? String(data);
    case 'CNAME':
    case 'NS':
    case 'PTR':
      return normalizeName(String(data));
    case 'MX': {
      const mx = data as { preference?: number; exchange: string };
      return `${mx.preference ?? 0} ${normalizeName(mx.exchange)}`;
    }
    case 'TXT': {
      // A TXT record is a list of strings; a check compares their concatenation (as dig +short shows them joined).
      const parts = Array.isArray(data) ? data : [data];
      return parts.map((p) => (Buffer.isBuffer(p) ? p.toString('utf8') : String(p))).join('');
    }
    case 'SOA': {
      const s = data as {
        mname: string;
        rname: string;
        serial?: number;
        refresh?: number;
        retry?: number;
        expire?: number;
        minimum?: number;
      };
      return [normalizeName(s.mname), normalizeName(s.rname), s.serial, s.refresh, s.retry, s.expire, s.minimum].join(' ');
    }
    case 'SRV': {
      const s = data as { priority?: number; weight?: number; port?: number; target: string };
      return `${s.priority ?? 0} ${s.weight ?? 0} ${s.port ?? 0} ${normalizeName(s.target)}`;
    }
    case 'CAA': {
      const c = data as { flags?: number; tag: string; value: string };
      return `${c.flags ?? 0} ${c.tag} "${c.value}"`;
    }
  }
}

/** An expected answer as written in the config, in the form recordText gives. */
export function normalizeExpected(type: QueryType, text: string): string {
  const t = text.trim();
  switch (type) {
    case 'A':
    case 'AAAA':
      return canonicalIp(t) ?? t;
    case 'CNAME':
    case 'NS':
    case 'PTR':
      return normalizeName(t);
    case 'TXT':
      return t;
    default: {
      // The last word of MX, SOA's first two and SRV's target are names.
      const words = t.split(/\s+/);
      if (type === 'MX' || type === 'SRV') words[words.length - 1] = normalizeName(words[words.length - 1]!);
      if (type === 'SOA') for (const i of [0, 1]) if (words[i] !== undefined) words[i] = normalizeName(words[i]);
      return words.join(' ');
    }
  }
}

export type DnsReply =
  | { kind: 'answer'; rcode: string; truncated: boolean; answers: string[] }
  /** Not a reply to this query (another id, question or a query): keep waiting. */
  | { kind: 'foreign'; why: string }
  | { kind: 'malformed'; why: string };

/** Reads a reply to the query (id, name, type); the answers are the records of the asked type, as recordText gives them. */
export function readReply(message: Buffer, id: number, name: string, type: QueryType): DnsReply {
  if (message.length < 12) return { kind: 'malformed', why: `${message.length} bytes, shorter than a DNS header` };
  if (message.readUInt16BE(0) !== id) return { kind: 'foreign', why: `id ${message.readUInt16BE(0)}, not ${id}` };
  let packet: ReturnType<typeof dnsPacket.decode> & { rcode?: string };
  try {
    packet = dnsPacket.decode(message);
  } catch (err) {
    return { kind: 'malformed', why: `cannot decode: ${(err as Error).message}` };
  }
  // dns-packet reads a record cut short without complaint; it then says it read past the end.
  if (dnsPacket.decode.bytes > message.length)
    return { kind: 'malformed', why: `cut short: ${message.length} bytes of ${dnsPacket.decode.bytes}` };
  if (!packet.flag_qr) return { kind: 'foreign', why: 'a query, not a response' };
  const question = packet.questions?.[0];
  // A truncated reply may carry no question at all; one that has one must be ours.
  if (question && (normalizeName(question.name) !== normalizeName(name) || question.type !== type)) {
    return { kind: 'foreign', why: `answers ${question.name} ${question.type}` };
  }
  const answers = (packet.answers ?? [])
    // Any owner name: asking for the A of an alias gets its CNAME and the target's A.
    .filter((a) => a.type === type)
    .map((a) => recordText(type, (a as { data: unknown }).data));
  return { kind: 'answer', rcode: packet.rcode ?? 'NOERROR', truncated: packet.flag_tc, answers };
}

export type AnswersMatch = 'exact' | 'contains';

/** Why the answers are not the expected ones, or undefined when they are. */
export function answersProblem(got: readonly string[], expected: readonly string[], match: AnswersMatch): string | undefined {
  const have = new Set(got);
  const want = new Set(expected);
  const missing = [...want].filter((a) => !have.has(a));
  const extra = match === 'exact' ? [...have].filter((a) => !want.has(a)) : [];
  if (missing.length === 0 && extra.length === 0) return undefined;
  const list = (xs: string[]) => xs.map((x) => JSON.stringify(x)).join(', ');
  const parts = [];
  if (missing.length) parts.push(`missing ${list(missing)}`);
  if (extra.length) parts.push(`unexpected ${list(extra)}`);
  return `answers [${list([...have].sort())}]: ${parts.join('; ')}`;
}
