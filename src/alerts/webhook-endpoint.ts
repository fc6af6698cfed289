import type { Clock, TimerHandle } from '../clock.js';
import type { AgentEvent } from '../events.js';
import type { Logger } from '../log.js';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffPolicy } from '../backoff.js';
import { ID_HEADER, SIGNATURE_HEADER, signPayload, TIMESTAMP_HEADER } from './signature.js';
import { renderBody, type WebhookTemplate } from './template.js';
import type { WebhookTransport } from './transport.js';

/** One webhook receiver, as the config maps `alerts.webhooks[]` to it. */
export interface WebhookEndpointConfig {
  /** Shown in logs, metrics and status; defaults to the URL with its credentials, path and query redacted. */
  name?: string;
  url: string;
  /**
   * Standard Webhooks keys (`whsec_<base64>`, or any other string used as written), one
   * signature each; none: no signature header. Several while a key is rotated.
   */
  secrets?: string[];
  /** Event type patterns with `*` wildcards; default ["*"]. */
  events?: string[];
  /** Per attempt, default 5000. */
  timeoutMs?: number;
  /** Retries after the first attempt, default 3. */
  retries?: number;
  backoff?: BackoffPolicy;
  /** Events waiting (besides the one in flight) beyond this many are dropped, oldest first; default 1000. */
  queueSize?: number;
  template?: WebhookTemplate;
  /** Extra request headers, e.g. Authorization. */
  headers?: Record<string, string>;
}

export interface WebhookEndpointStats {
  name: string;
  /** redactedUrl(url): tokens in a URL's path or query never reach status or metrics. */
  url: string;
  queueDepth: number;
  inFlight: boolean;
  /** Events delivered (2xx). */
  delivered: number;
  /** Events given up on after all retries. */
  failed: number;
  /** Attempts that did not succeed (including ones later retried). */
  attemptFailures: number;
  /** Events dropped because the queue was full. */
  dropped: number;
  lastError?: string;
  lastSuccessAt?: string;
}

export interface WebhookEndpointDeps {
  clock: Clock;
  random: () => number;
  transport: WebhookTransport;
  logger: Logger;
  userAgent: string;
}

/**
 * The URL without what may be a credential: userinfo, path and query (Slack and Discord
 * put their tokens in the path). "https://hooks.slack.com/…" shows there was more.
 */
export function redactedUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return '(invalid URL)';
  }
  const more = (parsed.pathname !== '/' && parsed.pathname !== '') || parsed.search !== '' || parsed.hash !== '';
  return `${parsed.protocol}//${parsed.host}${more ? '/…' : ''}`;
}

