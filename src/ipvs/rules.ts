// The IPVS rules: what the kernel's virtual-service table refuses or would silently
// ignore, for one service and its destinations. Written once, here; the config layer
// runs them for every `services:` entry (check, run and reload alike) and places each
// problem at file:line:key. Paths are in the YAML's keys, relative to the service.
import { isIP } from 'node:net';
import { destinationId, type DestinationSpec, type ServiceSpec } from './types.js';

export interface IpvsProblem {
  path: Array<string | number>;
  message: string;
}

const familyOf = (address: string): 'inet' | 'inet6' => (isIP(address) === 6 ? 'inet6' : 'inet');
const familyText = (f: 'inet' | 'inet6'): string => (f === 'inet6' ? 'IPv6' : 'IPv4');

export function ipvsServiceProblems(spec: ServiceSpec, destinations: readonly DestinationSpec[]): IpvsProblem[] {
  const problems: IpvsProblem[] = [];
  const bad = (path: Array<string | number>, message: string): void => {
    problems.push({ path, message });
  };
  const { key, flags } = spec;
  if ((flags.schedFallback || flags.schedPort) && spec.scheduler !== 'sh' && spec.scheduler !== 'mh') {
    bad(['scheduler_flags'], `scheduler flags apply only to the sh and mh schedulers, got scheduler ${spec.scheduler}`);
  }
  if (flags.onePacket && key.kind === 'address' && key.protocol !== 'udp') bad(['one_packet'], 'one_packet applies only to UDP services');
  if (key.family === 'inet' && typeof spec.netmask !== 'string')
    bad(['persistence_netmask'], 'expected a dotted netmask like 255.255.255.0 for an IPv4 service');
  if (key.family === 'inet6' && typeof spec.netmask !== 'number')
    bad(['persistence_netmask'], 'expected a prefix length (1-128) for an IPv6 service');

  const endpoints = new Map<string, number>();
  destinations.forEach((d, k) => {
    const at = (...rest: Array<string | number>) => ['real_servers', k, ...rest];
    if (familyOf(d.address) !== key.family)
      bad(at('address'), `expected an ${familyText(key.family)} address like the service's, got ${d.address}`);
    const id = destinationId(d);
    const first = endpoints.get(id);
    if (first !== undefined) bad(at('address'), `${d.address} port ${d.port} is already real_servers[${first}]`);
    else endpoints.set(id, k);
    if (d.tunnel && d.forwarding !== 'tun') bad(at('tunnel'), 'tunnel applies only with forwarding: tun');
    if (d.lowerThreshold > 0 && d.upperThreshold > 0 && d.lowerThreshold > d.upperThreshold) {
      bad(at('lower_threshold'), `expected at most upper_threshold (${d.upperThreshold}), got ${d.lowerThreshold}`);
    }
  });
  return problems;
}
