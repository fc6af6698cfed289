// The opt-in `keepalive: true` http/https probe: one undici Client per target holds
// one connection and reuses it between checks. Loaded only when a check asks for it
// (http-probe.ts imports it on first use): the default probe (http-fresh.ts) needs no
// HTTP client library. undici is kept here because reusing a connection needs what a
// client does well: knowing when a response ends, and when the server closed an
// idle connection under it.
import { readFileSync } from 'node:fs';
import { Client, type Dispatcher } from 'undici';
import type { CheckResult, CheckTarget } from '../../src/health/check.js';
import { abortText, elapsedSince, errorText } from '../../src/health/check-helpers.js';
import { BodyCollector, planFor, statusExpected, statusReason, type Plan } from './http-plan.js';
import type { ProbeOptions } from './http-probe.js';
import { plainConnector, type PlainConnector } from './plain-connector.js';

// The request as undici takes it, once per options object.
const dispatches = new WeakMap<object, Dispatcher.DispatchOptions>();
function dispatchFor(o: ProbeOptions): Dispatcher.DispatchOptions {
  let d = dispatches.get(o);
  if (!d) {
    const headerObject: Record<string, string> = { 'user-agent': 'failoverd-check', ...o.headers };
    if (o.host) headerObject.host = o.host;
    d = {
      path: o.path,
      method: o.method,
      headers: Object.entries(headerObject).flat(),
      ...(o.tls_server_name ? { servername: o.tls_server_name } : {}),
    };
    dispatches.set(o, d);
  }
  return d;
}

// One Client per (target, connection setup), kept between checks; clients idle for
// two minutes (a removed target) are closed.
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

// A target's origin and client key, kept with the target object so a run builds no strings.
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
    const key = JSON.stringify([origin, o.bind_to ?? '', o.tls_verify ?? true, o.ca_file ?? '', o.tls_server_name ?? '']);
    k = { address: target.address, port, options: o, tls, origin, key };
    targetKeys.set(target, k);
  }
  return k;
}

function clientFor(k: TargetKey): CachedClient {
  const { origin, key, tls, options: o } = k;
  let cached = clients.get(key);
  if (!cached) {
    let connector: PlainConnector | undefined;
    let connect: Record<string, unknown> | PlainConnector['connect'];
    if (tls) {
      connect = { noDelay: true, rejectUnauthorized: o.tls_verify ?? true };
      if (o.ca_file) connect.ca = readFileSync(o.ca_file);
      if (o.tls_server_name) connect.servername = o.tls_server_name;
      // Session resumption would skip the full handshake a new connection is meant to test.
      connect.maxCachedSessions = 0;
    } else {
      connector = plainConnector();
      connect = connector.connect;
    }
    const client = new Client(origin, {
      pipelining: 1,
      connect,
      headersTimeout: 0,
      bodyTimeout: 0,
      ...(o.bind_to ? { localAddress: o.bind_to } : {}),
    });
    cached = { client, lastUsed: 0, connector };
    clients.set(key, cached);
    if (!sweeper) {
      sweeper = setInterval(sweepIdleClients, IDLE_CLIENT_MS / 2);
      sweeper.unref();
    }
  }
  cached.lastUsed = performance.now();
  return cached;
}

/** Closes the cached clients (tests, shutdown). */
export async function closeKeepaliveClients(): Promise<void> {
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

// One probe: the undici dispatch handler and the abort listener (handleEvent) in one object.
class KeepaliveRun {
  private phase: 'connect' | 'response' | 'body' = 'connect';
  private settled = false;
  private controller: Controller | undefined;
  private status = 0;
  private drained = 0;
  private readonly body: BodyCollector | undefined;

  constructor(
    private readonly o: ProbeOptions,
    private readonly plan: Plan,
    private readonly key: string,
    private readonly cached: CachedClient,
    private readonly signal: AbortSignal,
    private readonly started: number,
    private readonly resolve: (r: CheckResult) => void,
  ) {
    if (plan.needBody) this.body = new BodyCollector(o, plan);
  }

  start(): void {
    if (this.signal.aborted) return this.finish(false, `connect: ${abortText(this.signal)}`);
    this.signal.addEventListener('abort', this, ONCE);
    this.cached.client.dispatch(dispatchFor(this.o), this);
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
      if (clients.get(this.key) === cached) clients.delete(this.key);
      cached.client.destroy(reason).catch(() => {});
      cached.connector?.abortPending(reason);
    }
    this.finish(false, `${this.phase}: ${abortText(signal)}`);
  }

  private judgeBody(): void {
    const problem = this.body!.problem();
    this.finish(!problem, problem || `status ${this.status}, body matches`);
  }

  onRequestStart(c: Controller): void {
    this.controller = c;
    this.phase = 'response';
  }

  onResponseStart(_c: Controller, statusCode: number): void {
    this.status = statusCode;
    if (!statusExpected(this.plan, statusCode)) this.finish(false, `status ${statusCode} not in ${this.plan.statusText}`);
    else if (!this.body) this.finish(true, statusReason(statusCode));
    else this.phase = 'body';
  }

  onResponseData(c: Controller, chunk: Buffer): void {
    if (this.settled || !this.body) {
      // The verdict is in; a short rest of a body drains with the connection,
      // a long one is not worth reading.
      this.drained += chunk.length;
      if (this.drained > this.o.max_body_bytes) c.abort(new Error('body not needed'));
      return;
    }
    if (this.body.add(chunk, 0, chunk.length)) {
      this.judgeBody();
      c.abort(new Error('body read cap reached'));
    }
  }

  onResponseEnd(): void {
    if (this.body) this.judgeBody();
    else this.finish(true, statusReason(this.status));
  }

  onResponseError(_c: Controller, err: Error): void {
    if (this.signal.aborted) this.finish(false, `${this.phase}: ${abortText(this.signal)}`);
    else this.finish(false, `${this.phase}: ${errorText(err)}`);
  }
}

export function probeKeepalive(target: CheckTarget, o: ProbeOptions, signal: AbortSignal, tls: boolean): Promise<CheckResult> {
  const started = performance.now();
  const k = keyFor(target, o, tls);
  let cached: CachedClient;
  try {
    cached = clientFor(k);
  } catch (err) {
    // An unreadable ca_file.
    return Promise.resolve({ ok: false, reason: `connect: ${errorText(err)}`, latencyMs: elapsedSince(started) });
  }
  return new Promise((resolve) => new KeepaliveRun(o, planFor(o), k.key, cached, signal, started, resolve).start());
}
