import { chmodSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import type { Duplex } from 'node:stream';
import type { Registry } from 'prom-client';
import { systemClock, type Clock } from '../clock.js';
import type { EventBus } from '../events.js';
import { silentLogger, type Logger } from '../log.js';
import { MAX_DURATION_MS, parseDurationArgument, type DurationRange } from '../config/duration.js';
import { formatListenAddress, isLoopback, parseListenAddress, type ListenAddress } from './listen.js';
import { SharedRender } from './shared-render.js';
import { AdminError, type AdminActions, type StatusSource } from './status-types.js';

/** How long `force-backup` may hold an instance in BACKUP (the API's and the CLI's `for`). */
export const FORCE_BACKUP_RANGE: DurationRange = { minMs: 1, maxMs: MAX_DURATION_MS };

/** The `api:` section, as the config maps it. */
export interface ApiConfig {
  /** Unix socket path; status, metrics and admin actions. Default /run/failoverd/failoverd.sock; false: none. */
  socket?: string | false;
  /** Socket file mode; default 0o660 (owner and group may talk to the agent). */
  socketMode?: number;
  /** Optional loopback HOST:PORT serving status and metrics (admin only with adminOverTcp). */
  loopback?: string;
  /** Allow POST /admin/* on the loopback listener too (any local user could then drain). */
  adminOverTcp?: boolean;
  /** Optional HOST:PORT serving only GET /metrics (any address, for Prometheus). */
  metrics?: string;
  /** Tighter or looser bounds than DEFAULT_HTTP_LIMITS (tests drive short timeouts). */
  limits?: Partial<HttpLimits>;
}

export const DEFAULT_SOCKET = '/run/failoverd/failoverd.sock';
/** /metrics is rendered at most once per this period; concurrent scrapes share one render. */
export const METRICS_CACHE_MS = 1000;

/**
 * Bounds on each listener. Its clients are few (an operator's CLI, one Prometheus,
 * maybe a dashboard), so the limits are tight: a slow or idle client is cut off within
 * seconds and cannot hold file descriptors the health checks need.
 */
export interface HttpLimits {
  /**
   * Open connections per listener; more are closed as soon as they are accepted. Three
   * listeners at the default hold at most 384 descriptors, well inside even the
   * default soft RLIMIT_NOFILE of 1024 (the systemd unit sets 65536).
   */
  maxConnections: number;
  /** The request line and headers must have arrived this long after the request began (slowloris). */
  headersTimeoutMs: number;
  /** The whole request, body included. */
  requestTimeoutMs: number;
  /** An idle kept-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
  /** A connection with no traffic either way (a client that stopped reading) is closed after this. */
  idleTimeoutMs: number;
  /** Request line plus headers. */
  maxHeaderBytes: number;
  /** Admin request bodies. */
  maxBodyBytes: number;
}

export const DEFAULT_HTTP_LIMITS: Readonly<HttpLimits> = {
  maxConnections: 128,
  headersTimeoutMs: 5000,
  requestTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5000,
  idleTimeoutMs: 10_000,
  maxHeaderBytes: 8 * 1024,
  maxBodyBytes: 64 * 1024,
};

export interface ApiServerDeps {
  status: StatusSource;
  admin?: AdminActions;
  metrics?: Registry;
  /** Admin requests are published as admin.* events. */
  bus?: EventBus;
  logger?: Logger;
  /** Ages the cached /metrics render; the system clock by default. */
  clock?: Pick<Clock, 'now'>;
}

interface Route {
  name: string;
  status: boolean;
  admin: boolean;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly allow?: string,
  ) {
    super(message);
  }
}

/**
 * node:http on a Unix socket (file permissions decide who may talk to the agent),
 * optionally on a loopback address, and a metrics-only listener. No request, however
 * malformed, makes a handler throw or reject: it is answered with a 4xx, or cut off.
 */
export class ApiServer {
  private readonly servers: Server[] = [];
  private readonly logger: Logger;
  private readonly addresses: string[] = [];
  private readonly limits: HttpLimits;
  private readonly metricsText: SharedRender<{ contentType: string; text: string }> | undefined;

