import type { AlertsConfig } from './alerts.js';
import type { WebhookTemplate } from './template.js';

// The parsed `alerts:` section (snake_case keys, durations already in ms, as
// src/config produces it) → the alerts module's inputs. Structural types, so this
// file does not depend on the config module's internals.

export interface WebhookYaml {
  name?: string | undefined;
  url: string;
  secret?: string | undefined;
  secrets?: string[] | undefined;
  events?: string[] | undefined;
  timeout?: number | undefined;
  retries?: number | undefined;
  headers?: Record<string, string> | undefined;
  template?: WebhookTemplate | undefined;
  queue_size?: number | undefined;
}

export interface NotifyYaml {
  program: string;
  events?: string[] | undefined;
  timeout?: number | undefined;
}

export function alertsFromConfig(alerts: { webhooks?: WebhookYaml[] | undefined; notify?: NotifyYaml[] | undefined }): AlertsConfig {
  return {
    webhooks: (alerts.webhooks ?? []).map((w) => ({
      url: w.url,
      ...(w.name !== undefined ? { name: w.name } : {}),
      ...(w.secret || w.secrets?.length ? { secrets: [...(w.secret ? [w.secret] : []), ...(w.secrets ?? [])] } : {}),
      ...(w.events ? { events: w.events } : {}),
      ...(w.timeout !== undefined ? { timeoutMs: w.timeout } : {}),
      ...(w.retries !== undefined ? { retries: w.retries } : {}),
      ...(w.headers ? { headers: w.headers } : {}),
      ...(w.template !== undefined ? { template: w.template } : {}),
      ...(w.queue_size !== undefined ? { queueSize: w.queue_size } : {}),
    })),
    notify: (alerts.notify ?? []).map((n) => ({
      program: n.program,
      ...(n.events ? { events: n.events } : {}),
      ...(n.timeout !== undefined ? { timeoutMs: n.timeout } : {}),
    })),
  };
}
