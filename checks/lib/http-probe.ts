// The HTTP(S) probe shared by checks/http.ts and checks/https.ts (this folder is
// not scanned for plugins). Every probe opens a fresh connection and closes it:
// a check must prove the server still accepts connections, and a kept-alive
// socket would keep answering from a server that stopped accepting new ones.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import { z } from 'zod';
import type { CheckResult, CheckTarget } from '../../src/health/check.js';
import { abortText, clip, elapsedSince, errorText } from '../../src/health/check-helpers.js';

const validRegex = (s: string): boolean => { try { new RegExp(s); return true; } catch { return false; } };

/** 200, "200", or a range "200-299". */
const statusEntry = z.union([
  z.number().int().min(100).max(599),
  z.string().regex(/^\d{3}(-\d{3})?$/, 'a status code like "200" or a range like "200-299"'),
]);

export const httpOptionsShape = {
  method: z.string().regex(/^[A-Z]+$/, 'an upper-case HTTP method').default('GET'),
  path: z.string().startsWith('/').default('/'),
  /** Host header; defaults to address:port. */
  host: z.string().min(1).optional(),
  headers: z.record(z.string(), z.string()).default({}),
  /** Status codes that mean up: numbers and "200-299" ranges. keepalived: status_code. */
  expect_status: z.union([statusEntry, z.array(statusEntry).min(1)]).default(['200-299']),
  /** A regular expression the (first max_body_bytes of the) body must match. */
  expect_body: z.string().refine(validRegex, 'not a valid regular expression').optional(),
  /** SHA-256 of the whole body, hex (keepalived's `digest`, which is MD5 there). */
  digest: z.string().regex(/^[0-9a-fA-F]{64}$/, '64 hex digits (SHA-256)').optional(),
  connect_port: z.number().int().min(1).max(65535).optional(),
  bind_to: z.union([z.ipv4(), z.ipv6()]).optional(),
  /** Bytes of body read at most; a longer body is cut (and fails a digest check). */
  max_body_bytes: z.number().int().min(0).max(16 << 20).default(65536),
};

export const tlsOptionsShape = {
  /** SNI and the name the certificate must carry; defaults to the Host header. */
  tls_server_name: z.string().min(1).optional(),
  /** Verify the server certificate (chain and name). */
  tls_verify: z.boolean().default(true),
  /** PEM file of CA certificates to trust instead of the system's. */
  ca_file: z.string().min(1).optional(),
};

export const httpOptions = z.object(httpOptionsShape).strict();
export const httpsOptions = z.object({ ...httpOptionsShape, ...tlsOptionsShape }).strict();
export type HttpCheckOptions = z.infer<typeof httpOptions>;
export type HttpsCheckOptions = z.infer<typeof httpsOptions>;
type ProbeOptions = HttpCheckOptions & Partial<z.infer<z.ZodObject<typeof tlsOptionsShape>>>;

type StatusRange = readonly [number, number];

const statusCache = new WeakMap<object, StatusRange[]>();
function statusRanges(o: ProbeOptions): StatusRange[] {
  let ranges = statusCache.get(o);
  if (!ranges) {
    const entries = Array.isArray(o.expect_status) ? o.expect_status : [o.expect_status];
    ranges = entries.map((e): StatusRange => {
      if (typeof e === 'number') return [e, e];
      const [lo, hi] = e.split('-').map(Number) as [number, number | undefined];
      return [lo, hi ?? lo];
    });
    statusCache.set(o, ranges);
  }
  return ranges;
}

function describeStatus(o: ProbeOptions): string {
  return (Array.isArray(o.expect_status) ? o.expect_status : [o.expect_status]).join(',');
}

