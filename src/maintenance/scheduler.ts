import type { Clock, TimerHandle } from '../clock.js';
import type { EventBus } from '../events.js';
import { silentLogger, type Logger } from '../log.js';
import { validateWindowSpec, windowAt } from './window.js';

/** One `schedules[]` entry, as the config maps it. */
export type MaintenanceSchedule = {
  /** Shown in status, events and logs; default derived from the action and target. */
  name?: string;
  cron: string;
  /** IANA zone, default "UTC". */
  timezone?: string;
  /** Window length (`for:` in the config). */
  forMs: number;
} & (
  | { action: 'drain'; service: string; realServer: string }
  | { action: 'demote'; instance: string; /** priority is lowered by this much, default 50 */ by?: number }
);

/** The agent implements this; calls are idempotent (on twice = on). */
export interface MaintenanceActions {
  /** on: weight 0, existing connections finish; off: back to the configured weight. */
  drain(service: string, realServer: string, on: boolean): void | Promise<void>;
  /** on: lower the instance's priority by `by`; off: restore it. */
  demote(instance: string, by: number, on: boolean): void | Promise<void>;
}

export interface ScheduleStatus {
  name: string;
  cron: string;
  timezone: string;
  forMs: number;
  action: 'drain' | 'demote';
  target: string;
  active: boolean;
  /** While active: when it ends (ISO). */
  until?: string;
  /** While idle: when the next window opens (ISO). */
  nextStart?: string;
}

export const DEFAULT_DEMOTE_BY = 50;
/** Timers never wait longer than this before re-evaluating (wall clock jumps, setTimeout limits). */
const MAX_TIMER_MS = 60 * 60_000;

export function scheduleName(s: MaintenanceSchedule): string {
  if (s.name) return s.name;
  return s.action === 'drain' ? `drain ${s.service}/${s.realServer}` : `demote ${s.instance}`;
}

function target(s: MaintenanceSchedule): string {
  return s.action === 'drain' ? `service/${s.service}/${s.realServer}` : `vrrp/${s.instance}`;
}

export interface MaintenanceSchedulerDeps {
  clock: Clock;
  bus: EventBus;
  actions: MaintenanceActions;
  logger?: Logger;
}

interface Entry {
  schedule: MaintenanceSchedule;
  name: string;
  active: boolean;
  until?: Date | undefined;
  nextStart?: Date | undefined;
  timer?: TimerHandle | undefined;
}

/**
 * Opens and closes maintenance windows on the injected clock's wall time. Each
 * evaluation asks the pure `windowAt` what should be true now, acts on changes
 * only, and sets one timer for the next change.
 */
export class MaintenanceScheduler {
  private readonly entries: Entry[];
  private readonly logger: Logger;
  private stopped = true;

  constructor(
    schedules: MaintenanceSchedule[],
    private readonly deps: MaintenanceSchedulerDeps,
  ) {
    for (const s of schedules) validateWindowSpec(s);
    this.entries = schedules.map((schedule) => ({ schedule, name: scheduleName(schedule), active: false }));
    this.logger = deps.logger ?? silentLogger();
  }

  /** Evaluates every schedule now: a window already open at start is applied at once. */
  start(): void {
    this.stopped = false;
    for (const entry of this.entries) this.evaluate(entry);
  }

  /**
   * Cancels timers. Open windows stay applied (a reload's next scheduler re-applies
   * them idempotently, with no flap); pass `endActive` to close them (shutdown).
   */
  async stop(options: { endActive?: boolean } = {}): Promise<void> {
    this.stopped = true;
    for (const entry of this.entries) {
      entry.timer?.cancel();
      entry.timer = undefined;
      if (options.endActive && entry.active) await this.transition(entry, false, 'scheduler stopped');
    }
  }

  status(): ScheduleStatus[] {
    return this.entries.map((e) => ({
      name: e.name,
      cron: e.schedule.cron,
      timezone: e.schedule.timezone ?? 'UTC',
      forMs: e.schedule.forMs,
      action: e.schedule.action,
      target: target(e.schedule),
      active: e.active,
      ...(e.active && e.until ? { until: e.until.toISOString() } : {}),
      ...(!e.active && e.nextStart ? { nextStart: e.nextStart.toISOString() } : {}),
    }));
  }

  private evaluate(entry: Entry): void {
    if (this.stopped) return;
    const now = this.deps.clock.wallNow().getTime();
    const state = windowAt(entry.schedule, now);
    let wakeAt: number | undefined;
    if (state.active) {
      entry.until = state.end;
      wakeAt = state.end.getTime();
      if (!entry.active) void this.transition(entry, true, `window opened at ${state.start.toISOString()}`);
    } else {
      entry.nextStart = state.nextStart;
      wakeAt = state.nextStart?.getTime();
      if (entry.active) void this.transition(entry, false, 'window ended');
    }
    entry.timer?.cancel();
    entry.timer = undefined;
    if (wakeAt !== undefined) {
      const delay = Math.min(MAX_TIMER_MS, Math.max(0, wakeAt - now));
      entry.timer = this.deps.clock.setTimer(delay, () => this.evaluate(entry));
    }
  }

  private async transition(entry: Entry, on: boolean, reason: string): Promise<void> {
    entry.active = on;
    const s = entry.schedule;
    const data: Record<string, unknown> = {
      schedule: entry.name,
      action: s.action,
      cron: s.cron,
      timezone: s.timezone ?? 'UTC',
      forMs: s.forMs,
      ...(s.action === 'drain'
        ? { service: s.service, realServer: s.realServer }
        : { instance: s.instance, by: s.by ?? DEFAULT_DEMOTE_BY }),
      ...(on && entry.until ? { until: entry.until.toISOString() } : {}),
    };
    this.deps.bus.publish({
      type: on ? 'schedule.started' : 'schedule.ended',
      object: `schedule/${entry.name}`,
      from: on ? 'idle' : 'active',
      to: on ? 'active' : 'idle',
      reason: `${s.action} ${target(s)}: ${reason}`,
      data,
    });
    try {
      if (s.action === 'drain') await this.deps.actions.drain(s.service, s.realServer, on);
      else await this.deps.actions.demote(s.instance, s.by ?? DEFAULT_DEMOTE_BY, on);
    } catch (err) {
      this.logger.error({ err, schedule: entry.name, on }, 'maintenance action failed');
    }
  }
}
