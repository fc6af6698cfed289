// keepalived's track_file: a file holding an integer, polled; missing or
// unreadable counts as 0 (keepalived's rule too), text that is not an integer as 0.
import { readFile } from 'node:fs/promises';
import type { Clock, TimerHandle } from '../clock.js';

export type FileRead = (path: string) => Promise<string>;

/** The file's number as keepalived reads it (C strtol, base 0: 0x1f hex, 017 octal); no number is 0. */
export function parseTrackFile(text: string): number {
  const match = /^\s*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9]\d*)/.exec(text);
  if (!match) return 0;
  const digits = match[2]!;
  const magnitude = /^0[xX]/.test(digits)
    ? parseInt(digits.slice(2), 16)
    : digits.length > 1 && digits.startsWith('0')
      ? parseInt(digits, 8)
      : Number(digits);
  return match[1] === '-' && magnitude !== 0 ? -magnitude : magnitude;
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