  constructor(
    private readonly config: ApiConfig,
    private readonly deps: ApiServerDeps,
  ) {
    this.logger = deps.logger ?? silentLogger();
    this.limits = { ...DEFAULT_HTTP_LIMITS, ...config.limits };
    const registry = deps.metrics;
    const clock = deps.clock ?? systemClock;
    if (registry) {
      const render = async (): Promise<{ contentType: string; text: string }> => ({
        contentType: registry.contentType,
        text: await registry.metrics(),
      });
      this.metricsText = new SharedRender(render, METRICS_CACHE_MS, () => clock.now());
    }
  }

  /** Where it listens, e.g. ["/run/failoverd/failoverd.sock", "127.0.0.1:9595"]. */
  listening(): string[] {
    return [...this.addresses];
  }

  async start(): Promise<void> {
    try {
      if (this.config.socket !== false) {
        const route = { name: 'socket', status: true, admin: true };
        await this.listen({ kind: 'unix', path: this.config.socket ?? DEFAULT_SOCKET }, route);
      }
      if (this.config.loopback) {
        const address = parseListenAddress(this.config.loopback);
        if (address.kind !== 'tcp' || !isLoopback(address.host)) {
          throw new Error(`api loopback listener must be a loopback HOST:PORT, got "${this.config.loopback}"`);
        }
        await this.listen(address, { name: 'loopback', status: true, admin: this.config.adminOverTcp === true });
      }
      if (this.config.metrics) {
        const address = parseListenAddress(this.config.metrics);
        await this.listen(address, { name: 'metrics', status: false, admin: false });
      }
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  async stop(): Promise<void> {
    const servers = this.servers.splice(0);
    await Promise.all(
      servers.map(
        (server) =>
          new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeAllConnections();
          }),
      ),
    );
    this.addresses.length = 0;
  }

