// Which services gate an announcement: the ones it names, or else every service that
// serves one of its VIPs, whether as `vip:` or as a member of a `vips:` group (a range
// included). The config rule (config/cross.ts: something must gate each announcement)
// and the announcer read this one function, so they agree on what gates what.
import type { ServiceConfig } from '../config/schema.js';

export function serviceVips(service: Pick<ServiceConfig, 'members'>): string[] {
  return service.members.flatMap((m) => ('vip' in m ? [m.vip] : []));
}

export function gatingServices(announce: { vips: string[]; services?: string[] | undefined }, services: ServiceConfig[]): string[] {
  if (announce.services) return announce.services;
  return services.filter((s) => serviceVips(s).some((v) => announce.vips.includes(v))).map((s) => s.name);
}
