import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { GenericNetlinkSocket } from '../../../src/net/genetlink.js';
import { AttrMap, NLM_F_DUMP } from '../../../src/net/netlink.js';
import { Netns } from '../../helpers/netns.js';

const IPVS_CMD_GET_INFO = 15;
const IPVS_INFO_ATTR_VERSION = 1;
const IPVS_INFO_ATTR_CONN_TAB_SIZE = 2;

const ns = Netns.create('fo-genl');
after(() => ns.delete());

test('resolves the generic netlink family IPVS and reads its version through the native socket', async () => {
  const ipvs = await GenericNetlinkSocket.open('IPVS', { netns: ns.path });
  try {
    assert.equal(ipvs.family.name, 'IPVS');
    assert.ok(ipvs.family.id >= 0x10);
    const [reply] = await ipvs.request(IPVS_CMD_GET_INFO, [], 0, { operation: 'IPVS_CMD_GET_INFO' });
    assert.ok(reply, 'GET_INFO answered');
    const attrs = AttrMap.parse(reply.attrs);
    const version = attrs.u32(IPVS_INFO_ATTR_VERSION)!;
    const text = `${version >> 16}.${(version >> 8) & 0xff}.${version & 0xff}`;
    const size = attrs.u32(IPVS_INFO_ATTR_CONN_TAB_SIZE)!;
    // ipvsadm reads the same kernel through its own code: the independent check.
    const banner = ns.exec('ipvsadm', ['-Ln']).split('\n')[0]!;
    assert.equal(banner, `IP Virtual Server version ${text} (size=${size})`);
  } finally {
    ipvs.close();
  }
});

test('a request the kernel refuses rejects with the errno name, and the socket keeps working', async () => {
  const ipvs = await GenericNetlinkSocket.open('IPVS', { netns: ns.path });
  try {
    // IPVS_CMD_DEL_SERVICE without a service: the kernel answers EINVAL.
    await assert.rejects(
      ipvs.request(3, [], 0, { operation: 'IPVS_CMD_DEL_SERVICE' }),
      (e: { code?: string; message: string }) => e.code === 'EINVAL' && /IPVS_CMD_DEL_SERVICE: EINVAL/.test(e.message),
    );
    const [reply] = await ipvs.request(IPVS_CMD_GET_INFO, []);
    assert.ok(reply);
  } finally {
    ipvs.close();
  }
});

test('an unknown family is a clear ENOENT', async () => {
  await assert.rejects(
    GenericNetlinkSocket.open('NO_SUCH_FAMILY', { netns: ns.path }),
    (e: { code?: string; message: string }) => e.code === 'ENOENT' && /not in this kernel/.test(e.message),
  );
});

test('a batch goes out in as few datagrams as fit: a refused request in the middle is named, the ones after it still applied', async () => {
  const { ipvsRequests } = await import('../../../src/ipvs/codec.js');
  ns.exec('sh', ['-c', 'ip link add rs0 type dummy 2>/dev/null; ip link set rs0 up; ip addr replace 10.255.255.254/8 dev rs0']);
  const ipvs = await GenericNetlinkSocket.open('IPVS', { netns: ns.path });
  const key = { kind: 'address', family: 'inet', protocol: 'tcp', address: '10.6.9.1', port: 80 } as const;
  const svc = { key, scheduler: 'wlc', flags: {}, persistenceTimeoutSec: 0, netmask: '255.255.255.255' };
  const rs = (n: number, weight = 1) => ({
    address: `10.6.9.${n}`,
    port: 80,
    weight,
    forwarding: 'dr' as const,
    upperThreshold: 0,
    lowerThreshold: 0,
  });
  try {
    // 200 bytes: one request per datagram; 400: two.
    for (const maxDatagramBytes of [undefined, 200, 400]) {
      const requests = [
        ipvsRequests.addService(svc),
        ipvsRequests.addDestination(key, rs(11)),
        ipvsRequests.addService(svc), // EEXIST
        ipvsRequests.addDestination(key, rs(12)),
        ipvsRequests.editDestination(key, rs(13)), // ENOENT: no such real server yet
        ipvsRequests.addDestination(key, rs(13, 4)),
      ];
      const results = await ipvs.requestBatch(requests, maxDatagramBytes ? { maxDatagramBytes } : {});
      assert.deepEqual(
        results.map((r) => r?.code),
        [undefined, undefined, 'EEXIST', undefined, 'ENOENT', undefined],
        `maxDatagramBytes ${maxDatagramBytes}`,
      );
      assert.match(results[2]!.message, /IPVS_CMD_NEW_SERVICE/);
      const listed = ns.exec('ipvsadm', ['-Ln', '-t', '10.6.9.1:80']);
      assert.deepEqual([...listed.matchAll(/-> (10\.6\.9\.\d+:80)\s+Route\s+(\d+)/g)].map((m) => `${m[1]} w${m[2]}`).sort(), [
        '10.6.9.11:80 w1',
        '10.6.9.12:80 w1',
        '10.6.9.13:80 w4',
      ]);
      ns.exec('ipvsadm', ['-D', '-t', '10.6.9.1:80']);
    }
    await assert.rejects(
      ipvs.netlink.requestBatch([{ type: ipvs.family.id, flags: NLM_F_DUMP, payload: new Uint8Array(4), operation: 'a dump' }]),
      /a dump: a dump cannot be part of a batch/,
    );
    assert.deepEqual(await ipvs.requestBatch([]), []);
  } finally {
    ipvs.close();
  }
});
