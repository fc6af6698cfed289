// The reconciler against the real kernel: a messy table ends exactly as declared,
// with foreign services untouched, no flush and no delete+re-add; drift made with
// ipvsadm is repaired by an audit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { systemClock } from '../../../src/clock.js';
import { EventBus, type AgentEvent } from '../../../src/events.js';
import { silentLogger } from '../../../src/log.js';
import { IpvsClient } from '../../../src/ipvs/client.js';
import { Reconciler } from '../../../src/ipvs/reconciler.js';
import type { DesiredService } from '../../../src/ipvs/types.js';
import { dest, service, tcpKey } from '../../unit/ipvs/builders.js';
import { parseIpvsadmList } from '../../helpers/ipvsadm.js';
import { Netns } from '../../helpers/netns.js';
import { addRoutableDummy } from './netns.js';

const VIP = tcpKey('10.6.2.195', 80);
const DECLARED: DesiredService[] = [
  { service: service(VIP, 'wlc'), destinations: [dest('10.6.2.191', 80, { weight: 1 }), dest('10.6.2.192', 80, { weight: 2 })] },
  { service: service({ kind: 'fwmark', family: 'inet', fwmark: 9 }, 'rr'), destinations: [dest('10.6.2.193', 0)] },
];

interface ReconcilerLab {
  ns: Netns;
  client: IpvsClient;
  reconciler: Reconciler;
  seen: AgentEvent[];
}

/**
 * A fresh namespace with a routable dummy (and whatever `prepare` puts in its table first),
 * a started reconciler without periodic audits, and the ipvs.* events it publishes.
 */
async function withReconciler(name: string, prepare: (ns: Netns) => void, fn: (lab: ReconcilerLab) => Promise<void>): Promise<void> {
  const ns = Netns.create(`fo-${name}`);
  let client: IpvsClient | undefined;
  let reconciler: Reconciler | undefined;
  try {
    addRoutableDummy(ns);
    prepare(ns);
    client = await IpvsClient.open({ netns: ns.path });
    const events = new EventBus('test');
    const seen: AgentEvent[] = [];
    events.subscribe('ipvs.*', (e) => seen.push(e));
    reconciler = new Reconciler({ table: client, clock: systemClock, logger: silentLogger(), events, auditIntervalMs: 0 });
    reconciler.start();
    await fn({ ns, client, reconciler, seen });
  } finally {
    await reconciler?.stop();
    client?.close();
    ns.delete();
  }
}

test('from a messy kernel table to exactly the declared one', async () => {
  let foreignBefore: ReturnType<typeof parseIpvsadmList>[number] | undefined;
  await withReconciler(
    'messy',
    (ns) => {
      ns.exec('ipvsadm', ['-R'], {
        input: [
          '-A -t 10.9.9.9:443 -s rr', // foreign
          '-a -t 10.9.9.9:443 -r 10.9.9.10:443 -g -w 3',
          '-A -t 10.6.2.195:80 -s rr', // declared, wrong scheduler
          '-a -t 10.6.2.195:80 -r 10.6.2.191:80 -g -w 7', // wrong weight
          '-a -t 10.6.2.195:80 -r 10.6.2.199:80 -g -w 1', // extra (missing: .192)
          '',
        ].join('\n'),
      });
      foreignBefore = parseIpvsadmList(ns.ipvsadm('-Ln')).find((s) => s.id === '10.9.9.9:443');
    },
    async ({ ns, reconciler, seen }) => {
      const report = await reconciler.setDesired(DECLARED);
      assert.equal(report.converged, true, JSON.stringify(report));

      const listed = parseIpvsadmList(ns.ipvsadm('-Ln'));
      const vip = listed.find((s) => s.id === '10.6.2.195:80');
      assert.equal(vip?.scheduler, 'wlc');
      assert.deepEqual(vip?.destinations.map((d) => [d.id, d.columns[0], d.columns[1]]).sort(), [
        ['10.6.2.191:80', 'Route', '1'],
        ['10.6.2.192:80', 'Route', '2'],
      ]);
      const fwm = listed.find((s) => s.protocol === 'FWM' && s.id === '9');
      assert.deepEqual(
        fwm?.destinations.map((d) => [d.id, d.columns[1]]),
        [['10.6.2.193:0', '1']],
      );
      assert.deepEqual(
        listed.find((s) => s.id === '10.9.9.9:443'),
        foreignBefore,
        'foreign service untouched',
      );
      assert.equal(listed.length, 3);

      const log = reconciler.opsLog();
      assert.deepEqual(log.map((e) => `${e.op} ${e.service}${e.destination ? ` ${e.destination}` : ''} ${e.result}`).sort(), [
        'addDest fwmark:inet:9 10.6.2.193:0 ok',
        'addDest tcp:10.6.2.195:80 10.6.2.192:80 ok',
        'addService fwmark:inet:9 ok',
        'deleteDest tcp:10.6.2.195:80 10.6.2.199:80 ok',
        'editDest tcp:10.6.2.195:80 10.6.2.191:80 ok',
        'editService tcp:10.6.2.195:80 ok',
      ]);
      assert.ok(!log.some((e) => e.op === 'deleteService'), 'no flush');

      // Someone deletes a real server and changes a weight with ipvsadm: the next audit repairs it.
      ns.ipvsadm('-d', '-t', '10.6.2.195:80', '-r', '10.6.2.192:80');
      ns.ipvsadm('-e', '-t', '10.6.2.195:80', '-r', '10.6.2.191:80', '-g', '-w', '9');
      const audit = await reconciler.audit();
      assert.equal(audit.drift, 2);
      assert.deepEqual(
        seen
          .filter((e) => e.type === 'ipvs.drift')
          .map((e) => e.reason)
          .sort(),
        ['real server changed: weight 1 → 9', 'real server deleted'],
      );
      const repaired = parseIpvsadmList(ns.ipvsadm('-Ln')).find((s) => s.id === '10.6.2.195:80');
      assert.deepEqual(repaired?.destinations.map((d) => [d.id, d.columns[1]]).sort(), [
        ['10.6.2.191:80', '1'],
        ['10.6.2.192:80', '2'],
      ]);

      // Stop leaves everything in place.
      await reconciler.stop();
      assert.equal(parseIpvsadmList(ns.ipvsadm('-Ln')).length, 3);
    },
  );
});

