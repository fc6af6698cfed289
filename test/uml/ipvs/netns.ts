// IPVS tests' namespaces are test/helpers/netns.ts's; this adds what IPVS needs in one.
import type { Netns } from '../../helpers/netns.js';

/**
 * The kernel accepts a real server only at a unicast-routable address: a dummy
 * interface with covering prefixes makes 10/8 and 2001:db8::/32 routable.
 */
export function addRoutableDummy(ns: Netns, name = 'rs0'): void {
  ns.ip('link', 'add', name, 'type', 'dummy');
  ns.ip('link', 'set', name, 'up');
  ns.ip('addr', 'add', '10.255.255.254/8', 'dev', name);
  ns.ip('-6', 'addr', 'add', '2001:db8:ffff::fffe/32', 'dev', name, 'nodad');
}
