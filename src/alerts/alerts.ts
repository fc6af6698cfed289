import type { EventBus } from '../events.js';
import { NotifyRunner, type NotifyHookConfig, type NotifyHookStats, type NotifyRunnerOptions } from './programs.js';
import type { WebhookEndpointConfig, WebhookEndpointStats } from './webhook-endpoint.js';
import { WebhookDispatcher, type WebhookDispatcherOptions } from './webhooks.js';

export type { WebhookEndpointConfig, WebhookEndpointStats } from './webhook-endpoint.js';
export type { NotifyHookConfig, NotifyHookStats } from './programs.js';
export type { WebhookTemplate } from './template.js';
export { signPayload, verifySignature, ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER } from './signature.js';
export { redactedUrl } from './webhook-endpoint.js';

/** The `alerts:` section, as the config maps it. */
export interface AlertsConfig {
  webhooks?: WebhookEndpointConfig[];
  notify?: NotifyHookConfig[];
}

export interface AlertsStats {
  webhooks: WebhookEndpointStats[];
  notify: NotifyHookStats[];
}

/** Webhooks and notify hooks subscribed to one bus; the agent owns one per config generation. */
export class Alerts {
  readonly webhooks: WebhookDispatcher;
  readonly notify: NotifyRunner;

  constructor(bus: EventBus, config: AlertsConfig, options: WebhookDispatcherOptions & NotifyRunnerOptions = {}) {
    this.webhooks = new WebhookDispatcher(bus, config.webhooks ?? [], options);
    this.notify = new NotifyRunner(bus, config.notify ?? [], options);
  }

  stats(): AlertsStats {
    return { webhooks: this.webhooks.stats(), notify: this.notify.stats() };
  }

  /**
   * Gives queued webhooks and notify programs up to `drainMs` to finish (an instance's
   * on_stop program runs as the agent stops), then aborts webhooks and kills the programs
   * still running.
   */
  async close(drainMs = 0): Promise<void> {
    await Promise.all([this.drainNotify(drainMs), this.webhooks.close(drainMs)]);
  }

  private async drainNotify(drainMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.notify.idle(),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, drainMs);
      }),
    ]);
    clearTimeout(timer);
    this.notify.close();
  }
}
