import { randomUUID } from 'node:crypto';

/**
 * Every event type the agent publishes: the names webhooks, notify programs and
 * `alerts.*.events` patterns see (docs/alerts.md lists them; a unit test holds the two
 * together). A type outside this list does not compile.
 */
export const EVENT_TYPES = [
  'vrrp.state',
  'realserver.up',
  'realserver.down',
  'realserver.weight',
  'quorum.lost',
  'quorum.regained',
  'config.reloaded',
  'config.rejected',
  'schedule.started',
  'schedule.ended',
  'ipvs.drift',
  'ipvs.drain',
  'ipvs.error',
  'admin.drain',
  'admin.undrain',
  'admin.maintenance',
  'admin.force-backup',
  'admin.release',
  'admin.resign',
  'health.worker-crashed',
  'health.worker-restarted',
  'route.announced',
  'route.withdrawn',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/**
 * Every transition in the agent becomes one of these. The shape is stable and
 * documented: alerts, metrics, the status API and logs all read the same object.
 */
export interface AgentEvent {
  /** Unique id, so receivers can deduplicate retried deliveries. */
  id: string;
  /** Dotted type, e.g. "vrrp.state", "realserver.down", "quorum.lost". */
  type: EventType;
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
/** A handler may be async: a rejection is contained like a throw. */
export type EventHandler = (event: AgentEvent) => unknown;

/** A subscriber threw (or its promise rejected) while handling `event`. */
export type SubscriberErrorHandler = (err: unknown, event: AgentEvent) => void;

/** Matches "vrrp.*", "realserver.down", "*" against an event type. */
export function eventTypeMatches(pattern: string, type: string): boolean {
  if (pattern === '*' || pattern === type) return true;
  const escaped = pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${escaped.join('.*')}$`).test(type);
}

interface Subscription {
  patterns: string[];
  handler: EventHandler;
  /** Event type → whether a pattern matches it (event types are a closed set). */
  accepted: Map<string, boolean>;
}

/**
 * Delivers every event to its subscribers synchronously, in subscription order.
 * A subscriber's error is its own: it is counted and handed to `onSubscriberError`
 * (the agent logs it), and neither the other subscribers nor the publisher see it.
 * The publisher is often the failover path itself; a bug in metrics or alert code
 * must never stop a takeover or kill the daemon.
 */
export class EventBus {
  private handlers = new Set<Subscription>();
  private errors = 0;
  private onSubscriberError: SubscriberErrorHandler;

  constructor(
    private readonly node: string,
    private readonly wallNow: () => Date = () => new Date(),
    onSubscriberError?: SubscriberErrorHandler,
  ) {
    this.onSubscriberError = onSubscriberError ?? (() => undefined);
  }

  /** Subscriber errors since the bus was made. */
  get subscriberErrors(): number {
    return this.errors;
  }

  /** Where subscriber errors are reported from now on (the agent's logger, once it has one). */
  reportSubscriberErrors(handler: SubscriberErrorHandler): void {
    this.onSubscriberError = handler;
  }

  publish(input: EventInput): AgentEvent {
    const event: AgentEvent = { id: randomUUID(), node: this.node, time: input.time ?? this.wallNow().toISOString(), ...input };
    for (const entry of [...this.handlers]) {
      if (!this.accepts(entry, event.type)) continue;
      try {
        const result = entry.handler(event);
        if (result instanceof Promise) result.then(undefined, (err: unknown) => this.subscriberFailed(err, event));
      } catch (err) {
        this.subscriberFailed(err, event);
      }
    }
    return event;
  }

  /** Patterns are matched once per event type and subscriber: a pattern with `*` is a regular expression to build. */
  private accepts(entry: Subscription, type: string): boolean {
    let yes = entry.accepted.get(type);
    if (yes === undefined) {
      yes = entry.patterns.some((p) => eventTypeMatches(p, type));
      entry.accepted.set(type, yes);
    }
    return yes;
  }

  private subscriberFailed(err: unknown, event: AgentEvent): void {
    this.errors++;
    try {
      this.onSubscriberError(err, event);
    } catch {
      // The reporter itself failed (a broken logger): the count still tells.
    }
  }

  subscribe(patterns: string | string[], handler: EventHandler): () => void {
    const entry: Subscription = { patterns: Array.isArray(patterns) ? patterns : [patterns], handler, accepted: new Map() };
    this.handlers.add(entry);
    return () => {
      this.handlers.delete(entry);
    };
  }
}
