// The one way failoverd starts a program: exec checks, notify programs and VRRP track
// scripts all come through here, so they share one rule for what a child may see and
// one rule for what may outlive it.
//
// - Environment: an allow-list of the agent's variables (PATH, HOME, LANG, LANGUAGE,
//   LC_*, TZ, TMPDIR) plus what the caller documents (FAILOVERD_*, an exec check's own
//   `env:`). Never the whole environment: under systemd it holds EnvironmentFile=
//   secrets and NOTIFY_SOCKET (a child could tell systemd the agent is READY or STOPPING).
// - Lifetime: each program is its own process group. When it exits, times out or is
//   aborted the whole group is killed, and its stdout/stderr are closed shortly after,
//   so a backgrounded grandchild neither lives on nor holds a pipe open.
// Capabilities are not handled here: `failoverd run` clears the ambient set once, on the
// main thread, before any thread or child exists.
import { spawn } from 'node:child_process';

const ALLOWED_NAMES = new Set(['PATH', 'HOME', 'LANG', 'LANGUAGE', 'TZ', 'TMPDIR']);
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** After the program exits, its pipes get this long to deliver what it wrote before they are closed. */
const PIPE_GRACE_MS = 100;

export function isInheritedVariable(name: string): boolean {
  return ALLOWED_NAMES.has(name) || name.startsWith('LC_');
}

/** The allow-listed part of `parent`, then `own` (the caller's documented variables) on top. */
export function childEnvironment(own: Record<string, string>, parent: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(parent)) {
    if (value !== undefined && isInheritedVariable(name)) env[name] = value;
  }
  env['PATH'] ??= DEFAULT_PATH;
  return { ...env, ...own };
}

export interface ChildOptions {
  args: readonly string[];
  /** The complete environment; build it with childEnvironment(). */
  env: Record<string, string>;
  cwd?: string;
  /** Written to stdin, then stdin is closed; without it stdin is /dev/null. */
  stdin?: string;
  /** Past this the group gets SIGTERM, and SIGKILL `killGraceMs` later (at once when 0). */
  timeoutMs?: number;
  killGraceMs?: number;
  /** Aborting kills the group at once. */
  signal?: AbortSignal;
  /** Output kept (stdout and stderr together), default 4096 characters. */
  outputLimit?: number;
  /** The timer for timeoutMs and killGraceMs (an injected clock in tests). */
  setTimer?: (delayMs: number, fn: () => void) => { cancel(): void };
}

export interface ChildResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  aborted: boolean;
  /** The program could not be started: the errno code (ENOENT, EACCES) or a message. */
  error?: string;
  output: string;
  pid?: number;
}

const realTimer = (delayMs: number, fn: () => void): { cancel(): void } => {
  const timer = setTimeout(fn, delayMs);
  return { cancel: () => clearTimeout(timer) };
};

export function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

/** Runs `file` without a shell; resolves once it is reaped and its pipes are closed. Never rejects. */
export function runChild(file: string, options: ChildOptions): Promise<ChildResult> {
  const limit = options.outputLimit ?? 4096;
  const setTimer = options.setTimer ?? realTimer;
  return new Promise((resolve) => {
    if (options.signal?.aborted) {
      resolve({ exitCode: null, signal: null, timedOut: false, aborted: true, output: '' });
      return;
    }
    let output = '';
    let timedOut = false;
    let aborted = false;
    let spawnError: string | undefined;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let settled = false;
    const timers: Array<{ cancel(): void }> = [];
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(file, options.args, {
        detached: true, // its own process group (and session), so kill(-pid) reaches every descendant
        stdio: [options.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
        env: options.env,
        ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
      });
    } catch (err) {
      const error = (err as Error).message;
      resolve({ exitCode: null, signal: null, timedOut: false, aborted: false, error, output: '' });
      return;
    }
    const pid = child.pid;
    const collect = (chunk: Buffer): void => {
      if (output.length < limit) output += chunk.toString('utf8').slice(0, limit - output.length);
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    if (options.stdin !== undefined) {
      // A program that does not read its stdin must not fail the run (EPIPE).
      child.stdin!.on('error', () => {});
      child.stdin!.end(options.stdin);
    }
    const onAbort = (): void => {
      aborted = true;
      killGroup(pid, 'SIGKILL');
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.timeoutMs !== undefined && pid !== undefined) {
      timers.push(
        setTimer(options.timeoutMs, () => {
          timedOut = true;
          const grace = options.killGraceMs ?? 0;
          if (grace <= 0) {
            killGroup(pid, 'SIGKILL');
            return;
          }
          killGroup(pid, 'SIGTERM');
          timers.push(setTimer(grace, () => killGroup(pid, 'SIGKILL')));
        }),
      );
    }
    const finish = (): void => {
      if (settled) return;
      settled = true;
      for (const timer of timers) timer.cancel();
      options.signal?.removeEventListener('abort', onAbort);
      resolve({
        exitCode: exit?.code ?? null,
        signal: exit?.signal ?? null,
        timedOut,
        aborted,
        ...(spawnError !== undefined ? { error: spawnError } : {}),
        output,
        ...(pid !== undefined ? { pid } : {}),
      });
    };
    child.on('error', (err) => {
      if (pid !== undefined) return; // a failed kill of a running program; its exit still comes
      spawnError = (err as NodeJS.ErrnoException).code ?? err.message;
      finish();
    });
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      // Whatever the program left behind in its group goes with it.
      killGroup(pid, 'SIGKILL');
      // A descendant that escaped into its own session may still hold a pipe: close ours.
      const pipes = setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
        finish();
      }, PIPE_GRACE_MS);
      pipes.unref();
      child.once('close', () => clearTimeout(pipes));
    });
    child.on('close', () => finish());
  });
}
