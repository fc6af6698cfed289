// The one validation of a parsed config, run by the loader and therefore by
// `failoverd check`, by `failoverd run` at start and by every reload: the rules across
// sections (cross.ts) and each module's own rules, which live next to the module they
// protect and speak in the YAML's keys; here they are only placed under their section.
import { destinationSpecOf, serviceSpecsOf, vrrpInstanceOf } from '../agent/map-config.js';
import { ipvsServiceProblems } from '../ipvs/rules.js';
import { vrrpInstanceProblems, vrrpSyncGroupProblems } from '../vrrp/config.js';
import { crossCheck, type CrossProblem } from './cross.js';
import type { ConfigPathSegment } from './errors.js';
import type { FailoverdConfig, VrrpInstanceConfig } from './schema.js';

export type ConfigProblem = CrossProblem;

/** `raw` is the document as written (some rules tell a missing key from a default). */
export function validateConfig(config: FailoverdConfig, raw: Record<string, unknown>): ConfigProblem[] {
  return [...crossCheck(config, raw), ...vrrpProblems(config), ...ipvsProblems(config)];
}

function vrrpProblems(config: FailoverdConfig): ConfigProblem[] {
  const instances = config.vrrp.map(vrrpInstanceOf);
  return [
    ...config.vrrp.flatMap((v, i) =>
      vrrpInstanceProblems(instances[i]!).map((p): ConfigProblem => ({
        severity: 'error',
        segments: ['vrrp', i, ...yamlPath(v, p.path)],
        message: p.message,
      })),
    ),
    ...vrrpSyncGroupProblems(config.vrrp_sync_groups, instances).map((p): ConfigProblem => ({
      severity: 'error',
      segments: ['vrrp_sync_groups', ...p.path],
      message: p.message,
    })),
  ];
}

function ipvsProblems(config: FailoverdConfig): ConfigProblem[] {
  return config.services.flatMap((s, i) => {
    // Without exactly one form (vip, fwmark, a group) there is no IPVS service to judge (cross.ts says so).
    const forms = [s.vip !== undefined, s.fwmark !== undefined, s.vips !== undefined || s.fwmarks !== undefined].filter(Boolean).length;
    if (forms !== 1) return [];
    // A group's kernel services share every setting but their key: one report per problem, not per address.
    const seen = new Set<string>();
    const destinations = s.real_servers.map(destinationSpecOf);
    return serviceSpecsOf(s)
      .flatMap((spec) => ipvsServiceProblems(spec, destinations))
      .filter((p) => {
        const id = JSON.stringify(p);
        if (seen.has(id)) return false;
        seen.add(id);
        return true;
      })
      .map((p): ConfigProblem => ({ severity: 'error', segments: ['services', i, ...p.path], message: p.message }));
  });
}

/** The few instance keys that are not written as such in the YAML. */
function yamlPath(v: VrrpInstanceConfig, path: ReadonlyArray<string | number>): ConfigPathSegment[] {
  if (path[0] === 'vip_label') {
    const k = v.vips.findIndex((vip) => vip.label !== undefined);
    return k >= 0 ? ['vips', k, 'label'] : ['vips'];
  }
  return [...path];
}
