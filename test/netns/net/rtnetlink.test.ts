import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Netns, vethPair } from '../../helpers/netns.js';
import { RtNetlink, type RtnlChange } from '../../../src/net/rtnetlink.js';
import { waitFor } from '../../helpers/wait.js';

const ns = Netns.create('fo-rtnl');
after(() => ns.delete());
vethPair({ ns, name: 'vipa0' }, { ns, name: 'vipb0' });
ns.ip('addr', 'add', '10.6.2.190/24', 'dev', 'vipa0');

interface IpAddr {
  ifname: string;
  addr_info: { family: string; local: string; prefixlen: number; label?: string }[];
}

test('adds and removes a VIP on a veth through rtnetlink; ip -j addr and notifications agree', async () => {
  const rtnl = new RtNetlink({ netns: ns.path });
  const watcher = rtnl.watch();
  const changes: RtnlChange[] = [];
  watcher.on('change', (c) => changes.push(c));
  try {
    const link = await rtnl.getLink('vipa0');
    assert.equal(link.name, 'vipa0');
    assert.match(link.mac, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    assert.equal(link.mtu, 1500);
    assert.equal(link.adminUp, true);
    const shown = ns.ipJson<{ address: string; mtu: number; ifindex: number }[]>('link', 'show', 'vipa0')[0]!;
    assert.equal(link.mac, shown.address);
    assert.equal(link.index, shown.ifindex);

    await rtnl.addAddress({ ifindex: link.index, address: '10.6.2.195', prefixLength: 32, label: 'vipa0:vip' });
    await rtnl.addAddress({ ifindex: link.index, address: 'fd00:6:2::195', prefixLength: 128 });
    const afterAdd = ns.ipJson<IpAddr[]>('addr', 'show', 'dev', 'vipa0')[0]!.addr_info;
    const vip = afterAdd.find((a) => a.local === '10.6.2.195');
    assert.ok(vip, `VIP not shown by ip: ${JSON.stringify(afterAdd)}`);
    assert.equal(vip.prefixlen, 32);
    assert.equal(vip.label, 'vipa0:vip');
    assert.ok(afterAdd.some((a) => a.local === 'fd00:6:2::195' && a.prefixlen === 128));

    const listed = await rtnl.listAddresses({ ifindex: link.index });
    assert.ok(listed.some((a) => a.address === '10.6.2.195' && a.label === 'vipa0:vip'));

    await assert.rejects(
      rtnl.addAddress({ ifindex: link.index, address: '10.6.2.195', prefixLength: 32 }),
      (e: { code?: string }) => e.code === 'EEXIST',
    );

    await rtnl.deleteAddress({ ifindex: link.index, address: '10.6.2.195', prefixLength: 32 });
    await rtnl.deleteAddress({ ifindex: link.index, address: 'fd00:6:2::195', prefixLength: 128 });
    const afterDelete = ns.ipJson<IpAddr[]>('addr', 'show', 'dev', 'vipa0')[0]!.addr_info;
    assert.ok(!afterDelete.some((a) => a.local === '10.6.2.195' || a.local === 'fd00:6:2::195'));
    await assert.rejects(
      rtnl.deleteAddress({ ifindex: link.index, address: '10.6.2.195', prefixLength: 32 }),
      (e: { code?: string }) => e.code === 'EADDRNOTAVAIL',
    );

    const seen = (action: string, address: string) =>
      changes.some((c) => c.kind === 'address' && c.action === action && c.address.address === address);
    await waitFor(
      () => seen('new', '10.6.2.195') && seen('del', '10.6.2.195') && seen('new', 'fd00:6:2::195') && seen('del', 'fd00:6:2::195'),
      { what: 'address notifications' },
    );
    const added = changes.find((c) => c.kind === 'address' && c.action === 'new' && c.address.address === '10.6.2.195');
    assert.equal(added?.kind === 'address' && added.address.label, 'vipa0:vip');
  } finally {
    watcher.close();
    rtnl.close();
  }
});

test('link state changes arrive as notifications', async () => {
  const rtnl = new RtNetlink({ netns: ns.path });
  const watcher = rtnl.watch();
  const changes: RtnlChange[] = [];
  watcher.on('change', (c) => changes.push(c));
  try {
    ns.ip('link', 'set', 'vipb0', 'down');
    await waitFor(() => changes.some((c) => c.kind === 'link' && c.link.name === 'vipa0' && !c.link.lowerUp), {
      what: 'vipa0 carrier loss',
    });
    assert.equal((await rtnl.getLink('vipa0')).operState === 'up', false);
    ns.ip('link', 'set', 'vipb0', 'up');
    await waitFor(() => changes.some((c) => c.kind === 'link' && c.link.name === 'vipa0' && c.link.operState === 'up'), {
      what: 'vipa0 back up',
    });
  } finally {
    watcher.close();
    rtnl.close();
  }
});

test('a missing link is ENODEV', async () => {
  const rtnl = new RtNetlink({ netns: ns.path });
  try {
    await assert.rejects(rtnl.getLink('nosuch0'), (e: { code?: string }) => e.code === 'ENODEV');
  } finally {
    rtnl.close();
  }
});
