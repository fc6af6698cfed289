// The in-memory twin answers like the kernel: one script of operations, run
// against both, gives the same outcome (ok or errno code) at every step and the
// same table at the end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IpvsClient } from '../../../src/ipvs/client.js';
import { MemoryIpvsTable } from '../../../src/ipvs/memory-table.js';
import { errorCode, type IpvsTable, type TableMutation } from '../../../src/ipvs/table.js';
import { parseIpvsadmList } from '../../helpers/ipvsadm.js';
import { serviceKeyId, type ServiceKey } from '../../../src/ipvs/types.js';
import { dest, service, tcpKey } from '../../unit/ipvs/builders.js';
import { Netns } from '../../helpers/netns.js';
import { addRoutableDummy } from './netns.js';

const VIP = tcpKey('10.6.2.195', 80);
const MISSING = tcpKey('10.6.2.199', 80);
const V6: ServiceKey = { kind: 'address', family: 'inet6', protocol: 'udp', address: '2001:db8::1', port: 53 };

const SCRIPT: [string, (t: IpvsTable) => Promise<unknown>][] = [
  ['add service', (t) => t.addService(service(VIP))],
  ['add it again', (t) => t.addService(service(VIP, 'rr'))],
  ['add with an unknown scheduler', (t) => t.addService(service(MISSING, 'nosuch'))],
  ['edit a missing service', (t) => t.editService(service(MISSING))],
  ['edit to an unknown scheduler', (t) => t.editService(service(VIP, 'nosuch'))],
  ['delete a missing service', (t) => t.deleteService(MISSING)],
  ['add a destination to a missing service', (t) => t.addDestination(MISSING, dest('10.6.2.191'))],
  ['add a destination', (t) => t.addDestination(VIP, dest('10.6.2.191'))],
  ['add it again', (t) => t.addDestination(VIP, dest('10.6.2.191', 80, { weight: 4 }))],
  ['edit a missing destination', (t) => t.editDestination(VIP, dest('10.6.2.192'))],
  ['edit a destination of a missing service', (t) => t.editDestination(MISSING, dest('10.6.2.191'))],
  ['delete a missing destination', (t) => t.deleteDestination(VIP, dest('10.6.2.192'))],
  ['lower threshold above upper', (t) => t.addDestination(VIP, dest('10.6.2.193', 80, { upperThreshold: 5, lowerThreshold: 10 }))],
  ['an IPv6 real server in an IPv4 service, direct routing', (t) => t.addDestination(VIP, dest('2001:db8::10', 80))],
  [
    'an IPv6 real server in an IPv4 service, tunnel',
    (t) => t.addDestination(VIP, dest('2001:db8::10', 80, { forwarding: 'tun', tunnel: { type: 'ipip' } })),
  ],
  ['add an IPv6 service', (t) => t.addService(service(V6, 'sh', { flags: { schedPort: true } }))],
  ['edit a destination', (t) => t.editDestination(VIP, dest('10.6.2.191', 80, { weight: 7, forwarding: 'nat' }))],
  ['list destinations of a missing service', async (t) => (await t.listDestinations(MISSING)).length],
  ['get a missing service', async (t) => (await t.getService(MISSING)) === undefined],
  ['stop a daemon that is not running', (t) => t.stopDaemon('master')],
  ['delete a destination', (t) => t.deleteDestination(VIP, dest('10.6.2.191'))],
  ['delete the service', (t) => t.deleteService(V6)],
];

async function outcomes(table: IpvsTable): Promise<string[]> {
  const out: string[] = [];
  for (const [name, step] of SCRIPT) {
    try {
      const v = await step(table);
      out.push(`${name}: ok${v === undefined ? '' : ` ${JSON.stringify(v)}`}`);
    } catch (err) {
      out.push(`${name}: ${errorCode(err) ?? String(err)}`);
    }
  }
  return out;
}

