// The default http/https probe: a fresh connection per check (net.connect, or
// tls.connect with a full handshake), one prebuilt request with `connection: close`,
// the response read by http-response.ts, then the connection closed. No HTTP client
// library: at thousands of checks a second undici's per-connection parser, request
// objects and the error it builds for every closed connection cost more than the
// connection itself (docs/health.md, "Measured").
//
// Kept cheap on purpose: what a target needs (the request bytes, the connect
// options) is built once per target; every connection reads into one shared buffer
// (a read is parsed before the next can happen); the socket listeners are shared
// functions that find their run on the socket; a run is one object, which is also
// its abort listener. A successful check builds no Error.
import { connect as netConnect, type Socket, type TcpNetConnectOpts } from 'node:net';
import type * as Tls from 'node:tls';
import type { ConnectionOptions, SecureContext } from 'node:tls';
import { readFileSync } from 'node:fs';
import type { CheckResult, CheckTarget } from '../../src/health/check.js';
import { abortText, elapsedSince, errorText } from '../../src/health/check-helpers.js';
import { BodyCollector, planFor, statusExpected, statusReason, type Plan } from './http-plan.js';
import type { ProbeOptions } from './http-probe.js';
import { ResponseReader, type BodySink } from './http-response.js';

const RUN = Symbol('failoverd.httpRun');
type ProbeSocket = Socket & { [RUN]?: FreshRun | undefined };

const READ_BUFFER = Buffer.allocUnsafe(65536);
const ON_READ = { buffer: READ_BUFFER, callback: onSocketRead };

// The TLS module is loaded with the first https check, not with every agent.
let tlsModule: typeof Tls | undefined;
const tls = (): typeof Tls => (tlsModule ??= process.getBuiltinModule('node:tls'));

// One secure context per CA file (or none: the default roots), made when the first
// target with these options is set up: tls.connect would otherwise build one, and
// parse the CA file, for every connection. Session resumption stays off: Node's
// client resumes only when handed a session, and none is (every check is a full handshake).
const contexts = new WeakMap<object, SecureContext | string>();
function secureContextFor(o: ProbeOptions): SecureContext | string {
  let context = contexts.get(o);
  if (context === undefined) {
    try {
      context = tls().createSecureContext(o.ca_file ? { ca: readFileSync(o.ca_file) } : {});
    } catch (err) {
      context = `ca_file ${o.ca_file}: ${errorText(err)}`;
    }
    contexts.set(o, context);
  }
  return context;
}

function bracketed(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}

/** The name TLS sends (SNI) and verifies: tls_server_name, else the Host option's name unless it is an address. */
function serverName(o: ProbeOptions): string | undefined {
  if (o.tls_server_name) return o.tls_server_name;
  if (!o.host) return undefined;
  const name = o.host.startsWith('[') ? o.host.slice(1, o.host.indexOf(']')) : o.host.replace(/:\d*$/, '');
  return /^[\d.]+$/.test(name) || name.includes(':') ? undefined : name;
}

// What a target needs, built once and kept with the target object (the monitor
// passes the same one on every run).
interface Target {
  address: string;
  port: number;
  options: ProbeOptions;
  tls: boolean;
  request: Buffer;
  plain?: TcpNetConnectOpts;
  // tls.connect takes `onread` (it reads into the buffer after decryption); @types/node omits it.
  secure?: ConnectionOptions & { onread: typeof ON_READ };
  setupProblem?: string;
}
const targets = new WeakMap<CheckTarget, Target>();

/** The request bytes: what undici sent for these options (its Host spelling, `content-length: 0` where a body is expected). */
export function requestBytes(o: ProbeOptions, address: string, port: number, secure: boolean): Buffer {
  const defaultPort = secure ? 443 : 80;
  const host = o.host ?? (port === defaultPort ? bracketed(address) : `${bracketed(address)}:${port}`);
  let head = `${o.method} ${o.path} HTTP/1.1\r\nhost: ${host}\r\nconnection: close\r\n`;
  if (o.method === 'POST' || o.method === 'PUT' || o.method === 'PATCH') head += 'content-length: 0\r\n';
  head += 'user-agent: failoverd-check\r\n';
  for (const [name, value] of Object.entries(o.headers)) {
    if (name.toLowerCase() === 'user-agent') head = head.replace('user-agent: failoverd-check\r\n', '');
    head += `${name}: ${value}\r\n`;
  }
  return Buffer.from(`${head}\r\n`, 'latin1');
}

function targetFor(target: CheckTarget, o: ProbeOptions, secure: boolean): Target {
  const port = o.connect_port ?? target.port;
  let t = targets.get(target);
  if (!t || t.options !== o || t.tls !== secure || t.address !== target.address || t.port !== port) {
    t = { address: target.address, port, options: o, tls: secure, request: requestBytes(o, target.address, port, secure) };
    const local = o.bind_to ? { localAddress: o.bind_to } : {};
    if (!secure) {
      // No noDelay: the request is one write on a fresh connection, which Nagle never holds back.
      t.plain = { host: target.address, port, onread: ON_READ, ...local };
    } else {
      const context = secureContextFor(o);
      if (typeof context === 'string') t.setupProblem = context;
      else {
        const name = serverName(o);
        t.secure = {
          host: target.address,
          port,
          secureContext: context,
          rejectUnauthorized: o.tls_verify ?? true,
          onread: ON_READ,
          ...(name ? { servername: name } : {}),
          ...local,
        };
      }
    }
    targets.set(target, t);
  }
  return t;
}

