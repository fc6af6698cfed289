// Flap damping for a boolean signal (interface up/down): a change counts only
// after it has persisted for its delay; a change back before then is ignored.
import type { Clock, TimerHandle } from '../clock.js';

export class Debounced {
  private timer: TimerHandle | undefined;
  private raw: boolean;

  constructor(
    public settled: boolean,
    private readonly delays: { upMs: number; downMs: number },
    private readonly clock: Clock,
    private readonly onSettled: (value: boolean) => void,
  ) {
    this.raw = settled;
  }

  report(value: boolean): void {
    if (value === this.raw) return;
    this.raw = value;
    this.timer?.cancel();
    this.timer = undefined;
    if (value === this.settled) return;
    const delay = value ? this.delays.upMs : this.delays.downMs;
    const settle = (): void => {
      this.timer = undefined;
      this.settled = value;
      this.onSettled(value);
    };
    if (delay <= 0) settle();
    else this.timer = this.clock.setTimer(delay, settle);
  }

  cancel(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }
}
