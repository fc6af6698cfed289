// The HTTP(S) probe shared by checks/http.ts and checks/https.ts (this folder is
// not scanned for plugins). Every probe opens a fresh connection and closes it:
// a check must prove the server still accepts connections, and a kept-alive
// socket would keep answering from a server that stopped accepting new ones.
// `keepalive: true` gives that up, knowingly, for the cost of very large fleets.
import { createHash, type Hash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Client, type Dispatcher } from 'undici';
import { headerValueProblem, httpHeaders } from '../../src/config/http-headers.js';
import { z } from 'zod';
import type { CheckResult, CheckTarget } from '../../src/health/check.js';
import { abortText, clip, elapsedSince, errorText } from '../../src/health/check-helpers.js';
import { plainConnector, type PlainConnector } from './plain-connector.js';

const validRegex = (s: string): boolean => {
  try {
    new RegExp(s);
    return true;
  } catch {
    return false;
  }
};

/** 200, "200", or a range "200-299". */
const statusEntry = z.union([
  z.number().int().min(100).max(599),
  z.string().regex(/^\d{3}(-\d{3})?$/, 'a status code like "200" or a range like "200-299"'),
]);

export const httpOptionsShape = {
  method: z
    .string()
    .regex(/^[A-Z]+$/, 'an upper-case HTTP method')
    .default('GET'),
  path: z.string().startsWith('/').default('/'),
  /** Host header; defaults to address:port. */
  host: z
    .string()
    .min(1)
    .refine((h) => !headerValueProblem(h), headerValueProblem('\n'))
    .optional(),
  headers: httpHeaders(['host']).default({}),
  /** Status codes that mean up: numbers and "200-299" ranges. keepalived: status_code. */
  expect_status: z.union([statusEntry, z.array(statusEntry).min(1)]).default(['200-299']),
  /** A regular expression the (first max_body_bytes of the) body must match. */
  expect_body: z.string().refine(validRegex, 'not a valid regular expression').optional(),
  /** Hex digest of the whole body: 32 digits = MD5 (keepalived's `digest`, `failoverd genhash`), 64 = SHA-256. */
  digest: z
    .string()
    .regex(/^([0-9a-fA-F]{32}|[0-9a-fA-F]{64})$/, '32 hex digits (MD5, as keepalived genhash prints) or 64 (SHA-256)')
    .optional(),
  connect_port: z.number().int().min(1).max(65535).optional(),
  bind_to: z.union([z.ipv4(), z.ipv6()]).optional(),
  /** Bytes of body read at most; a longer body is cut (and fails a digest check). */
  max_body_bytes: z
    .number()
    .int()
    .min(0)
    .max(16 << 20)
    .default(65536),
  /**
   * Reuse one connection between checks. Cheaper, but the check then no longer
   * proves the server accepts new connections; see docs/health.md.
   */
  keepalive: z.boolean().default(false),
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

// What a check's options imply, worked out once per options object (the monitor
// parses a check's options once and passes the same object on every run).
interface Plan {
  ranges: StatusRange[];
  statusText: string;
  needBody: boolean;
  bodyPattern?: RegExp;
  dispatch: Dispatcher.DispatchOptions;
}
const plans = new WeakMap<object, Plan>();

/** The hash a `digest` of this many hex digits names: MD5 is keepalived's (genhash), SHA-256 the stronger choice. */
export function digestAlgorithm(hex: string): 'md5' | 'sha256' {
  return hex.length === 32 ? 'md5' : 'sha256';
}
function planFor(o: ProbeOptions): Plan {
  let plan = plans.get(o);
  if (!plan) {
    const entries = Array.isArray(o.expect_status) ? o.expect_status : [o.expect_status];
    const headerObject: Record<string, string> = { 'user-agent': 'failoverd-check', ...o.headers };
    if (o.host) headerObject.host = o.host;
    const headers = Object.entries(headerObject).flat();
    plan = {
      ranges: entries.map((e): StatusRange => {
        if (typeof e === 'number') return [e, e];
        const [lo, hi] = e.split('-').map(Number) as [number, number | undefined];
        return [lo, hi ?? lo];
      }),
      statusText: entries.join(','),
      needBody: o.expect_body !== undefined || o.digest !== undefined,
      ...(o.expect_body !== undefined ? { bodyPattern: new RegExp(o.expect_body) } : {}),
      dispatch: { path: o.path, method: o.method, headers, ...(o.tls_server_name ? { servername: o.tls_server_name } : {}) },
    };
    plans.set(o, plan);
  }
  return plan;
}

// One undici Client per (target, connection setup), kept between checks: it holds
// no socket in between (pipelining 0 = no keep-alive, a fresh connection every
// check; with `keepalive` it holds one) but saves building a client per request,
// which at 10,000 checks a second is most of the cost. Clients idle for two
// minutes (a removed target) are closed.
interface CachedClient {
  client: Client;
  lastUsed: number;
  connector: PlainConnector | undefined;
}
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

function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

// A target's origin and client key, kept with the target object (the monitor
// passes the same one on every run) so a run builds no strings.
interface TargetKey {
  address: string;
  port: number;
  options: ProbeOptions;
  tls: boolean;
  origin: string;
  key: string;
}
const targetKeys = new WeakMap<CheckTarget, TargetKey>();
function keyFor(target: CheckTarget, o: ProbeOptions, tls: boolean): TargetKey {
  const port = o.connect_port ?? target.port;
  let k = targetKeys.get(target);
  if (!k || k.options !== o || k.tls !== tls || k.address !== target.address || k.port !== port) {
    const origin = `${tls ? 'https' : 'http'}://${hostPort(target.address, port)}`;
    const key = JSON.stringify([
      origin,
      o.bind_to ?? '',
      o.tls_verify ?? true,
      o.ca_file ?? '',
      o.tls_server_name ?? '',
      o.keepalive === true,
    ]);
    k = { address: target.address, port, options: o, tls, origin, key };
    targetKeys.set(target, k);
  }
  return k;
}

function clientFor(k: TargetKey): CachedClient {
  let cached = clients.get(k.key);
  if (!cached) {
    const o = k.options;
    let connector: PlainConnector | undefined;
    let connect: Record<string, unknown> | PlainConnector['connect'];
    if (k.tls) {
      connect = { noDelay: true, rejectUnauthorized: o.tls_verify ?? true };
      if (o.ca_file) connect.ca = readFileSync(o.ca_file);
      if (o.tls_server_name) connect.servername = o.tls_server_name;
      // Session resumption would skip the full handshake the check is meant to test.
      connect.maxCachedSessions = 0;
    } else {
      connector = plainConnector();
      connect = connector.connect;
    }
    const client = new Client(k.origin, {
      pipelining: o.keepalive ? 1 : 0,
      connect,
      headersTimeout: 0,
      bodyTimeout: 0,
      ...(o.bind_to ? { localAddress: o.bind_to } : {}),
    });
    cached = { client, lastUsed: 0, connector };
    clients.set(k.key, cached);
    if (!sweeper) {
      sweeper = setInterval(sweepIdleClients, IDLE_CLIENT_MS / 2);
      sweeper.unref();
    }
  }
  cached.lastUsed = performance.now();
  return cached;
}

/** Closes the cached clients (tests, shutdown). */
export async function closeHttpAgents(): Promise<void> {
  const all = [...clients.values()];
  clients.clear();
  if (sweeper) clearInterval(sweeper);
  sweeper = undefined;
  await Promise.all(all.map((c) => c.client.close().catch(() => {})));
}

interface Controller {
  abort(reason: Error): void;
}

const ONCE = { once: true } as const;

// One probe: the undici dispatch handler and the abort listener (handleEvent) in
// one object, so a run allocates this and its promise rather than a dozen closures.
class ProbeRun {
  private phase: 'connect' | 'response' | 'body' = 'connect';
  private settled = false;
  private controller: Controller | undefined;
  private status = 0;
  private size = 0;
  private cut = false;
  private parts: Buffer[] | undefined;
  private hash: Hash | undefined;

  constructor(
    private readonly o: ProbeOptions,
    private readonly plan: Plan,
    private readonly k: TargetKey,
    private readonly cached: CachedClient,
    private readonly signal: AbortSignal,
    private readonly started: number,
    private readonly resolve: (r: CheckResult) => void,
  ) {
    if (plan.bodyPattern) this.parts = [];
    if (o.digest) this.hash = createHash(digestAlgorithm(o.digest));
  }

  start(): void {
    if (this.signal.aborted) return this.finish(false, `connect: ${abortText(this.signal)}`);
    this.signal.addEventListener('abort', this, ONCE);
    this.cached.client.dispatch(this.plan.dispatch, this);
  }

  private finish(ok: boolean, reason: string): void {
    if (this.settled) return;
    this.settled = true;
    this.signal.removeEventListener('abort', this);
    this.resolve({ ok, reason, latencyMs: elapsedSince(this.started) });
  }

  /** The abort listener. */
  handleEvent(): void {
    const signal = this.signal;
    const reason = signal.reason instanceof Error ? signal.reason : new Error(abortText(signal));
    if (this.controller) {
      this.controller.abort(reason);
    } else {
      // Still connecting: only this target's client is affected, so drop it.
      const cached = this.cached;
      if (clients.get(this.k.key) === cached) clients.delete(this.k.key);
      cached.client.destroy(reason).catch(() => {});
      cached.connector?.abortPending(reason);
    }
    this.finish(false, `${this.phase}: ${abortText(signal)}`);
  }

  private judgeBody(): void {
    const o = this.o;
    if (o.digest) {
      if (this.cut) return this.finish(false, `body longer than max_body_bytes ${o.max_body_bytes}, cannot check digest`);
      const got = this.hash!.digest('hex');
      if (got !== o.digest.toLowerCase()) {
        const want = o.digest.slice(0, 12).toLowerCase();
        return this.finish(false, `body ${digestAlgorithm(o.digest)} ${got.slice(0, 12)}… differs from digest ${want}…`);
      }
    }
    if (this.plan.bodyPattern) {
      const body = Buffer.concat(this.parts!).toString('utf8');
      if (!this.plan.bodyPattern.test(body))
        return this.finish(false, `body ${JSON.stringify(clip(body, 60))} does not match /${o.expect_body}/`);
    }
    this.finish(true, `status ${this.status}, body matches`);
  }

  onRequestStart(c: Controller): void {
    this.controller = c;
    this.phase = 'response';
  }

  onResponseStart(_c: Controller, statusCode: number): void {
    this.status = statusCode;
    let expected = false;
    for (const [lo, hi] of this.plan.ranges)
      if (statusCode >= lo && statusCode <= hi) {
        expected = true;
        break;
      }
    if (!expected) this.finish(false, `status ${statusCode} not in ${this.plan.statusText}`);
    else if (!this.plan.needBody) this.finish(true, `status ${statusCode}`);
    else this.phase = 'body';
  }

  onResponseData(c: Controller, chunk: Buffer): void {
    const max = this.o.max_body_bytes;
    if (this.settled || this.cut || !this.plan.needBody) {
      // The verdict is in; a short rest of a body drains with the connection,
      // a long one is not worth reading.
      this.size += chunk.length;
      if (this.size > max) c.abort(new Error('body not needed'));
      return;
    }
    const room = max - this.size;
    const piece = chunk.length > room ? chunk.subarray(0, room) : chunk;
    this.parts?.push(piece);
    this.hash?.update(piece);
    this.size += chunk.length;
    if (chunk.length > room) {
      this.cut = true;
      this.judgeBody();
      c.abort(new Error('body read cap reached'));
    }
  }

  onResponseEnd(): void {
    // Closing the connection here, before undici does, spares the error object
    // undici would build and format for it ("reset") on every probe.
    if (!this.o.keepalive) this.cached.connector?.closeDone();
    if (this.plan.needBody) this.judgeBody();
    else this.finish(true, `status ${this.status}`);
  }

  onResponseError(_c: Controller, err: Error): void {
    if (this.signal.aborted) this.finish(false, `${this.phase}: ${abortText(this.signal)}`);
    else this.finish(false, `${this.phase}: ${errorText(err)}`);
  }
}

export function probeHttp(target: CheckTarget, o: ProbeOptions, signal: AbortSignal, tls: boolean): Promise<CheckResult> {
  const started = performance.now();
  const k = keyFor(target, o, tls);
  const cached = clientFor(k);
  const plan = planFor(o);
  return new Promise((resolve) => new ProbeRun(o, plan, k, cached, signal, started, resolve).start());
}
