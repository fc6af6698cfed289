// What a director in routing mode needs besides the announcement: the VIPs held on a
// NOARP interface (so IPVS accepts their packets whether or not they are announced, and
// the director never answers ARP for them), and IPVS's sloppy mode, so that a mid-flow
// packet ECMP moves here is scheduled (by mh, to the same real server) instead of reset.
import { readFile, writeFile } from 'node:fs/promises';
import { DR_SYSCTLS, sysctlPath, type SysctlSetting } from '../dr-host/plan.js';
import { ipFamily } from '../net/sockaddr.js';
import { AF_INET6 } from '../net/constants.js';
import { RtNetlink } from '../net/rtnetlink.js';
import type { NetlinkSocketOptions } from '../net/netlink-socket.js';

export const SLOPPY_SYSCTLS: readonly SysctlSetting[] = [
  { key: 'net.ipv4.vs.sloppy_tcp', value: '1', why: 'schedule a TCP flow that ECMP moved here mid-flow instead of resetting it' },
  { key: 'net.ipv4.vs.sloppy_sctp', value: '1', why: 'the same for SCTP' },
];

/** routing.sloppy: false, or routing mode ended: a mid-flow packet is no longer scheduled. */
const SLOPPY_OFF: readonly SysctlSetting[] = SLOPPY_SYSCTLS.map((s) => ({
  key: s.key,
  value: '0',
  why: 'routing.sloppy is false or routing mode ended: failoverd no longer asks for it',
}));

export interface RoutingHostPlan {
  /** VIP and the interface that holds it. */
  vips: Array<{ address: string; interface: string }>;
  sysctls: readonly SysctlSetting[];
}

type RoutingHostConfig = { sloppy: boolean; announce: Array<{ vips: string[]; interface: string }> };

/**
 * The host side of a routing config. In routing mode the config owns the sloppy
 * sysctls: `sloppy: true` sets them to 1, `false` to 0. `before` (the running config, on
 * a reload): a reload that ends routing mode sets back to 0 the sloppy mode the running
 * one had set. Outside routing mode they are not touched (an agent that starts
 * without announcements has nothing to say about them).
 */
export function routingHostPlan(routing: RoutingHostConfig, before?: RoutingHostConfig): RoutingHostPlan {
  if (routing.announce.length === 0) {
    const ended = before !== undefined && before.announce.length > 0 && before.sloppy;
    return { vips: [], sysctls: ended ? SLOPPY_OFF : [] };
  }
  return {
    vips: routing.announce.flatMap((a) => a.vips.map((address) => ({ address, interface: a.interface }))),
    sysctls: [...DR_SYSCTLS, ...(routing.sloppy ? SLOPPY_SYSCTLS : SLOPPY_OFF)],
  };
}

/**
 * The VIPs `before` held that `after` does not (a reload removed the announcement, the
 * VIP from it, or moved it to another interface), each with the converge time of the
 * entry that held it: the agent releases them once the withdraw is in the kernel and
 * the router had that long to converge.
 */
export function releasedVips(
  before: { announce: Array<{ vips: string[]; interface: string; converge: number }> },
  after: RoutingHostConfig,
): Array<{ address: string; interface: string; convergeMs: number }> {
  const kept = new Set(routingHostPlan(after).vips.map((v) => `${v.address}@${v.interface}`));
  const out: Array<{ address: string; interface: string; convergeMs: number }> = [];
  for (const a of before.announce) {
    for (const address of a.vips) {
      const id = `${address}@${a.interface}`;
      if (kept.has(id) || out.some((v) => `${v.address}@${v.interface}` === id)) continue;
      out.push({ address, interface: a.interface, convergeMs: a.converge });
    }
  }
  return out;
}

export interface RoutingHostIo {
  readSysctl(key: string): Promise<string | undefined>;
  writeSysctl(key: string, value: string): Promise<void>;
  /** Adds the address when missing. */
  holdAddress(address: string, ifname: string): Promise<void>;
  /** Removes the address when present. */
  releaseAddress(address: string, ifname: string): Promise<void>;
}

/** Applies the plan; returns one line per change made, for the log. */
export async function applyRoutingHost(plan: RoutingHostPlan, io: RoutingHostIo): Promise<string[]> {
  const done: string[] = [];
  for (const s of plan.sysctls) {
    const now = await io.readSysctl(s.key);
    if (now === s.value) continue;
    await io.writeSysctl(s.key, s.value);
    done.push(`${s.key}: ${now ?? 'unset'} → ${s.value} (${s.why})`);
  }
  for (const v of plan.vips) {
    await io.holdAddress(v.address, v.interface);
  }
  return done;
}

/** /proc/sys shows the caller's network namespace: the agent runs in the director's. */
export function systemRoutingHostIo(options: NetlinkSocketOptions = {}): RoutingHostIo {
  return {
    async readSysctl(key) {
      try {
        return (await readFile(sysctlPath(key), 'utf8')).trim();
      } catch {
        return undefined;
      }
    },
    async writeSysctl(key, value) {
      await writeFile(sysctlPath(key), `${value}\n`).catch((err: Error) => {
        throw new Error(`cannot set ${key} (${err.message})${key.startsWith('net.ipv4.vs.') ? '; is the ip_vs module loaded?' : ''}`);
      });
    },
    async holdAddress(address, ifname) {
      const rtnl = new RtNetlink(options);
      try {
        const link = await rtnl.getLink(ifname);
        const prefixLength = ipFamily(address) === AF_INET6 ? 128 : 32;
        const have = await rtnl.listAddresses({ ifindex: link.index });
        if (have.some((a) => a.address === address)) return;
        await rtnl.addAddress({ ifindex: link.index, address, prefixLength });
      } finally {
        rtnl.close();
      }
    },
    async releaseAddress(address, ifname) {
      const rtnl = new RtNetlink(options);
      try {
        const link = await rtnl.getLink(ifname);
        const have = await rtnl.listAddresses({ ifindex: link.index });
        const held = have.find((a) => a.address === address);
        if (!held) return;
        await rtnl.deleteAddress({ ifindex: link.index, address, prefixLength: held.prefixLength });
      } finally {
        rtnl.close();
      }
    },
  };
}