test("the memory table gives the kernel's answers to the same script", async () => {
  const ns = Netns.create('fo-parity');
  const client = await IpvsClient.open({ netns: ns.path }).catch((e) => {
    ns.delete();
    throw e;
  });
  try {
    addRoutableDummy(ns);
    const kernel = await outcomes(client);
    const memory = new MemoryIpvsTable();
    const twin = await outcomes(memory);
    assert.deepEqual(twin, kernel);
    // The script does reach every kind of refusal.
    for (const code of ['EEXIST', 'ESRCH', 'ENOENT', 'ERANGE', 'EINVAL'])
      assert.ok(
        kernel.some((o) => o.endsWith(`: ${code}`)),
        `${code} in ${kernel.join('; ')}`,
      );
    const shape = async (t: IpvsTable) =>
      (await t.listServices())
        .map((a) => [
          serviceKeyId(a.service.key),
          a.service.scheduler,
          a.destinations.map((d) => `${d.address} ${d.weight} ${d.forwarding}`).sort(),
        ])
        .sort();
    assert.deepEqual(await shape(memory), await shape(client));
  } finally {
    client.close();
    ns.delete();
  }
});

// The script's mutations as data, in one batch: every refusal lands on its own
// mutation and the rest still apply, on both tables.
const BATCH: TableMutation[] = [
  { kind: 'addService', service: service(VIP) },
  { kind: 'addService', service: service(VIP, 'rr') },
  { kind: 'addService', service: service(MISSING, 'nosuch') },
  { kind: 'editService', service: service(MISSING) },
  { kind: 'deleteService', key: MISSING },
  { kind: 'addDest', key: MISSING, destination: dest('10.6.2.191') },
  { kind: 'addDest', key: VIP, destination: dest('10.6.2.191') },
  { kind: 'addDest', key: VIP, destination: dest('10.6.2.191', 80, { weight: 4 }) },
  { kind: 'editDest', key: VIP, destination: dest('10.6.2.192') },
  { kind: 'deleteDest', key: VIP, destination: dest('10.6.2.192') },
  { kind: 'addDest', key: VIP, destination: dest('10.6.2.193', 80, { upperThreshold: 5, lowerThreshold: 10 }) },
  { kind: 'addDest', key: VIP, destination: dest('2001:db8::10', 80) },
  { kind: 'addService', service: service(V6, 'sh', { flags: { schedPort: true } }) },
  { kind: 'editDest', key: VIP, destination: dest('10.6.2.191', 80, { weight: 7, forwarding: 'nat' }) },
  { kind: 'addDest', key: VIP, destination: dest('10.6.2.192', 80, { weight: 2 }) },
  { kind: 'deleteDest', key: VIP, destination: dest('10.6.2.192') },
  { kind: 'addDest', key: VIP, destination: dest('10.6.2.194', 80, { weight: 3 }) },
];

test("a batch of mutations: the memory table gives the kernel's answer for each, and the same table", async () => {
  const ns = Netns.create('fo-parity-batch');
  const client = await IpvsClient.open({ netns: ns.path }).catch((e) => {
    ns.delete();
    throw e;
  });
  try {
    addRoutableDummy(ns);
    const codes = async (t: IpvsTable) => (await t.applyBatch(BATCH)).map((r, i) => `${i} ${BATCH[i]!.kind}: ${r ? errorCode(r) : 'ok'}`);
    const kernel = await codes(client);
    const memory = new MemoryIpvsTable();
    assert.deepEqual(await codes(memory), kernel);
    for (const code of ['EEXIST', 'ESRCH', 'ENOENT', 'ERANGE', 'EINVAL'])
      assert.ok(
        kernel.some((o) => o.endsWith(`: ${code}`)),
        `${code} in ${kernel.join('; ')}`,
      );
    assert.ok(kernel.at(-1)!.endsWith(': ok'), 'mutations after refusals still apply');
    const shape = async (t: IpvsTable) =>
      (await t.listServices())
        .map((a) => [
          serviceKeyId(a.service.key),
          a.service.scheduler,
          a.destinations.map((d) => `${d.address} ${d.weight} ${d.forwarding}`).sort(),
        ])
        .sort();
    assert.deepEqual(await shape(memory), await shape(client));
    assert.deepEqual(
      parseIpvsadmList(ns.ipvsadm('-Ln'))
        .find((s) => s.id === '10.6.2.195:80')
        ?.destinations.map((d) => `${d.id} ${d.columns[1]}`)
        .sort(),
      ['10.6.2.191:80 7', '10.6.2.194:80 3'],
    );
  } finally {
    client.close();
    ns.delete();
  }
});
