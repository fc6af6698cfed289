// Runs check plugins on request, inside whatever namespaces it was started in.
// stdin: one JSON request a line; stdout: one JSON answer a line, same id.
//   { id, type, options, target, timeoutMs }  → { id, result, elapsedMs, settledAfterAbort }
//     (aborts the check's signal at timeoutMs, as the scheduler does; elapsedMs
//      shows how soon the plugin settled, settledAfterAbort whether the abort settled it)
//   { id, procStates: FILE }                 → { id, states: { PID: "R" | "Z" | ... | "gone" } }
//     for the pids listed in FILE (one a line)
import { existsSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { loadCheckPlugins } from '../../../checks/index.js';
import { closeHttpAgents } from '../../../checks/lib/http-probe.js';

const plugins = await loadCheckPlugins();
/** Generous: a plugin that settles this long after its abort was not settled by it. */
const LATE_MS = 5000;

function procState(pid: string): string {
  const file = `/proc/${pid}/stat`;
  if (!existsSync(file)) return 'gone';
  try {
    // "pid (comm) S ..." — comm may hold spaces, so read after the last ')'.
    const stat = readFileSync(file, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]!;
  } catch {
    return 'gone';
  }
}

for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  const req = JSON.parse(line) as {
    id: number;
    type?: string;
    options?: unknown;
    target?: { service: string; address: string; port: number };
    timeoutMs?: number;
    procStates?: string;
  };
  if (req.procStates) {
    const pids = readFileSync(req.procStates, 'utf8')
      .split('\n')
      .map((s) => s.trim())
      .filter(Boolean);
    process.stdout.write(`${JSON.stringify({ id: req.id, states: Object.fromEntries(pids.map((p) => [p, procState(p)])) })}\n`);
    continue;
  }
  const plugin = plugins.get(req.type!);
  if (!plugin) {
    process.stdout.write(`${JSON.stringify({ id: req.id, error: `no plugin ${req.type}` })}\n`);
    continue;
  }
  const options = plugin.options.parse(req.options ?? {});
  const controller = new AbortController();
  // settledAfterAbort: the plugin was still running when its signal was aborted, and it
  // settled within LATE_MS of that (not at some later, unrelated time such as the kernel's
  // connect timeout). An outcome for the tests; elapsedMs is for bench/checks/timeouts.ts.
  let aborted = false;
  let late = false;
  let lateTimer: NodeJS.Timeout | undefined;
  const timer = setTimeout(() => {
    aborted = true;
    controller.abort(new Error(`timeout after ${req.timeoutMs}ms`));
    lateTimer = setTimeout(() => {
      late = true;
    }, LATE_MS);
  }, req.timeoutMs ?? 1000);
  const started = performance.now();
  void plugin.run(req.target!, options, controller.signal).then((result) => {
    clearTimeout(timer);
    clearTimeout(lateTimer);
    process.stdout.write(
      `${JSON.stringify({ id: req.id, result, elapsedMs: performance.now() - started, settledAfterAbort: aborted && !late })}\n`,
    );
  });
}
await closeHttpAgents();
