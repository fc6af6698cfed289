// Processes the lab starts inside its namespaces ("ip netns exec NS CMD", which
// execs CMD, so the child's PID is the program's own and kill -9 hits it).
// Every one is tracked and killed by PID at cleanup; stdin stays a pipe to the
// orchestrator so lab scripts exit on their own if the orchestrator dies.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class LabProcess {
  readonly pid: number;
  readonly exited: Promise<ExitInfo>;
  private exitInfo: ExitInfo | undefined;
  private stderrTail = '';

  constructor(
    readonly label: string,
    child: ChildProcess,
    onStdout?: (line: string) => void,
    onStderr?: (line: string) => void,
  ) {
    if (child.pid === undefined) throw new Error(`${label}: could not start`);
    this.pid = child.pid;
    this.exited = new Promise((resolve) =>
      child.on('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      }),
    );
    createInterface({ input: child.stdout! }).on('line', (line) => onStdout?.(line));
    createInterface({ input: child.stderr! }).on('line', (line) => {
      this.stderrTail = `${this.stderrTail}${line}\n`.slice(-4000);
      onStderr?.(line);
    });
    child.stdin?.on('error', () => undefined);
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  get exit(): ExitInfo | undefined {
    return this.exitInfo;
  }

  /** The last few KB of stderr, for error reports. */
  get stderr(): string {
    return this.stderrTail;
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (!this.running) return;
    try {
      process.kill(this.pid, signal);
    } catch {
      /* already gone */
    }
  }

  /** SIGTERM, then SIGKILL if it has not exited within graceMs. */
  async stop(graceMs = 3000): Promise<ExitInfo> {
    if (!this.running) return this.exitInfo!;
    this.kill('SIGTERM');
    const timer = setTimeout(() => this.kill('SIGKILL'), graceMs);
    const info = await this.exited;
    clearTimeout(timer);
    return info;
  }
}

export class ProcessSet {
  private readonly all = new Set<LabProcess>();

  /** Starts argv inside namespace ns. */
  start(
    label: string,
    ns: string,
    argv: string[],
    handlers: { stdout?: (line: string) => void; stderr?: (line: string) => void } = {},
  ): LabProcess {
    const child = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['pipe', 'pipe', 'pipe'] });
    const proc = new LabProcess(label, child, handlers.stdout, handlers.stderr);
    this.all.add(proc);
    void proc.exited.then(() => this.all.delete(proc));
    return proc;
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.all].map((p) => p.stop(2000)));
  }

  killAll(): void {
    for (const p of this.all) p.kill('SIGKILL');
  }
}