  private async listen(address: ListenAddress, route: Route): Promise<void> {
    const limits = this.limits;
    const server = createServer(
      {
        maxHeaderSize: limits.maxHeaderBytes,
        headersTimeout: limits.headersTimeoutMs,
        requestTimeout: limits.requestTimeoutMs,
        keepAliveTimeout: limits.keepAliveTimeoutMs,
        // How often the two timeouts above are enforced (Node's default is 30 s).
        connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(limits.headersTimeoutMs / 4))),
        // Checked in handle(), so that the 400 is a JSON error like every other.
        requireHostHeader: false,
      },
      (req, res) => {
        this.handle(req, res, route).catch((err: unknown) => {
          this.logger.error({ err, listener: route.name }, 'api request handler failed');
          res.destroy();
        });
      },
    );
    server.maxConnections = limits.maxConnections;
    server.timeout = limits.idleTimeoutMs;
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => answerClientError(err, socket));
    server.on('drop', () => this.logger.debug({ listener: route.name }, 'api connection refused: too many open'));
    if (address.kind === 'unix') {
      mkdirSync(dirname(address.path), { recursive: true, mode: 0o750 });
      await removeStaleSocket(address.path);
      // Created under a umask that leaves no access to others, then set exactly.
      const old = process.umask(0o117);
      try {
        await listenOn(server, address);
      } finally {
        process.umask(old);
      }
      chmodSync(address.path, this.config.socketMode ?? 0o660);
    } else {
      await listenOn(server, address);
    }
    // After listening, an error (EMFILE on accept) must not reach the process as an unhandled 'error'.
    server.on('error', (err) => this.logger.warn({ err, listener: route.name }, 'api listener error'));
    this.servers.push(server);
    const actual = server.address();
    this.addresses.push(
      address.kind === 'tcp' && actual && typeof actual === 'object'
        ? formatListenAddress({ kind: 'tcp', host: actual.address, port: actual.port })
        : formatListenAddress(address),
    );
  }

  /** Answers every request; never throws or rejects (a failure becomes a JSON error). */
  private async handle(req: IncomingMessage, res: ServerResponse, route: Route): Promise<void> {
    // A write after the response ended is reported as an 'error' event, not thrown.
    res.on('error', (err) => this.logger.debug({ err, listener: route.name }, 'api response error'));
    let path = '';
    try {
      path = requestPath(req.url);
      if (req.httpVersion === '1.1' && req.headers.host === undefined) {
        throw new HttpError(400, 'HTTP/1.1 needs a Host header');
      }
      if (path === '/metrics') {
        allowOnly(req, 'GET');
        return await this.metrics(res);
      }
      if (!route.status) throw new HttpError(404, 'this listener serves only /metrics');
      if (path === '/status') {
        allowOnly(req, 'GET');
        reply(res, 200, await this.deps.status.snapshot());
        return;
      }
      if (path === '/healthz') {
        allowOnly(req, 'GET');
        reply(res, 200, { ok: true });
        return;
      }
      if (path.startsWith('/admin/')) {
        allowOnly(req, 'POST');
        if (!route.admin) throw new HttpError(403, 'admin actions are only accepted on the unix socket');
        const body = await readJson(req, this.limits.maxBodyBytes);
        reply(res, 200, await this.admin(path.slice('/admin/'.length), body));
        return;
      }
      throw new HttpError(404, `no such endpoint: ${path.length > 100 ? `${path.slice(0, 100)}…` : path}`);
    } catch (err) {
      const status = err instanceof HttpError || err instanceof AdminError ? err.status : 500;
      const message = err instanceof Error ? err.message : String(err);
      if (status >= 500) this.logger.error({ err, path, listener: route.name }, 'api request failed');
      const allow = err instanceof HttpError ? err.allow : undefined;
      if (!reply(res, status, { error: message }, allow ? { allow } : {})) res.destroy();
    }
  }

  private async metrics(res: ServerResponse): Promise<void> {
    if (!this.metricsText) throw new HttpError(404, 'metrics are not enabled');
    const { contentType, text } = await this.metricsText.get();
    if (!writable(res)) return;
    res.writeHead(200, { 'content-type': contentType, 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  private async admin(action: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
    const admin = this.deps.admin;
    if (!admin) throw new HttpError(501, 'this agent does not accept admin actions');
    const text = (key: string, alt?: string): string => {
      const value = body[key] ?? (alt ? body[alt] : undefined);
      if (typeof value !== 'string' || !value) throw new HttpError(400, `"${key}" is required (a string)`);
      return value;
    };
    switch (action) {
      case 'drain':
      case 'undrain': {
        const service = text('service');
        const realServer = text('real_server', 'realServer');
        const on = action === 'drain';
        await admin.drain(service, realServer, on);
        this.deps.bus?.publish({
          type: `admin.${action}`,
          object: `service/${service}/${realServer}`,
          to: on ? 'drained' : 'undrained',
          reason: 'requested over the status API',
        });
        return { ok: true, action, service, real_server: realServer };
      }
      case 'force-backup':
      case 'release': {
        const instance = text('instance');
        let forMs = 0;
        if (action === 'force-backup') {
          const raw = body.for ?? '5m';
          try {
            forMs = parseDurationArgument(raw, FORCE_BACKUP_RANGE);
          } catch (err) {
            throw new HttpError(400, (err as Error).message);
          }
        }
        await admin.forceBackup(instance, forMs);
        this.deps.bus?.publish({
          type: `admin.${action}`,
          object: `vrrp/${instance}`,
          ...(forMs ? { to: 'BACKUP' } : {}),
          reason: forMs ? `forced to BACKUP for ${forMs}ms over the status API` : 'forced backup released over the status API',
          data: { forMs },
        });
        return { ok: true, action, instance, forMs };
      }
      case 'maintenance': {
        const service = text('service');
        const on = body.on;
        if (typeof on !== 'boolean') throw new HttpError(400, '"on" is required (true or false)');
        await admin.maintenance(service, on);
        this.deps.bus?.publish({
          type: 'admin.maintenance',
          object: `service/${service}`,
          to: on ? 'on' : 'off',
          reason: `maintenance ${on ? 'on' : 'off'} over the status API: every real server ${on ? 'drained' : 'undrained'}`,
        });
        return { ok: true, action, service, on };
      }
      case 'resign': {
        const instance = text('instance');
        const wasMaster = await admin.resign(instance);
        this.deps.bus?.publish({
          type: 'admin.resign',
          object: `vrrp/${instance}`,
          ...(wasMaster ? { from: 'MASTER', to: 'BACKUP' } : {}),
          reason: wasMaster ? 'resigned over the status API' : 'resign requested over the status API; not master, nothing to do',
          data: { wasMaster },
        });
        return { ok: true, action, instance, wasMaster };
      }
      case 'audit': {
        // A repair publishes ipvs.drift from the reconciler; the audit itself changes nothing else.
        const result = await admin.auditIpvs();
        return { ok: true, action, ...result };
      }
      default:
        throw new HttpError(404, `unknown admin action "${action}" (drain, undrain, maintenance, force-backup, release, resign, audit)`);
    }
  }
}

/** A response can still be started: no header sent, and the connection not gone. */
function writable(res: ServerResponse): boolean {
  return !res.headersSent && !res.writableEnded && !res.destroyed && res.socket !== null && !res.socket.destroyed;
}

/** Sends a JSON answer; false when the response could not be started any more. */
function reply(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): boolean {
  if (!writable(res)) return false;
  const body = `${JSON.stringify(value, null, 2)}\n`;
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    // After an error, the rest of what the client sent (an unread body, pipelined requests) is not worth reading.
    ...(status >= 400 ? { connection: 'close' } : {}),
  });
  res.end(body);
  return true;
}