// One agent per distinct connection setup (TLS trust, SNI, source address), shared by
// all targets: agents hold no idle sockets (pipelining 0 = no keep-alive), so 10,000
// targets cost 10,000 short connections a second and nothing in between.
const agents = new Map<string, Agent>();
function agentFor(o: ProbeOptions, tls: boolean): Agent {
  const key = JSON.stringify([tls, o.bind_to ?? '', o.tls_verify ?? true, o.ca_file ?? '', o.tls_server_name ?? '']);
  let agent = agents.get(key);
  if (!agent) {
    const connect: Record<string, unknown> = { noDelay: true };
    if (tls) {
      connect.rejectUnauthorized = o.tls_verify ?? true;
      if (o.ca_file) connect.ca = readFileSync(o.ca_file);
      if (o.tls_server_name) connect.servername = o.tls_server_name;
      // Session resumption would skip the full handshake the check is meant to test.
      connect.maxCachedSessions = 0;
    }
    agent = new Agent({ pipelining: 0, connect, headersTimeout: 0, bodyTimeout: 0, ...(o.bind_to ? { localAddress: o.bind_to } : {}) });
    agents.set(key, agent);
  }
  return agent;
}

/** Closes the shared agents (tests, shutdown). */
export async function closeHttpAgents(): Promise<void> {
  const all = [...agents.values()];
  agents.clear();
  await Promise.all(all.map((a) => a.close()));
}

/** Drops a body we do not need; undici reports the destroy as an 'error' that must be caught. */
function discard(body: NodeJS.ReadableStream & { destroy(): void }): void {
  body.on('error', () => {});
  body.destroy();
}

function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

export async function probeHttp(target: CheckTarget, o: ProbeOptions, signal: AbortSignal, tls: boolean): Promise<CheckResult> {
  const started = performance.now();
  const port = o.connect_port ?? target.port;
  let phase = 'request';
  const fail = (reason: string): CheckResult => ({ ok: false, reason, latencyMs: elapsedSince(started) });
  try {
    const headers: Record<string, string> = { 'user-agent': 'failoverd-check', ...o.headers };
    if (o.host) headers.host = o.host;
    const response = await request(`${tls ? 'https' : 'http'}://${hostPort(target.address, port)}${o.path}`, {
      method: o.method as 'GET',
      headers,
      dispatcher: agentFor(o, tls),
      signal,
    });
    const status = response.statusCode;
    if (!statusRanges(o).some(([lo, hi]) => status >= lo && status <= hi)) {
      discard(response.body);
      return fail(`status ${status} not in ${describeStatus(o)}`);
    }
    if (o.expect_body === undefined && o.digest === undefined) {
      discard(response.body);
      return { ok: true, reason: `status ${status}`, latencyMs: elapsedSince(started) };
    }
    phase = 'body';
    const hash = o.digest ? createHash('sha256') : undefined;
    const parts: Buffer[] = [];
    let size = 0;
    let cut = false;
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      const room = o.max_body_bytes - size;
      const piece = chunk.length > room ? chunk.subarray(0, room) : chunk;
      parts.push(piece);
      hash?.update(piece);
      size += piece.length;
      if (chunk.length > room) { cut = true; break; }
    }
    if (o.digest) {
      if (cut) return fail(`body longer than max_body_bytes ${o.max_body_bytes}, cannot check digest`);
      const got = hash!.digest('hex');
      if (got !== o.digest.toLowerCase()) return fail(`body sha256 ${got.slice(0, 12)}… differs from digest ${o.digest.slice(0, 12).toLowerCase()}…`);
    }
    if (o.expect_body !== undefined) {
      const body = Buffer.concat(parts).toString('utf8');
      if (!new RegExp(o.expect_body).test(body)) {
        return fail(`body ${JSON.stringify(clip(body, 60))} does not match /${o.expect_body}/`);
      }
    }
    return { ok: true, reason: `status ${status}, body matches`, latencyMs: elapsedSince(started) };
  } catch (err) {
    if (signal.aborted) return fail(`${phase}: ${abortText(signal)}`);
    return fail(`${phase}: ${errorText(err)}`);
  }
}
