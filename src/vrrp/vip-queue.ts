// The VIP changes of one instance, in order: each batch runs after the one before,
// whatever the host's latency, so an add and a remove never overtake each other.
import type { VrrpHost } from './ports.js';
import type { PlacedVip } from './vip-placement.js';

export type VipOp = 'add' | 'remove';

export class VipQueue {
  private tail: Promise<void> = Promise.resolve();
  private pending = 0;
  /** Whether every queued change has already been handed to the kernel. */
  private issued = true;

  /** onError: one VIP's change failed (the others of the batch still run). */
  constructor(
    private readonly host: VrrpHost,
    private readonly onError: (err: unknown, op: VipOp, vip: PlacedVip) => void,
  ) {}

  /**
   * When nothing is pending the batch is issued at once, in this call: the kernel has
   * applied it when the host returns, so an announcement need not wait for the
   * acknowledgement (a millisecond or two of failover time).
   */
  queue(op: VipOp, vips: readonly PlacedVip[]): void {
    const run = (): Promise<void> =>
      Promise.all(
        vips.map(async (vip) => {
          try {
            if (op === 'add') await this.host.addAddress(vip.iface, vip.address);
            else await this.host.removeAddress(vip.iface, vip.address);
          } catch (err) {
            this.onError(err, op, vip);
          }
        }),
      ).then(() => undefined);
    const idle = this.pending === 0;
    this.pending++;
    const settled = (): void => {
      this.pending--;
    };
    this.issued = idle;
    this.tail = (idle ? run() : this.tail.then(run)).then(settled, settled);
  }

  /** Runs fn once the queued changes are in place: at once if they were issued in the call that queued them, else after the queue. */
  afterIssued(fn: () => void): void {
    if (this.issued) fn();
    else this.tail = this.tail.then(fn);
  }

  /** Resolves when everything queued so far has run. */
  settled(): Promise<void> {
    return this.tail;
  }
}
