// DSR check: probes the VIP *on* the real server, the way IPVS-DR forwards a
// client's packets (the real server's MAC, the VIP as IP destination). A half-open
// TCP SYN over a packet socket (checks/lib/dsr-probe.ts), plus an ARP who-has VIP
// that the real server must not answer. It fails when the real server lost the VIP
// on lo, answers ARP for it, or does not listen on VIP:port, where a check to the
// real server's own address still passes. The director's routes, rules and
// sysctls are left alone. Packet sockets need CAP_NET_RAW (the agent's unit grants it).
import { createSocket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import { isIPv4 } from 'node:net';
import { networkInterfaces } from 'node:os';
import * as z from 'zod';
import type { CheckPlugin, CheckResult, CheckTarget } from '../src/health/check.js';
import { abortText, elapsedSince, errorText } from '../src/health/check-helpers.js';
import { encodeBpf, synProbeFilter } from '../src/net/bpf.js';
import { AF_PACKET, ETH_P_ALL, SOCK_RAW } from '../src/net/constants.js';
import { parseFrame, parseMac } from '../src/net/ether-frames.js';
import { bytesToIp, decodeSockaddr, ipToBytes, sockaddrLl } from '../src/net/sockaddr.js';
import { DatagramSocket, interfaceIndex } from '../src/net/socket.js';
import { onFrame, silenceReason, startProbe, type DsrProbe, type DsrState } from './lib/dsr-probe.js';

const PACKET_OUTGOING = 4;

const options = z
  .object({
    /** The service's VIP, configured on the real server's lo (IPv4). */
    vip: z.ipv4(),
    /** Port to probe instead of the real server's port. */
    connect_port: z.number().int().min(1).max(65535).optional(),
    /** The director's interface on the real server's link (default: the one the route to the real server uses). */
    interface: z.string().min(1).max(15).optional(),
    /** The director's address the probe comes from (default: the kernel's source address towards the real server). */
    source: z.ipv4().optional(),
    /** Also ask who-has VIP on the link: an answer from the real server is down. */
    arp_check: z.boolean().default(true),
  })
  .strict();

export type DsrCheckOptions = z.infer<typeof options>;

export interface DsrLink {
  interfaceName: string;
  mac: Buffer;
  source: string;
}

/** The kernel's source address towards `address` (a connected UDP socket sends nothing). */
function routeSource(address: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    socket.once('error', (err) => {
      socket.close();
      reject(err);
    });
    socket.connect(9, address, () => {
      const local = socket.address().address;
      socket.close();
      resolve(local);
    });
  });
}

function inSubnet(address: string, network: string, netmask: string): boolean {
  const a = ipToBytes(address),
    n = ipToBytes(network),
    m = ipToBytes(netmask);
  return a.every((byte, i) => (byte & m[i]!) === (n[i]! & m[i]!));
}

/**
 * The director's interface, MAC and address on the real server's link. A real
 * server behind a router cannot be reached the DSR way (IPVS-DR cannot either).
 */
export async function resolveLink(realServer: string, o: Pick<DsrCheckOptions, 'interface' | 'source'>): Promise<DsrLink | string> {
  const source = o.source ?? (o.interface ? undefined : await routeSource(realServer));
  const all = networkInterfaces();
  const names = o.interface ? [o.interface] : Object.keys(all);
  for (const name of names) {
    const addresses = (all[name] ?? []).filter((a) => a.family === 'IPv4' && (source === undefined || a.address === source));
    const onLink = addresses.find((a) => inSubnet(realServer, a.address, a.netmask));
    if (onLink) {
      if (onLink.mac === '00:00:00:00:00:00') return `${name} has no MAC address: the DSR check needs an Ethernet link`;
      return { interfaceName: name, mac: parseMac(onLink.mac), source: onLink.address };
    }
  }
  if (o.interface && !all[o.interface]) return `no interface ${o.interface}`;
  const from = o.interface ? `${o.interface}${source ? ` (${source})` : ''}` : `the director's address ${source}`;
  return `real server ${realServer} is not on a subnet of ${from}: DSR needs it on a directly connected link`;
}

