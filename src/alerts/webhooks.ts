import { systemClock, type Clock } from '../clock.js';
import type { EventBus } from '../events.js';
import { silentLogger, type Logger } from '../log.js';
import { undiciTransport, type WebhookTransport } from './transport.js';
import { WebhookEndpoint, type WebhookEndpointConfig, type WebhookEndpointStats } from './webhook-endpoint.js';

export interface WebhookDispatcherOptions {
  clock?: Clock;
  /** [0, 1), for backoff jitter. */
  random?: () => number;
  transport?: WebhookTransport;
  logger?: Logger;
  userAgent?: string;
}

/** Fans bus events out to every webhook endpoint whose filter matches. */
export class WebhookDispatcher {
  readonly endpoints: WebhookEndpoint[];
  private readonly unsubscribe: Array<() => void> = [];

  constructor(bus: EventBus, configs: WebhookEndpointConfig[], options: WebhookDispatcherOptions = {}) {
    const deps = {
      clock: options.clock ?? systemClock,
      random: options.random ?? Math.random,
      transport: options.transport ?? undiciTransport,
      logger: options.logger ?? silentLogger(),
      userAgent: options.userAgent ?? 'failoverd',
    };
    this.endpoints = configs.map((config) => new WebhookEndpoint(config, deps));
    // Unnamed endpoints on one host share a redacted URL: number them so their metrics stay apart.
    const seen = new Map<string, number>();
    for (const endpoint of this.endpoints) {
      const count = (seen.get(endpoint.name) ?? 0) + 1;
      seen.set(endpoint.name, count);
      if (count > 1) endpoint.name = `${endpoint.name} #${count}`;
    }
    for (const endpoint of this.endpoints) {
      this.unsubscribe.push(bus.subscribe(endpoint.patterns, (event) => endpoint.enqueue(event)));
    }
  }

  stats(): WebhookEndpointStats[] {
    return this.endpoints.map((e) => e.stats());
  }

  /** Resolves when every endpoint has an empty queue and nothing in flight. */
  async idle(): Promise<void> {
    await Promise.all(this.endpoints.map((e) => e.idle()));
  }

  /**
   * Stops taking events and aborts what is in flight. With `drainMs`, first waits
   * up to that long for queued events to go out (shutdown), never longer.
   */
  async close(drainMs = 0): Promise<void> {
    for (const off of this.unsubscribe.splice(0)) off();
    if (drainMs > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.idle(),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, drainMs);
        }),
      ]);
      clearTimeout(timer);
    }
    for (const endpoint of this.endpoints) endpoint.close();
  }
}
