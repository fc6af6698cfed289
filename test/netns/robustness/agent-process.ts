// The real agent (`failoverd run`) in a network namespace, as the robustness
// tests, the lateness bench and the soak run it: JSON logs collected, status and
// metrics over its Unix socket, resource use read from /proc.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { ApiClient } from '../../../src/api/client.js';
import type { StatusSnapshot } from '../../../src/api/status-types.js';
import { waitFor } from '../../helpers/wait.js';

/** The CLI compiled next to this file (whatever the output directory). */
export const CLI = fileURLToPath(new URL('../../../src/cli.js', import.meta.url));

export type Samples = Map<string, number>;

/** Prometheus text → "name{labels}" → value (labels as printed). */
export function parseMetrics(text: string): Samples {
  const out: Samples = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^(\S+?(?:\{.*\})?)\s+(\S+)$/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

/** Sum of the samples of `name` whose labels include every given label. */
export function sumOf(samples: Samples, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const [key, value] of samples) {
    if (!key.startsWith(`${name}{`) && key !== name) continue;
    if (Object.entries(labels).every(([k, v]) => key.includes(`${k}="${v}"`))) total += value;
  }
  return total;
}

export interface ResourceUse {
  rssKb: number;
  fds: number;
  cpuMs: number;
}

export function resourceUse(pid: number): ResourceUse {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return { rssKb, fds: readdirSync(`/proc/${pid}/fd`).length, cpuMs: ticks * 10 };
}

export class AgentProcess {
  readonly logs: Record<string, unknown>[] = [];
  readonly exited: Promise<number | null>;
  readonly api: ApiClient;

  private constructor(
    readonly proc: ChildProcess,
    readonly socketPath: string,
  ) {
    createInterface({ input: proc.stderr! }).on('line', (line) => {
      try {
        this.logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        this.logs.push({ msg: line });
      }
    });
    this.exited = new Promise((resolve) => proc.on('exit', (code) => resolve(code)));
    this.api = new ApiClient({ kind: 'unix', path: socketPath });
  }

  /**
   * Starts `failoverd run --config FILE` inside the namespace (same pid: ip netns exec execs).
   * At debug level every bus event is logged ({event}), so tests can count what was published.
   * `runAs` goes between `ip netns exec NS` and node (e.g. setpriv ... to start it unprivileged);
   * `nodeArgs` between node and the CLI (e.g. --import of a test fixture).
   */
  static start(
    ns: string,
    configPath: string,
    socketPath: string,
    env: NodeJS.ProcessEnv = {},
    logLevel = 'debug',
    runAs: string[] = [],
    nodeArgs: string[] = [],
  ): AgentProcess {
    const proc = spawn(
      'ip',
      ['netns', 'exec', ns, ...runAs, process.execPath, ...nodeArgs, CLI, 'run', '--config', configPath, '--log-level', logLevel],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, ...env },
      },
    );
    return new AgentProcess(proc, socketPath);
  }

  get pid(): number {
    return this.proc.pid!;
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  async status(): Promise<StatusSnapshot> {
    return this.api.status();
  }

  async metrics(): Promise<Samples> {
    return parseMetrics(await this.api.metrics());
  }

  /** State of each VRRP instance by name. */
  async states(): Promise<Record<string, string>> {
    return Object.fromEntries((await this.status()).instances.map((i) => [i.name, i.state]));
  }

  /** Waits until the instance reports `state`; while the API is not listening yet, it is not there. */
  async waitForState(instance: string, state: string, timeoutMs: number, stepMs = 50): Promise<void> {
    await waitFor(async () => (await this.states().catch((): Record<string, string> => ({})))[instance] === state, {
      what: `${instance} ${state}`,
      timeoutMs: timeoutMs,
      stepMs: stepMs,
    });
  }

  /** Log lines whose message or event mention `text`. */
  logged(text: string): boolean {
    return this.logs.some((l) => JSON.stringify(l).includes(text));
  }

  resources(): ResourceUse {
    return resourceUse(this.pid);
  }

  kill(signal: NodeJS.Signals): void {
    if (this.running) this.proc.kill(signal);
  }

  async stop(): Promise<void> {
    await this.api.close().catch(() => undefined);
    if (!this.running) return;
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(timer);
  }
}
