import { randomUUID } from 'node:crypto';

/**
 * Every transition in the agent becomes one of these. The shape is stable and
 * documented: alerts, metrics, the status API and logs all read the same object.
 */
export interface AgentEvent {
  /** Unique id, so receivers can deduplicate retried deliveries. */
  id: string;
  /** Dotted type, e.g. "vrrp.state", "realserver.down", "quorum.lost". */
  type: string;
  /** The node (director) name that produced it. */
  node: string;
  /** What changed, e.g. "vrrp/web", "service/web-80/10.6.2.191:80". */
  object: string;
  from?: string;
  to?: string;
  reason?: string;
  /** ISO-8601 wall time. */
  time: string;
  data?: Record<string, unknown>;
}

export type EventInput = Omit<AgentEvent, 'id' | 'time' | 'node'> & { time?: string };
export type EventHandler = (event: AgentEvent) => void;

/** Matches "vrrp.*", "realserver.down", "*" against an event type. */
export function eventTypeMatches(pattern: string, type: string): boolean {
  if (pattern === '*' || pattern === type) return true;
  const escaped = pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${escaped.join('.*')}$`).test(type);
}

export class EventBus {
  private handlers = new Set<{ patterns: string[]; handler: EventHandler }>();

  constructor(private readonly node: string, private readonly wallNow: () => Date = () => new Date()) {}

  publish(input: EventInput): AgentEvent {
    const event: AgentEvent = { id: randomUUID(), node: this.node, time: input.time ?? this.wallNow().toISOString(), ...input } as AgentEvent;
    for (const entry of [...this.handlers]) {
      if (!entry.patterns.some((p) => eventTypeMatches(p, event.type))) continue;
      // One broken subscriber must not stop the others or the publisher (failover path).
      try {
        entry.handler(event);
      } catch (err) {
        queueMicrotask(() => { throw err; });
      }
    }
    return event;
  }

  subscribe(patterns: string | string[], handler: EventHandler): () => void {
    const entry = { patterns: Array.isArray(patterns) ? patterns : [patterns], handler };
    this.handlers.add(entry);
    return () => { this.handlers.delete(entry); };
  }
}
