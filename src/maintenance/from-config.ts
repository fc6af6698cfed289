import type { MaintenanceSchedule } from './scheduler.js';

/** One parsed `schedules[]` entry (snake_case, `for` in ms), as src/config produces it. */
export interface ScheduleYaml {
  name?: string | undefined;
  cron: string;
  timezone?: string | undefined;
  action: 'drain' | 'demote';
  service?: string | undefined;
  real_server?: string | undefined;
  instance?: string | undefined;
  by?: number | undefined;
  for: number;
}

/** Throws on an entry the config's cross-checks should already have rejected. */
export function schedulesFromConfig(entries: ScheduleYaml[]): MaintenanceSchedule[] {
  return entries.map((e, i) => {
    const common = { cron: e.cron, forMs: e.for, ...(e.timezone ? { timezone: e.timezone } : {}), ...(e.name ? { name: e.name } : {}) };
    if (e.action === 'drain') {
      if (!e.service || !e.real_server) throw new Error(`schedules[${i}]: drain needs service and real_server`);
      return { ...common, action: 'drain', service: e.service, realServer: e.real_server };
    }
    if (!e.instance) throw new Error(`schedules[${i}]: demote needs instance`);
    return { ...common, action: 'demote', instance: e.instance, ...(e.by !== undefined ? { by: e.by } : {}) };
  });
}