test('between audits the view is trusted: ipvsadm behind its back is repaired by the next audit, and a stale view that makes ops fail falls back to a full read', async () => {
  await withReconciler(
    'stale',
    () => undefined,
    async ({ ns, reconciler, seen }) => {
      const OTHER = tcpKey('10.6.2.196', 80);
      const table = (
        otherWeight: number,
        vipDests = [dest('10.6.2.191', 80, { weight: 1 }), dest('10.6.2.192', 80, { weight: 2 })],
      ): DesiredService[] => [
        { service: service(VIP, 'wlc'), destinations: vipDests },
        { service: service(OTHER, 'rr'), destinations: [dest('10.6.2.191', 80, { weight: otherWeight })] },
      ];
      assert.equal((await reconciler.setDesired(table(1))).converged, true);

      // Behind its back, in VIP; then a reload that changes only OTHER.
      ns.ipvsadm('-e', '-t', '10.6.2.195:80', '-r', '10.6.2.191:80', '-g', '-w', '9');
      const reload = await reconciler.setDesired(table(4));
      assert.equal(reload.converged, true);
      assert.equal(reload.ops, 1, 'only the changed service');
      const weights = (id: string) =>
        parseIpvsadmList(ns.ipvsadm('-Ln'))
          .find((s) => s.id === id)
          ?.destinations.map((d) => `${d.id} ${d.columns[1]}`)
          .sort();
      assert.deepEqual(weights('10.6.2.195:80'), ['10.6.2.191:80 9', '10.6.2.192:80 2'], 'not seen before the audit');
      assert.deepEqual(weights('10.6.2.196:80'), ['10.6.2.191:80 4']);
      const audit = await reconciler.audit();
      assert.equal(audit.drift, 1);
      assert.deepEqual(
        seen.filter((e) => e.type === 'ipvs.drift').map((e) => e.reason),
        ['real server changed: weight 1 → 9'],
      );
      assert.deepEqual(weights('10.6.2.195:80'), ['10.6.2.191:80 1', '10.6.2.192:80 2']);

      // Behind its back again: the real server the next reload edits is gone, and the one it adds is there.
      ns.ipvsadm('-d', '-t', '10.6.2.195:80', '-r', '10.6.2.192:80');
      ns.ipvsadm('-a', '-t', '10.6.2.195:80', '-r', '10.6.2.193:80', '-g', '-w', '7');
      const stale = await reconciler.setDesired(
        table(4, [dest('10.6.2.191', 80, { weight: 1 }), dest('10.6.2.192', 80, { weight: 5 }), dest('10.6.2.193', 80, { weight: 3 })]),
      );
      assert.equal(stale.converged, true, JSON.stringify(stale));
      assert.equal(stale.attempts, 2);
      assert.deepEqual(
        reconciler
          .opsLog()
          .filter((e) => e.result !== 'ok')
          .map((e) => `${e.op} ${e.destination}: ${e.result}`)
          .sort(),
        ['addDest 10.6.2.193:80: EEXIST', 'editDest 10.6.2.192:80: ENOENT'],
      );
      assert.deepEqual(weights('10.6.2.195:80'), ['10.6.2.191:80 1', '10.6.2.192:80 5', '10.6.2.193:80 3']);
      assert.equal((await reconciler.audit()).drift, 0, 'the view matches the kernel again');
    },
  );
});