function allowOnly(req: IncomingMessage, method: 'GET' | 'POST'): void {
  if (req.method !== method) {
    throw new HttpError(405, `${req.method ?? '?'} is not allowed here (only ${method})`, method);
  }
}

/**
 * The path of an origin-form request target ("/status?x" → "/status"). Anything else
 * is a 400: an absolute URL, "*", or a target starting with "//", which URL parsers
 * read as a host and port ("//x:99999").
 */
export function requestPath(target: string | undefined): string {
  if (!target || !target.startsWith('/') || target.startsWith('//')) {
    throw new HttpError(400, 'malformed request target (expected a path such as /status)');
  }
  const end = target.search(/[?#]/);
  const path = end < 0 ? target : target.slice(0, end);
  if (!/^[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*$/.test(path)) throw new HttpError(400, 'malformed request target');
  return path;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

async function readJson(req: IncomingMessage, maxBytes: number): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > maxBytes) throw new HttpError(413, 'request body too large');
      chunks.push(chunk as Buffer);
    }
  } catch (err) {
    if (err instanceof HttpError) throw err;
    // The client went away (or timed out) mid-body: its fault, not the agent's.
    throw new HttpError(400, 'request body not received (the connection ended)');
  }
  if (size === 0) return {};
  let text: string;
  try {
    text = utf8.decode(Buffer.concat(chunks));
  } catch {
    throw new HttpError(400, 'request body is not UTF-8');
  }
  try {
    const value: unknown = JSON.parse(text);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('not an object');
    return value as Record<string, unknown>;
  } catch {
    throw new HttpError(400, 'request body must be a JSON object');
  }
}

const CLIENT_ERRORS: Record<string, { status: number; reason: string; message: string }> = {
  HPE_HEADER_OVERFLOW: { status: 431, reason: 'Request Header Fields Too Large', message: 'request headers too large' },
  HPE_CHUNK_EXTENSIONS_OVERFLOW: { status: 413, reason: 'Payload Too Large', message: 'chunk extensions too large' },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, reason: 'Request Timeout', message: 'request not received in time' },
};

/**
 * A request the HTTP parser refused, or one that timed out: answered (400, 408, 413, 431)
 * when nothing of a response was written yet and the peer can still be written to, then
 * the connection is closed. What the peer sent is never echoed.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  const inFlight = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;
  const peerGone = err.code === 'ECONNRESET' || err.code === 'EPIPE';
  if (!peerGone && socket.writable && !inFlight?.headersSent) {
    const known = err.code ? CLIENT_ERRORS[err.code] : undefined;
    const { status, reason, message } = known ?? {
      status: 400,
      reason: 'Bad Request',
      message: `malformed request${err.code ? ` (${err.code})` : ''}`,
    };
    const body = `${JSON.stringify({ error: message })}\n`;
    socket.write(
      `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json; charset=utf-8\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

function listenOn(server: Server, address: ListenAddress): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(new Error(`cannot listen on ${formatListenAddress(address)}: ${err.message}`));
    server.once('error', onError);
    const done = (): void => {
      server.off('error', onError);
      resolve();
    };
    if (address.kind === 'unix') server.listen(address.path, done);
    else server.listen(address.port, address.host, done);
  });
}

/**
 * A socket file left by a crashed agent is removed; one that still answers belongs
 * to a running agent, and a non-socket file is never touched.
 */
export async function removeStaleSocket(path: string): Promise<void> {
  let stat;
  try {
    stat = lstatSync(path);
  } catch {
    return;
  }
  if (!stat.isSocket()) throw new Error(`${path} exists and is not a socket; refusing to replace it`);
  const alive = await new Promise<boolean>((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (alive) throw new Error(`another process is serving ${path} (is failoverd already running?)`);
  unlinkSync(path);
}
