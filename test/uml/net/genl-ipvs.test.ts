import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { GenericNetlinkSocket } from '../../../src/net/genetlink.js';
import { AttrMap } from '../../../src/net/netlink.js';
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
    await assert.rejects(ipvs.request(3, [], 0, { operation: 'IPVS_CMD_DEL_SERVICE' }), (e: { code?: string; message: string }) => e.code === 'EINVAL' && /IPVS_CMD_DEL_SERVICE: EINVAL/.test(e.message));
    const [reply] = await ipvs.request(IPVS_CMD_GET_INFO, []);
    assert.ok(reply);
  } finally {
    ipvs.close();
  }
});

test('an unknown family is a clear ENOENT', async () => {
  await assert.rejects(GenericNetlinkSocket.open('NO_SUCH_FAMILY', { netns: ns.path }), (e: { code?: string; message: string }) => e.code === 'ENOENT' && /not in this kernel/.test(e.message));
});
