// Routing mode's I/O as a fake kernel: the route tables are Sets the test reads, and
// every change is logged in order ("+10.9.9.9", "-10.9.9.9"; a table other than
// 200/proto 200 is named: "+10.9.9.9 table 201/200"), so a test checks the sequence
// the routing daemon, and so the router, would see.
import { hostPrefix, type RouteIo, type RouteMark } from '../../../src/routing/kernel-route.js';
import type { RoutingHostIo } from '../../../src/routing/host.js';
import type { RoutingIo } from '../../../src/routing/routing.js';

export function fakeKernel(initial: string[] = []) {
  const tables = new Map<string, Set<string>>([['200/200', new Set(initial.map(hostPrefix))]]);
  const changes: string[] = [];
  const closed: string[] = [];
  const openRoutes = (mark: RouteMark): RouteIo => {
    const id = `${mark.table}/${mark.protocol}`;
    const table = tables.get(id) ?? new Set<string>();
    tables.set(id, table);
    const named = (a: string): string => (id === '200/200' ? a : `${a} table ${id}`);
    return {
      list: async () => [...table],
      add: async (a) => {
        if (!table.has(hostPrefix(a))) {
          table.add(hostPrefix(a));
          changes.push(`+${named(a)}`);
        }
      },
      remove: async (a) => {
        if (table.delete(hostPrefix(a))) changes.push(`-${named(a)}`);
      },
      close: () => {
        closed.push(id);
      },
    };
  };
  const sysctls = new Map<string, string>();
  const held: string[] = [];
  /** Interfaces that do not exist: holding an address there fails. */
  const missing = new Set<string>();
  const host: RoutingHostIo = {
    readSysctl: async (k) => sysctls.get(k),
    writeSysctl: async (k, v) => {
      sysctls.set(k, v);
    },
    holdAddress: async (a, dev) => {
      if (missing.has(dev)) throw new Error(`no interface "${dev}"`);
      if (!held.includes(`${a}@${dev}`)) held.push(`${a}@${dev}`);
    },
    releaseAddress: async (a, dev) => {
      const i = held.indexOf(`${a}@${dev}`);
      if (i >= 0) held.splice(i, 1);
    },
  };
  const files = new Set<string>();
  const io: RoutingIo = { openRoutes, host, fileExists: (path) => files.has(path) };
  return {
    table: tables.get('200/200')!,
    tables,
    changes,
    closed,
    routes: openRoutes({ table: 200, protocol: 200 }),
    host,
    sysctls,
    held,
    missing,
    files,
    io,
  };
}
