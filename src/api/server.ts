import { chmodSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import type { Registry } from 'prom-client';
import type { EventBus } from '../events.js';
import { silentLogger, type Logger } from '../log.js';
import { parseDuration } from './duration.js';
import { formatListenAddress, isLoopback, parseListenAddress, type ListenAddress } from './listen.js';
import { AdminError, type AdminActions, type StatusSource } from './status-types.js';

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
}

export const DEFAULT_SOCKET = '/run/failoverd/failoverd.sock';
const MAX_BODY = 64 * 1024;

export interface ApiServerDeps {
  status: StatusSource;
  admin?: AdminActions;
  metrics?: Registry;
  /** Admin requests are published as admin.* events. */
  bus?: EventBus;
  logger?: Logger;
}

interface Route {
  status: boolean;
  admin: boolean;
}

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/**
 * node:http on a Unix socket (file permissions decide who may talk to the agent),
 * optionally on a loopback address, and a metrics-only listener.
 */
export class ApiServer {
  private readonly servers: Server[] = [];
  private readonly logger: Logger;
  private readonly addresses: string[] = [];

  constructor(private readonly config: ApiConfig, private readonly deps: ApiServerDeps) {
    this.logger = deps.logger ?? silentLogger();
  }

  /** Where it listens, e.g. ["/run/failoverd/failoverd.sock", "127.0.0.1:9595"]. */
  listening(): string[] {
    return [...this.addresses];
  }

  async start(): Promise<void> {
    try {
      if (this.config.socket !== false) {
        await this.listen({ kind: 'unix', path: this.config.socket ?? DEFAULT_SOCKET }, { status: true, admin: true });
      }
      if (this.config.loopback) {
        const address = parseListenAddress(this.config.loopback);
        if (address.kind !== 'tcp' || !isLoopback(address.host)) {
          throw new Error(`api loopback listener must be a loopback HOST:PORT, got "${this.config.loopback}"`);
        }
        await this.listen(address, { status: true, admin: this.config.adminOverTcp === true });
      }
      if (this.config.metrics) {
        const address = parseListenAddress(this.config.metrics);
        await this.listen(address, { status: false, admin: false });
      }
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  async stop(): Promise<void> {
    const servers = this.servers.splice(0);
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    })));
    this.addresses.length = 0;
  }

  private async listen(address: ListenAddress, route: Route): Promise<void> {
    const server = createServer((req, res) => { void this.handle(req, res, route); });
    server.on('clientError', (_err, socket) => socket.destroy());
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
    this.servers.push(server);
    const actual = server.address();
    this.addresses.push(address.kind === 'tcp' && actual && typeof actual === 'object' ? formatListenAddress({ kind: 'tcp', host: actual.address, port: actual.port }) : formatListenAddress(address));
  }

  private async handle(req: IncomingMessage, res: ServerResponse, route: Route): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://failoverd');
    try {
      if (req.method === 'GET' && url.pathname === '/metrics') return await this.metrics(res);
      if (!route.status) throw new HttpError(404, 'this listener serves only /metrics');
      if (req.method === 'GET' && url.pathname === '/status') return sendJson(res, 200, await this.deps.status.snapshot());
      if (req.method === 'GET' && url.pathname === '/healthz') return sendJson(res, 200, { ok: true });
      if (url.pathname.startsWith('/admin/')) {
        if (req.method !== 'POST') throw new HttpError(405, 'admin actions are POST');
        if (!route.admin) throw new HttpError(403, 'admin actions are only accepted on the unix socket');
        return sendJson(res, 200, await this.admin(url.pathname.slice('/admin/'.length), await readJson(req)));
      }
      throw new HttpError(404, `no such endpoint: ${req.method} ${url.pathname}`);
    } catch (err) {
      const status = err instanceof HttpError || err instanceof AdminError ? err.status : 500;
      const message = err instanceof Error ? err.message : String(err);
      if (status >= 500) this.logger.error({ err, path: url.pathname }, 'api request failed');
      if (!res.headersSent) sendJson(res, status, { error: message });
      else res.destroy();
    }
  }

  private async metrics(res: ServerResponse): Promise<void> {
    const registry = this.deps.metrics;
    if (!registry) throw new HttpError(404, 'metrics are not enabled');
    const text = await registry.metrics();
    res.writeHead(200, { 'content-type': registry.contentType });
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
        this.deps.bus?.publish({ type: `admin.${action}`, object: `service/${service}/${realServer}`, to: on ? 'drained' : 'undrained', reason: 'requested over the status API' });
        return { ok: true, action, service, real_server: realServer };
      }
      case 'force-backup':
      case 'release': {
        const instance = text('instance');
        let forMs = 0;
        if (action === 'force-backup') {
          const raw = body.for ?? '5m';
          try {
            forMs = parseDuration(raw as string | number);
          } catch (err) {
            throw new HttpError(400, (err as Error).message);
          }
          if (forMs <= 0) throw new HttpError(400, '"for" must be positive');
        }
        await admin.forceBackup(instance, forMs);
        this.deps.bus?.publish({
          type: `admin.${action}`, object: `vrrp/${instance}`,
          ...(forMs ? { to: 'BACKUP' } : {}),
          reason: forMs ? `forced to BACKUP for ${forMs}ms over the status API` : 'forced backup released over the status API',
          data: { forMs },
        });
        return { ok: true, action, instance, forMs };
      }
      default:
        throw new HttpError(404, `unknown admin action "${action}" (drain, undrain, force-backup, release)`);
    }
  }
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = `${JSON.stringify(value, null, 2)}\n`;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new HttpError(413, 'request body too large');
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return {};
  try {
    const value: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('not an object');
    return value as Record<string, unknown>;
  } catch {
    throw new HttpError(400, 'request body must be a JSON object');
  }
}

function listenOn(server: Server, address: ListenAddress): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(new Error(`cannot listen on ${formatListenAddress(address)}: ${err.message}`));
    server.once('error', onError);
    const done = (): void => { server.off('error', onError); resolve(); };
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
    probe.once('connect', () => { probe.destroy(); resolve(true); });
    probe.once('error', () => resolve(false));
  });
  if (alive) throw new Error(`another process is serving ${path} (is failoverd already running?)`);
  unlinkSync(path);
}
