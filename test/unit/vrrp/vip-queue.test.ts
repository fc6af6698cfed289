// The VIP queue alone: changes run in order whatever the host's latency, an idle
// queue issues at once (in the call), and a failed address does not stop the batch.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { InterfaceAddress, LinkState, VrrpHost } from '../../../src/vrrp/ports.js';
import { placeVips, type PlacedVip } from '../../../src/vrrp/vip-placement.js';
import { VipQueue } from '../../../src/vrrp/vip-queue.js';

/** A host whose every change waits until the test releases it. */
class SlowHost implements VrrpHost {
  readonly issued: string[] = [];
  readonly done: string[] = [];
  private readonly waiting: (() => void)[] = [];
  failing = new Set<string>();
  async link(): Promise<LinkState> {
    throw new Error('not used');
  }
  watchLink(): () => void {
    return () => undefined;
  }
  addAddress(iface: string, a: InterfaceAddress): Promise<void> {
    return this.change(`add ${a.address}@${iface}`);
  }
  removeAddress(iface: string, a: InterfaceAddress): Promise<void> {
    return this.change(`remove ${a.address}@${iface}`);
  }
  private change(op: string): Promise<void> {
    this.issued.push(op);
    return new Promise((resolve, reject) => {
      this.waiting.push(() => {
        this.done.push(op);
        if (this.failing.has(op)) reject(new Error(`${op} failed`));
        else resolve();
      });
    });
  }
  /** Completes the oldest pending change. */
  releaseOne(): boolean {
    const next = this.waiting.shift();
    next?.();
    return next !== undefined;
  }
  get pending(): number {
    return this.waiting.length;
  }
}

const flush = (): Promise<void> => new Promise((r) => setImmediate(r));
const vip = (address: string, iface = 'eth0'): PlacedVip => ({ iface, address: { address, prefixLength: 32 } });

describe('VipQueue', () => {
  it('an idle queue issues the batch in the call itself; a busy one waits for the batch before', async () => {
    const host = new SlowHost();
    const queue = new VipQueue(host, () => assert.fail('no error expected'));
    queue.queue('add', [vip('192.0.2.10'), vip('192.0.2.11')]);
    assert.deepEqual(host.issued, ['add 192.0.2.10@eth0', 'add 192.0.2.11@eth0'], 'issued before queue() returns');
    queue.queue('remove', [vip('192.0.2.10')]);
    await flush();
    assert.equal(host.issued.length, 2, 'the remove waits for the adds');
    host.releaseOne();
    await flush();
    assert.equal(host.issued.length, 2, 'and for all of them');
    host.releaseOne();
    await flush();
    assert.deepEqual(host.issued.slice(2), ['remove 192.0.2.10@eth0']);
    host.releaseOne();
    await queue.settled();
    assert.deepEqual(host.done, ['add 192.0.2.10@eth0', 'add 192.0.2.11@eth0', 'remove 192.0.2.10@eth0']);
  });

  it('afterIssued runs at once when the last batch was issued in its call, else after the queue', async () => {
    const host = new SlowHost();
    const queue = new VipQueue(host, () => undefined);
    const order: string[] = [];
    queue.queue('add', [vip('192.0.2.10')]);
    queue.afterIssued(() => order.push('announce 1'));
    assert.deepEqual(order, ['announce 1'], 'the add was handed to the host in queue()');
    queue.queue('remove', [vip('192.0.2.10')]);
    queue.queue('add', [vip('192.0.2.10')]);
    queue.afterIssued(() => order.push('announce 2'));
    assert.deepEqual(order, ['announce 1'], 'the second add is still queued');
    for (let i = 0; i < 10 && order.length < 2; i++) {
      host.releaseOne();
      await flush();
    }
    assert.deepEqual(order, ['announce 1', 'announce 2']);
    assert.deepEqual(
      host.done,
      ['add 192.0.2.10@eth0', 'remove 192.0.2.10@eth0', 'add 192.0.2.10@eth0'],
      'announced only after the add it follows',
    );
  });

  it('a failed address is reported and the rest of its batch and the queue go on', async () => {
    const host = new SlowHost();
    host.failing.add('add 192.0.2.11@eth1');
    const errors: string[] = [];
    const queue = new VipQueue(host, (err, op, v) => errors.push(`${op} ${v.address.address}@${v.iface}: ${(err as Error).message}`));
    queue.queue('add', [vip('192.0.2.10'), vip('192.0.2.11', 'eth1'), vip('192.0.2.12')]);
    queue.queue('remove', [vip('192.0.2.12')]);
    for (let i = 0; i < 10 && host.releaseOne(); i++) await flush();
    await queue.settled();
    assert.deepEqual(errors, ['add 192.0.2.11@eth1: add 192.0.2.11@eth1 failed']);
    assert.deepEqual(host.done.at(-1), 'remove 192.0.2.12@eth0');
  });
});

describe('placeVips', () => {
  it("puts each VIP on its own interface or the instance's, labelled on the instance's interface only", () => {
    const placement = { interface: 'eth0', vipInterfaces: { '192.0.2.11/32': 'eth1' } };
    const placed = placeVips(['192.0.2.10/32', '192.0.2.11/32'], placement, { interface: 'eth0', vipLabel: 'eth0:web', family: 4 });
    assert.deepEqual(placed, [
      { iface: 'eth0', address: { address: '192.0.2.10', prefixLength: 32, label: 'eth0:web' } },
      { iface: 'eth1', address: { address: '192.0.2.11', prefixLength: 32 } },
    ]);
  });

  it('IPv6 VIPs carry no label', () => {
    const placed = placeVips(['2001:db8::10/128'], { interface: 'eth0' }, { interface: 'eth0', vipLabel: 'eth0:web', family: 6 });
    assert.deepEqual(placed, [{ iface: 'eth0', address: { address: '2001:db8::10', prefixLength: 128 } }]);
  });
});
