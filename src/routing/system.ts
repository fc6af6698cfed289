// The kernel's I/O for routing mode: announcement routes over rtnetlink, sysctls
// through /proc/sys, the maintenance marker on the file system.
import { existsSync } from 'node:fs';
import type { FailoverdConfig } from '../config/schema.js';
import { kernelRoutes } from './kernel-route.js';
import { systemRoutingHostIo } from './host.js';
import { Routing, type RoutingDeps } from './routing.js';

export function newRouting(
  config: FailoverdConfig,
  deps: Omit<RoutingDeps, 'routes' | 'host' | 'fileExists'> & { netns?: string },
): Routing {
  const netlink = deps.netns ? { netns: deps.netns } : {};
  return new Routing(config.routing, config.services, {
    ...deps,
    routes: kernelRoutes({ table: config.routing.table, protocol: config.routing.protocol }, netlink),
    host: systemRoutingHostIo(netlink),
    fileExists: existsSync,
  });
}