/** 2xx is delivered; 4xx other than 408/429 will not improve by retrying. */
function retryable(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

/**
 * A bounded FIFO with exactly one delivery in flight, so a receiver sees events in
 * the order they happened. `enqueue` is O(1) and never does I/O: the failover path
 * that publishes an event is never slowed by a slow, failing or hanging receiver.
 */
export class WebhookEndpoint {
  name: string;
  private readonly queue: AgentEvent[] = [];
  private head = 0;
  private inFlight = false;
  private closed = false;
  private retryTimer: TimerHandle | undefined;
  private wakeRetry: (() => void) | undefined;
  private readonly abort = new AbortController();
  private idleWaiters: Array<() => void> = [];
  private readonly counters = { delivered: 0, failed: 0, attemptFailures: 0, dropped: 0 };
  private lastError: string | undefined;
  private lastSuccessAt: string | undefined;

  constructor(
    readonly config: WebhookEndpointConfig,
    private readonly deps: WebhookEndpointDeps,
  ) {
    this.name = config.name ?? redactedUrl(config.url);
  }

  get patterns(): string[] {
    return this.config.events?.length ? this.config.events : ['*'];
  }

  enqueue(event: AgentEvent): void {
    if (this.closed) return;
    const limit = Math.max(1, this.config.queueSize ?? 1000);
    if (this.queue.length - this.head >= limit) {
      // Drop the oldest: for alerting, the latest state is what matters.
      this.head++;
      this.counters.dropped++;
    }
    this.queue.push(event);
    if (!this.inFlight) {
      this.inFlight = true;
      // Start on a later tick: the publisher returns before any serialization or I/O.
      setImmediate(() => {
        void this.pump();
      });
    }
  }

  stats(): WebhookEndpointStats {
    return {
      name: this.name,
      url: redactedUrl(this.config.url),
      queueDepth: this.queue.length - this.head,
      inFlight: this.inFlight,
      ...this.counters,
      ...(this.lastError !== undefined ? { lastError: this.lastError } : {}),
      ...(this.lastSuccessAt !== undefined ? { lastSuccessAt: this.lastSuccessAt } : {}),
    };
  }

  /** Resolves when the queue is empty and nothing is in flight (for tests and shutdown). */
  idle(): Promise<void> {
    if (!this.inFlight) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  close(): void {
    this.closed = true;
    this.abort.abort(new Error('webhook dispatcher closed'));
    this.retryTimer?.cancel();
    this.wakeRetry?.();
  }

  private async pump(): Promise<void> {
    try {
      while (!this.closed && this.head < this.queue.length) {
        // Taken off the queue first: the bound counts waiting events, never the one in flight.
        const event = this.queue[this.head]!;
        this.head++;
        await this.deliver(event);
        if (this.head > 1024 && this.head * 2 > this.queue.length) {
          this.queue.splice(0, this.head);
          this.head = 0;
        }
      }
    } finally {
      this.inFlight = false;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  private async deliver(event: AgentEvent): Promise<void> {
    const body = renderBody(this.config.template ?? 'json', event);
    const retries = Math.max(0, this.config.retries ?? 3);
    for (let attempt = 1; attempt <= retries + 1 && !this.closed; attempt++) {
      const error = await this.attempt(event, body, attempt);
      if (error === undefined) {
        this.counters.delivered++;
        this.lastSuccessAt = this.deps.clock.wallNow().toISOString();
        return;
      }
      this.counters.attemptFailures++;
      this.lastError = error.message;
      if (!error.retry || attempt > retries) break;
      const delay = backoffDelay(attempt, this.config.backoff ?? DEFAULT_BACKOFF, this.deps.random);
      this.deps.logger.debug(
        { webhook: this.name, event: event.id, attempt, delay, err: error.message },
        'webhook delivery failed, retrying',
      );
      await new Promise<void>((resolve) => {
        this.wakeRetry = resolve;
        this.retryTimer = this.deps.clock.setTimer(delay, resolve);
      });
      this.retryTimer = undefined;
      this.wakeRetry = undefined;
    }
    if (this.closed) return;
    this.counters.failed++;
    this.deps.logger.warn({ webhook: this.name, event: event.id, type: event.type, err: this.lastError }, 'webhook delivery given up');
  }

  private async attempt(event: AgentEvent, body: string, attempt: number): Promise<{ message: string; retry: boolean } | undefined> {
    const timestamp = String(Math.floor(this.deps.clock.wallNow().getTime() / 1000));
    const headers: Record<string, string> = {
      ...this.config.headers,
      'content-type': 'application/json',
      'user-agent': this.deps.userAgent,
      'x-failoverd-event-type': event.type,
      'x-failoverd-delivery-attempt': String(attempt),
      [ID_HEADER]: event.id,
      [TIMESTAMP_HEADER]: timestamp,
    };
    if (this.config.secrets?.length) headers[SIGNATURE_HEADER] = signPayload(this.config.secrets, event.id, timestamp, body);
    try {
      const { status } = await this.deps.transport({
        url: this.config.url,
        headers,
        body,
        timeoutMs: this.config.timeoutMs ?? 5000,
        signal: this.abort.signal,
      });
      if (status >= 200 && status < 300) return undefined;
      return { message: `HTTP ${status}`, retry: retryable(status) };
    } catch (err) {
      return { message: describeError(err, this.config.timeoutMs ?? 5000), retry: true };
    }
  }
}

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);

/** One wording for every kind of timeout (abort signal, undici's own), the code otherwise. */
function describeError(err: unknown, timeoutMs: number): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: string }).code;
  if (err.name === 'TimeoutError' || (code && TIMEOUT_CODES.has(code))) return `timeout after ${timeoutMs}ms`;
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ? `${err.message} (${cause.code})` : err.message;
}
