// The bench fleet (fleet.ts) as a child process: started with its descriptor limit
// raised, commanded over stdin, answering one line per command.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));

export class Fleet {
  private lines: string[] = [];
  private wake?: () => void;
  constructor(readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (l) => {
      this.lines.push(l);
      this.wake?.();
    });
    child.stderr!.on('data', (d: Buffer) => process.stderr.write(`fleet: ${d.toString()}`));
  }
  static start(n: number, tlsFiles: readonly string[] = []): Fleet {
    const script = `${here}fleet.js`;
    // 10,000 listeners plus their connections need more descriptors than the usual
    // 1024 soft limit, and with kept-alive connections (10,000 more) more than a
    // 20,000 hard limit (libuv then accepts and at once closes the excess, which
    // reads as "other side closed"): the fleet raises the limit when it may
    // (CAP_SYS_RESOURCE), else runs with the soft limit raised to the hard one.
    const child = spawn(
      '/bin/sh',
      ['-c', 'ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$0" "$@"', process.execPath, script, String(n), ...tlsFiles],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    return new Fleet(child);
  }
  async line(): Promise<string> {
    for (let waited = 0; waited < 120_000; waited += 100) {
      const l = this.lines.shift();
      if (l !== undefined) return l;
      if (this.child.exitCode !== null) throw new Error(`fleet exited with status ${this.child.exitCode}`);
      await new Promise<void>((r) => {
        this.wake = r;
        setTimeout(r, 100);
      });
    }
    throw new Error('fleet did not answer in 120 s');
  }
  async command(cmd: 'stop' | 'start' | 'freeze', ids: number[]): Promise<number> {
    this.child.stdin!.write(`${JSON.stringify({ cmd, ids })}\n`);
    return (JSON.parse(await this.line()) as { at: number }).at;
  }
  stop(): void {
    if (this.child.pid)
      try {
        process.kill(this.child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
  }
}