function runDsr(target: CheckTarget, o: DsrCheckOptions, signal: AbortSignal): Promise<CheckResult> {
  const started = performance.now();
  const done = (ok: boolean, reason: string): CheckResult => ({ ok, reason, latencyMs: elapsedSince(started) });
  if (signal.aborted) return Promise.resolve(done(false, `resolve link: ${abortText(signal)}`));
  if (!isIPv4(target.address)) return Promise.resolve(done(false, `the dsr check probes IPv4 real servers only, not ${target.address}`));
  if ((o.connect_port ?? target.port) === 0)
    return Promise.resolve(done(false, 'the dsr check needs a port: set connect_port (the service has port 0 or a fwmark)'));
  const realServer = bytesToIp(ipToBytes(target.address));
  return resolveLink(realServer, o).then(
    (link) => (typeof link === 'string' ? done(false, link) : probe(target, o, link, signal, done)),
    (err: unknown) => done(false, `route to ${realServer}: ${errorText(err)}`),
  );
}

function probe(
  target: CheckTarget,
  o: DsrCheckOptions,
  link: DsrLink,
  signal: AbortSignal,
  done: (ok: boolean, reason: string) => CheckResult,
): Promise<CheckResult> {
  const p: DsrProbe = {
    directorMac: link.mac,
    director: link.source,
    realServer: bytesToIp(ipToBytes(target.address)),
    vip: o.vip,
    port: o.connect_port ?? target.port,
    // Ephemeral ports (Linux's default range): the director's own connections to
    // the VIP, if any, are most unlikely to share a random 4-tuple.
    sourcePort: randomInt(32768, 61000),
    isn: randomInt(0, 2 ** 32),
    ipId: randomInt(0, 0x10000),
    arpCheck: o.arp_check,
  };
  return new Promise((resolve) => {
    let socket: DatagramSocket | undefined;
    let state: DsrState = { phase: 'arp', vipClaimers: [] };
    let settled = false;
    const finish = (ok: boolean, reason: string): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      socket?.close();
      resolve(done(ok, reason));
    };
    const onAbort = (): void => finish(false, silenceReason(p, state, link.interfaceName, abortText(signal)));
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      const ifindex = interfaceIndex(link.interfaceName);
      const destination = (frame: Buffer): Buffer => sockaddrLl(ifindex, frame.readUInt16BE(12), frame.subarray(0, 6));
      // Protocol 0 until bind: nothing is queued before the filter is on.
      socket = new DatagramSocket(AF_PACKET, SOCK_RAW, 0);
      socket.attachFilter(encodeBpf(synProbeFilter(p.vip, p.port, p.sourcePort)));
      socket.bind(sockaddrLl(ifindex, ETH_P_ALL));
      socket.on('error', (err) => {
        if (err.fatal) finish(false, `receive: ${errorText(err)}`);
      });
      socket.on('message', ({ data, from }) => {
        if (settled) return;
        const sender = decodeSockaddr(from);
        if (sender.family === 'packet' && sender.packetType === PACKET_OUTGOING) return; // our own frames
        const step = onFrame(p, state, parseFrame(data));
        state = step.state;
        try {
          for (const frame of step.send) socket!.send(frame, destination(frame));
        } catch (err) {
          if (!step.verdict) return finish(false, `send: ${errorText(err)}`);
        }
        if (step.verdict) finish(step.verdict.ok, step.verdict.reason);
      });
      socket.receive();
      const first = startProbe(p);
      state = first.state;
      for (const frame of first.send) socket.send(frame, destination(frame));
    } catch (err) {
      finish(false, `packet socket on ${link.interfaceName}: ${errorText(err)}`);
    }
  });
}

export const plugin: CheckPlugin<DsrCheckOptions> = {
  type: 'dsr',
  description:
    "TCP SYN to the VIP at the real server's MAC, as IPVS-DR forwards it (packet socket); down if the real server lost the VIP, answers ARP for it, or refuses the port",
  options,
  run: runDsr,
};
