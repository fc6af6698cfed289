// Lets bulk work on the main thread stand aside for a VRRP deadline about to fall due.
// A backup takes over when its Master_Down_Timer runs, and that is as late as whatever
// piece of work the event loop started just before: a slice of the health-check
// thread's messages (SlicedQueue), an IPVS diff. A backup posts its deadline here;
// bulk work asks before it starts a piece, and does not start one from `leadMs` before
// a deadline until `graceMs` after it (by then the timer has run and posted the next
// one, unless the loop was held by something else: the gate never holds bulk work for
// longer than lead + grace per deadline).
export class TurnGate {
  private readonly deadlines = new Map<object, number>();

  constructor(
    private readonly now: () => number,
    /** How long a piece of bulk work may run: none starts closer than that to a deadline. */
    readonly leadMs: number,
    readonly graceMs: number,
  ) {}

  /** `owner`'s next deadline (a clock.now() value), or undefined when it has none. */
  post(owner: object, at: number | undefined): void {
    if (at === undefined) this.deadlines.delete(owner);
    else this.deadlines.set(owner, at);
  }

  /** How long bulk work should wait before it starts a piece: 0 when it may start now. */
  waitMs(): number {
    const now = this.now();
    let wait = 0;
    for (const d of this.deadlines.values())
      if (now >= d - this.leadMs && now < d + this.graceMs) wait = Math.max(wait, d + this.graceMs - now);
    return wait;
  }
}
