/**
 * A render that runs at most once per `periodMs`: callers within the period get the
 * same result, and callers while it runs share the one in flight. The period counts
 * from the start of a render (the data's age), and a failure is kept for the period
 * too, so a failing render cannot be forced to run per request either.
 */
export class SharedRender<T> {
  private last: { startedAt: number; result: Promise<T>; settled: boolean } | undefined;

  constructor(
    private readonly render: () => T | Promise<T>,
    private readonly periodMs: number,
    private readonly now: () => number,
  ) {}

  get(): Promise<T> {
    const now = this.now();
    const last = this.last;
    if (last && (!last.settled || now - last.startedAt < this.periodMs)) return last.result;
    const entry = { startedAt: now, result: Promise.resolve().then(this.render), settled: false };
    const settle = (): void => {
      entry.settled = true;
    };
    entry.result.then(settle, settle);
    this.last = entry;
    return entry.result;
  }
}
