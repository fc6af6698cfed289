// The kernel's I/O for routing mode: announcement routes over rtnetlink, sysctls
// through /proc/sys, the maintenance marker on the file system.
import { existsSync } from 'node:fs';
import { kernelRoutes } from './kernel-route.js';
import { systemRoutingHostIo } from './host.js';
import type { RoutingIo } from './routing.js';

/** `netns`: the director's network namespace (tests and labs run several agents in one host). */
export function systemRoutingIo(netns?: string): RoutingIo {
  const netlink = netns ? { netns } : {};
  return {
    openRoutes: (mark) => kernelRoutes(mark, netlink),
    host: systemRoutingHostIo(netlink),
    fileExists: existsSync,
  };
}
