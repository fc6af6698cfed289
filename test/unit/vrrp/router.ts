// Router n (192.0.2.n) on a fake segment, VRRPv3 at 20 ms, for the tests that stall,
// stamp or pace one side of a pair.
import type { EventBus } from '../../../src/events.js';
import { vrrpInstanceConfig } from '../../../src/vrrp/config.js';
import { VrrpInstance, type VrrpInstanceDeps } from '../../../src/vrrp/instance.js';
import { type FakeChannel, FakeHost, type FakeSegment, fakeIo } from './fake-io.js';

export type ChannelOptions = ConstructorParameters<typeof FakeChannel>[1];

/** Starts router n at `priority`, its advert channel made by `channel`; `extra` adds to or replaces its dependencies. */
export async function startRouter<C extends FakeChannel>(
  segment: FakeSegment,
  bus: EventBus,
  n: number,
  priority: number,
  channel: (o: ChannelOptions) => C,
  extra: Partial<VrrpInstanceDeps> = {},
) {
  const host = new FakeHost();
  host.addLink('eth0', 2, `02:00:00:00:00:0${n}`, [{ address: `192.0.2.${n}`, prefixLength: 24 }]);
  const io = fakeIo(segment, host);
  let opened: C | undefined;
  io.openChannel = (o) => (opened = channel(o));
  const config = vrrpInstanceConfig({
    name: `r${n}`,
    interface: 'eth0',
    vrid: 51,
    priority,
    version: 3,
    advertIntervalMs: 20,
    vips: ['192.0.2.195/32'],
  });
  const instance = new VrrpInstance(config, { io, clock: segment.clock, events: bus, ...extra });
  await instance.start();
  return { instance, channel: () => opened! };
}
