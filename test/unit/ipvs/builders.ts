// Small builders for IPVS unit tests.
import type { ActualDestination, ActualService, DestinationSpec, ServiceKey, ServiceSpec } from '../../../src/ipvs/types.js';

export const tcpKey = (address: string, port: number): ServiceKey => ({
  kind: 'address',
  family: address.includes(':') ? 'inet6' : 'inet',
  protocol: 'tcp',
  address,
  port,
});

export const service = (key: ServiceKey, scheduler = 'wlc', extra: Partial<ServiceSpec> = {}): ServiceSpec => ({
  key,
  scheduler,
  flags: { persistent: false, onePacket: false, schedFallback: false, schedPort: false },
  persistenceTimeoutSec: 0,
  netmask: key.family === 'inet' ? '255.255.255.255' : 128,
  ...extra,
});

export const dest = (address: string, port = 80, extra: Partial<DestinationSpec> = {}): DestinationSpec => ({
  address,
  port,
  weight: 1,
  forwarding: 'dr',
  upperThreshold: 0,
  lowerThreshold: 0,
  ...extra,
});

export const actualDest = (d: DestinationSpec, active = 0, inactive = 0): ActualDestination => ({
  ...d,
  activeConnections: active,
  inactiveConnections: inactive,
  persistentConnections: 0,
});

export const actual = (s: ServiceSpec, destinations: ActualDestination[]): ActualService => ({ service: s, destinations });
