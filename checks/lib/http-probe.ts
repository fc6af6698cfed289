// The HTTP(S) probe shared by checks/http.ts and checks/https.ts (this folder is
// not scanned for plugins). Every probe opens a fresh connection and closes it:
// a check must prove the server still accepts connections, and a kept-alive
// socket would keep answering from a server that stopped accepting new ones.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Client } from 'undici';
import { z } from 'zod';
import type { CheckResult, CheckTarget } from '../../src/health/check.js';
import { abortText, clip, elapsedSince, errorText } from '../../src/health/check-helpers.js';
import { plainConnector, type PlainConnector } from './plain-connector.js';

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

// One undici Client per (target, connection setup), kept between checks: it holds
// no socket in between (pipelining 0 = no keep-alive, a fresh connection every
// check) but saves building a client per request, which at 10,000 checks a second
// is most of the cost. Clients idle for two minutes (a removed target) are closed.
interface CachedClient { client: Client; lastUsed: number; connector?: PlainConnector }
const clients = new Map<string, CachedClient>();
const IDLE_CLIENT_MS = 120_000;
let sweeper: NodeJS.Timeout | undefined;

function sweepIdleClients(): void {
  const now = performance.now();
  for (const [key, c] of clients) {
    if (now - c.lastUsed > IDLE_CLIENT_MS) {
      clients.delete(key);
      c.client.close().catch(() => {});
    }
  }
  if (clients.size === 0 && sweeper) {
    clearInterval(sweeper);
    sweeper = undefined;
  }
}

function clientFor(origin: string, o: ProbeOptions, tls: boolean): { key: string; cached: CachedClient } {
  const key = JSON.stringify([origin, o.bind_to ?? '', o.tls_verify ?? true, o.ca_file ?? '', o.tls_server_name ?? '']);
  let cached = clients.get(key);
  if (!cached) {
    let connector: PlainConnector | undefined;
    let connect: Record<string, unknown> | PlainConnector['connect'];
    if (tls) {
      connect = { noDelay: true, rejectUnauthorized: o.tls_verify ?? true };
      if (o.ca_file) connect.ca = readFileSync(o.ca_file);
      if (o.tls_server_name) connect.servername = o.tls_server_name;
      // Session resumption would skip the full handshake the check is meant to test.
      connect.maxCachedSessions = 0;
    } else {
      connector = plainConnector();
      connect = connector.connect;
    }
    const client = new Client(origin, { pipelining: 0, connect, headersTimeout: 0, bodyTimeout: 0, ...(o.bind_to ? { localAddress: o.bind_to } : {}) });
    cached = { client, lastUsed: 0, connector };
    clients.set(key, cached);
    if (!sweeper) {
      sweeper = setInterval(sweepIdleClients, IDLE_CLIENT_MS / 2);
      sweeper.unref();
    }
  }
  cached.lastUsed = performance.now();
  return { key, cached };
}

/** Closes the cached clients (tests, shutdown). */
export async function closeHttpAgents(): Promise<void> {
  const all = [...clients.values()];
  clients.clear();
  if (sweeper) clearInterval(sweeper);
  sweeper = undefined;
  await Promise.all(all.map((c) => c.client.close().catch(() => {})));
}

function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

interface Controller { abort(reason: Error): void }

export function probeHttp(target: CheckTarget, o: ProbeOptions, signal: AbortSignal, tls: boolean): Promise<CheckResult> {
  const started = performance.now();
  const port = o.connect_port ?? target.port;
  const needBody = o.expect_body !== undefined || o.digest !== undefined;
  return new Promise((resolve) => {
    let phase = 'connect';
    let settled = false;
    let controller: Controller | undefined;
    let status = 0;
    let size = 0;
    let cut = false;
    const parts: Buffer[] = [];
    const hash = o.digest ? createHash('sha256') : undefined;
    const finish = (ok: boolean, reason: string): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      resolve({ ok, reason, latencyMs: elapsedSince(started) });
    };
    const judgeBody = (): void => {
      if (o.digest) {
        if (cut) return finish(false, `body longer than max_body_bytes ${o.max_body_bytes}, cannot check digest`);
        const got = hash!.digest('hex');
        if (got !== o.digest.toLowerCase()) return finish(false, `body sha256 ${got.slice(0, 12)}… differs from digest ${o.digest.slice(0, 12).toLowerCase()}…`);
      }
      if (o.expect_body !== undefined) {
        const body = Buffer.concat(parts).toString('utf8');
        if (!new RegExp(o.expect_body).test(body)) return finish(false, `body ${JSON.stringify(clip(body, 60))} does not match /${o.expect_body}/`);
      }
      finish(true, `status ${status}, body matches`);
    };
    const origin = `${tls ? 'https' : 'http'}://${hostPort(target.address, port)}`;
    const { key, cached } = clientFor(origin, o, tls);
    const client = cached.client;
    const onAbort = (): void => {
      const reason = signal.reason instanceof Error ? signal.reason : new Error(abortText(signal));
      if (controller) {
        controller.abort(reason);
      } else {
        // Still connecting: only this target's client is affected, so drop it.
        if (clients.get(key) === cached) clients.delete(key);
        client.destroy(reason).catch(() => {});
        cached.connector?.abortPending(reason);
      }
      finish(false, `${phase}: ${abortText(signal)}`);
    };
    if (signal.aborted) return finish(false, `connect: ${abortText(signal)}`);
    signal.addEventListener('abort', onAbort, { once: true });
    const headers: Record<string, string> = { 'user-agent': 'failoverd-check', ...o.headers };
    if (o.host) headers.host = o.host;
    client.dispatch({ path: o.path, method: o.method as 'GET', headers, ...(o.tls_server_name ? { servername: o.tls_server_name } : {}) }, {
      onRequestStart(c: Controller) {
        controller = c;
        phase = 'response';
      },
      onResponseStart(c: Controller, statusCode: number) {
        status = statusCode;
        if (!statusRanges(o).some(([lo, hi]) => status >= lo && status <= hi)) {
          finish(false, `status ${status} not in ${describeStatus(o)}`);
        } else if (!needBody) {
          finish(true, `status ${status}`);
        } else {
          phase = 'body';
        }
      },
      onResponseData(c: Controller, chunk: Buffer) {
        if (settled || cut) {
          // The verdict is in; a short rest of a body drains with the connection,
          // a long one is not worth reading.
          size += chunk.length;
          if (size > o.max_body_bytes) c.abort(new Error('body not needed'));
          return;
        }
        const room = o.max_body_bytes - size;
        const piece = chunk.length > room ? chunk.subarray(0, room) : chunk;
        parts.push(piece);
        hash?.update(piece);
        size += chunk.length;
        if (chunk.length > room) {
          cut = true;
          judgeBody();
          c.abort(new Error('body read cap reached'));
        }
      },
      onResponseEnd() {
        // Closing the connection here, before undici does, spares the error object
        // undici would build and format for it ("reset") on every probe.
        cached.connector?.closeDone();
        if (needBody) judgeBody();
        else finish(true, `status ${status}`);
      },
      onResponseError(_c: Controller, err: Error) {
        if (signal.aborted) finish(false, `${phase}: ${abortText(signal)}`);
        else finish(false, `${phase}: ${errorText(err)}`);
      },
    } as unknown as Parameters<Client['dispatch']>[1]);
  });
}
