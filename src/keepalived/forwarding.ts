// lb_kind / lvs_method (NAT, DR, TUN with its options) → forwarding and tunnel.
import { notCarried, type Converted } from './findings.js';
import type { KaNode } from './parse.js';
import { int } from './values.js';
import type { WrittenTunnel } from './written.js';

export interface Forwarding {
  forwarding: string;
  tunnel?: WrittenTunnel;
}

export function forwardingOf(c: KaNode): Converted<Forwarding> {
  const [method, ...rest] = c.args;
  const m = method?.toUpperCase();
  if (m === 'DR' || m === 'NAT') return { value: { forwarding: m.toLowerCase() }, findings: [] };
  if (m !== 'TUN') return { findings: [notCarried(c, 'expected NAT, DR or TUN')] };
  const tunnel: WrittenTunnel = {};
  for (let i = 0; i < rest.length; i++) {
    const word = rest[i]!;
    if (word === 'type') tunnel.type = rest[++i];
    else if (word === 'port') tunnel.port = int(rest[++i]);
    else if (word === 'nocsum') tunnel.checksum = 'none';
    else if (word === 'csum' || word === 'remcsum') tunnel.checksum = word;
    else return { findings: [notCarried(c, `${word}: no tunnel equivalent`)] };
  }
  return { value: { forwarding: 'tun', ...(Object.keys(tunnel).length ? { tunnel } : {}) }, findings: [] };
}
