// The one way tests wait on real I/O: poll a condition until it holds, bounded both
// in time and in the number of polls, and say what was awaited when it never came.
// It measures nothing: a test that uses it asserts the outcome, never how long it took.
// (Unit tests may use it only for real I/O they start: a loopback socket, a child
// process, a worker thread. Their own time is a FakeClock.)

export interface WaitOptions {
  /** What is awaited, for the error on timeout ("the VIP on failoverd"). */
  what: string;
  /** A generous deadline: a missed one is a failure, never a measurement. */
  timeoutMs?: number;
  /** The pause between polls. */
  stepMs?: number;
  /** More context for the timeout error (recent events, stderr...). */
  detail?: () => string;
}

/** Resolves once `condition()` holds; rejects after `timeoutMs` or too many polls. */
export async function waitFor(condition: () => boolean | Promise<boolean>, options: WaitOptions): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const stepMs = Math.max(1, options.stepMs ?? 20);
  const deadline = performance.now() + timeoutMs;
  // The count bounds the loop even if the clock misbehaves; two polls per step of the
  // deadline leaves room for a condition that returns at once.
  const maxPolls = 2 * Math.ceil(timeoutMs / stepMs) + 2;
  for (let poll = 0; poll < maxPolls; poll++) {
    if (await condition()) return;
    if (performance.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, stepMs));
  }
  if (await condition()) return;
  const detail = options.detail?.();
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${options.what}${detail ? `; ${detail}` : ''}`);
}

/** Runs fn after `turns` turns of the event loop: a delay counted in turns, not time. */
export function afterTurns(turns: number, fn: () => void): void {
  if (turns <= 0) fn();
  else setImmediate(() => afterTurns(turns - 1, fn));
}

/** Resolves after `n` turns of the event loop (afterTurns, awaited). */
export function turns(n: number): Promise<void> {
  return new Promise((resolve) => afterTurns(n, resolve));
}