// The socket listeners, shared by every connection: `this` is the socket.
function onSocketRead(this: ProbeSocket, nread: number, buf: Uint8Array): boolean {
  this[RUN]?.bytes(buf as Buffer, nread);
  return true;
}
function onSocketConnect(this: ProbeSocket): void {
  this[RUN]?.connected();
}
function onSocketEnd(this: ProbeSocket): void {
  this[RUN]?.ended();
}
function onSocketError(this: ProbeSocket, err: Error): void {
  this[RUN]?.failed(err);
}

const ONCE = { once: true } as const;

class FreshRun implements BodySink {
  private settled = false;
  private isConnected = false;
  private readonly reader: ResponseReader;
  private readonly collector: BodyCollector | undefined;
  private socket: ProbeSocket | undefined;

  constructor(
    private readonly t: Target,
    private readonly plan: Plan,
    private readonly signal: AbortSignal,
    private readonly started: number,
    private readonly resolve: (r: CheckResult) => void,
  ) {
    this.reader = new ResponseReader(t.options.method === 'HEAD');
    if (plan.needBody) this.collector = new BodyCollector(t.options, plan);
  }

  start(): void {
    const t = this.t;
    if (t.setupProblem) return this.finish(false, `connect: ${t.setupProblem}`);
    if (this.signal.aborted) return this.finish(false, `connect: ${abortText(this.signal)}`);
    let socket: ProbeSocket;
    try {
      if (t.secure) {
        socket = tls().connect(t.secure);
        socket.setNoDelay(true);
        socket.on('secureConnect', onSocketConnect);
      } else {
        socket = netConnect(t.plain!);
        socket.on('connect', onSocketConnect);
      }
    } catch (err) {
      // Options Node refuses before any I/O (none known today): a down result, not a thrown run.
      return this.finish(false, `connect: ${errorText(err)}`);
    }
    socket[RUN] = this;
    socket.on('end', onSocketEnd);
    socket.on('error', onSocketError);
    this.socket = socket;
    this.signal.addEventListener('abort', this, ONCE);
  }

  /** What the check was doing, for a reason. */
  private phase(err?: Error): string {
    const syscall = (err as { syscall?: unknown } | undefined)?.syscall;
    if (syscall === 'connect' || syscall === 'bind' || this.socket?.connecting) return 'connect';
    if (!this.isConnected) return this.t.tls ? 'tls handshake' : 'connect';
    return this.reader.status === 0 ? 'response' : 'body';
  }

  private finish(ok: boolean, reason: string): void {
    if (this.settled) return;
    this.settled = true;
    this.signal.removeEventListener('abort', this);
    const socket = this.socket;
    if (socket) {
      socket[RUN] = undefined;
      // Plain TCP ends with a reset, as the tcp check (and HAProxy's checks) do: no
      // FIN exchange and no TIME_WAIT on either side, at thousands of checks a second.
      // A TLS socket has no reset of its own (its handle is not the TCP one).
      if (!this.t.secure && socket.readyState === 'open') socket.resetAndDestroy();
      else socket.destroy();
    }
    this.resolve({ ok, reason, latencyMs: elapsedSince(this.started) });
  }

  /** The abort listener: the timeout (or a removed check) ends the run, and its connection, whatever stage it is at. */
  handleEvent(): void {
    this.finish(false, `${this.phase()}: ${abortText(this.signal)}`);
  }

  connected(): void {
    this.isConnected = true;
    this.socket!.write(this.t.request);
  }

  /** The sink for body bytes. */
  body(chunk: Buffer, start: number, end: number): void {
    if (this.settled) return;
    // Past max_body_bytes the verdict is in: a digest fails, a pattern sees the first max_body_bytes.
    if (this.collector!.add(chunk, start, end)) this.judgeBody();
  }

  bytes(buf: Buffer, n: number): void {
    const step = this.reader.feed(buf, 0, n, this.collector ? this : NO_BODY_SINK);
    if (!this.settled) this.judge(step);
  }

  ended(): void {
    if (!this.settled) this.judge(this.reader.end());
  }

  failed(err: Error): void {
    if (!this.settled) this.finish(false, `${this.phase(err)}: ${errorText(err)}`);
  }

  private judge(step: ReturnType<ResponseReader['feed']>): void {
    if (step === 'error') return this.finish(false, `${this.phase()}: ${this.reader.error}`);
    const status = this.reader.status;
    if (status === 0) return;
    if (!statusExpected(this.plan, status)) return this.finish(false, `status ${status} not in ${this.plan.statusText}`);
    if (!this.collector) return this.finish(true, statusReason(status));
    if (step === 'done') this.judgeBody();
  }

  private judgeBody(): void {
    const problem = this.collector!.problem();
    this.finish(!problem, problem || `status ${this.reader.status}, body matches`);
  }
}

const NO_BODY_SINK: BodySink = { body: () => {} };

export function probeFresh(target: CheckTarget, o: ProbeOptions, signal: AbortSignal, secure: boolean): Promise<CheckResult> {
  const started = performance.now();
  const t = targetFor(target, o, secure);
  const plan = planFor(o);
  return new Promise((resolve) => new FreshRun(t, plan, signal, started, resolve).start());
}
