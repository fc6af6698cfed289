// keepalived's track_file: a file holding an integer, polled; missing or
// unreadable counts as 0, text that is not an integer as 0 too.
import { readFile } from 'node:fs/promises';
import type { Clock, TimerHandle } from '../clock.js';

export type FileRead = (path: string) => Promise<string>;

export function parseTrackFile(text: string): number {
  const match = /^\s*(-?\d+)/.exec(text);
  return match ? Number(match[1]) : 0;
}

export class TrackFileWatcher {
  private timer: TimerHandle | undefined;
  private stopped = false;
  value = 0;

  constructor(
    readonly path: string,
    private readonly clock: Clock,
    private readonly onChange: (value: number) => void,
    private readonly pollMs = 1000,
    private readonly read: FileRead = (p) => readFile(p, 'utf8'),
  ) {}

  async start(): Promise<void> {
    this.value = await this.readValue();
    this.schedule();
  }

  private async readValue(): Promise<number> {
    try {
      return parseTrackFile(await this.read(this.path));
    } catch {
      return 0;
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.clock.setTimer(this.pollMs, () => {
      void this.readValue().then((v) => {
        if (this.stopped) return;
        if (v !== this.value) {
          this.value = v;
          this.onChange(v);
        }
        this.schedule();
      });
    });
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
  }
}
