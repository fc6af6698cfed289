import type { AgentEvent } from '../events.js';

/**
 * How a webhook body is built from an event:
 * - "json": the AgentEvent itself (the documented, stable shape);
 * - "slack": `{"text": "..."}`, accepted by Slack, Mattermost, Rocket.Chat and Teams' incoming webhooks;
 * - `{ body }`: any JSON value whose strings may hold `{{field}}` placeholders
 *   (`{{type}}`, `{{node}}`, `{{object}}`, `{{from}}`, `{{to}}`, `{{reason}}`, `{{time}}`,
 *   `{{id}}`, `{{summary}}`, `{{data.KEY}}`); a string that is exactly one placeholder
 *   keeps the value's JSON type.
 */
export type WebhookTemplate = 'json' | 'slack' | { body: unknown };

/** One human line: "[lvs-a] vrrp.state vrrp/web: BACKUP → MASTER (higher priority)". */
export function summarize(event: AgentEvent): string {
  const change = event.from !== undefined || event.to !== undefined ? `: ${event.from ?? '?'} → ${event.to ?? '?'}` : '';
  const reason = event.reason ? ` (${event.reason})` : '';
  return `[${event.node}] ${event.type} ${event.object}${change}${reason}`;
}

function lookup(event: AgentEvent, path: string): unknown {
  if (path === 'summary') return summarize(event);
  let value: unknown = event;
  for (const key of path.split('.')) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

function fill(node: unknown, event: AgentEvent): unknown {
  if (typeof node === 'string') {
    const whole = /^\{\{\s*([\w.]+)\s*\}\}$/.exec(node);
    if (whole) return lookup(event, whole[1]!) ?? null;
    return node.replace(/\{\{\s*([\w.]+)\s*\}\}/g, (_, path: string) => {
      const value = lookup(event, path);
      if (value === undefined || value === null) return '';
      return typeof value === 'string' ? value : JSON.stringify(value); // event data is JSON
    });
  }
  if (Array.isArray(node)) return node.map((item) => fill(item, event));
  if (node !== null && typeof node === 'object') {
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, fill(v, event)]));
  }
  return node;
}

export function renderBody(template: WebhookTemplate, event: AgentEvent): string {
  if (template === 'json') return JSON.stringify(event);
  if (template === 'slack') return JSON.stringify({ text: summarize(event) });
  return JSON.stringify(fill(template.body, event));
}
