// --keep: the lab stays up after the scenario and runs commands sent from
// outside. The UML kernel has no console input (the harness gives it none), but
// it shares this machine's files, so a directory is the channel: "failoverd lab
// exec -- CMD" drops a request file, the lab runs it inside and writes the
// result next to it; "failoverd lab stop" drops a stop file. Bounded by --keep-for.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Lab } from './lab.js';
import { sleep } from './lab.js';
import { VIP } from './topology.js';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../cli.js', import.meta.url));

export const KEEP_DIR = process.env['FAILOVERD_LAB_DIR'] ?? '/tmp/failoverd-lab';
const INFO = join(KEEP_DIR, 'lab.json');
const STOP = join(KEEP_DIR, 'stop');
const COMMAND_TIMEOUT_MS = 60_000;

interface ExecRequest {
  argv: string[];
}
interface ExecResult {
  status: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  error?: string;
}

export async function keepServe(lab: Lab, forMs: number): Promise<void> {
  mkdirSync(KEEP_DIR, { recursive: true });
  for (const f of readdirSync(KEEP_DIR)) rmSync(join(KEEP_DIR, f), { force: true });
  const ns = (name: string): string => lab.topology.host(name).ns;
  writeFileSync(
    INFO,
    JSON.stringify({
      pid: process.pid,
      until: new Date(Date.now() + forMs).toISOString(),
      namespaces: Object.fromEntries([...lab.topology.hosts.values()].map((h) => [h.name, h.ns])),
    }),
  );
  const say = (line = ''): void => {
    process.stdout.write(`${line}\n`);
  };
  say();
  say(`The lab stays up for ${Math.round(forMs / 60000)} min. From another terminal on this machine:`);
  say(
    `  failoverd lab exec -- ip netns exec ${ns('client')} curl -s http://${VIP}/      (or: node -e "fetch('http://${VIP}/').then(r=>r.text()).then(console.log)")`,
  );
  say(`  failoverd lab exec -- ip netns exec ${ns('lvs-a')} ipvsadm -Ln --stats`);
  say(`  failoverd lab exec -- ip netns exec ${ns('lvs-b')} ipvsadm -Lnc`);
  say(
    `  failoverd lab exec -- ip netns exec ${ns('lvs-a')} ${process.execPath} ${CLI} status --socket ${lab.configs.get('lvs-a')!.apiSocket}`,
  );
  say(`  failoverd lab exec -- ip -n ${ns('client')} neigh`);
  say('  failoverd lab stop');
  say(
    `(failoverd is ${process.execPath} ${CLI}; commands run as root inside the lab's kernel, ${COMMAND_TIMEOUT_MS / 1000} s at most each.)`,
  );
  say(`Namespaces: ${[...lab.topology.hosts.values()].map((h) => h.ns).join(', ')} (bridge in ${lab.topology.switchNs}).`);
  const deadline = Date.now() + forMs;
  try {
    for (let i = 0; Date.now() < deadline && i < 100_000_000; i++) {
      if (existsSync(STOP)) {
        say('stop requested');
        break;
      }
      for (const file of readdirSync(KEEP_DIR).filter((f) => f.endsWith('.req.json'))) serve(file);
      await sleep(200);
    }
  } finally {
    rmSync(INFO, { force: true });
    rmSync(STOP, { force: true });
  }
}

function serve(file: string): void {
  const id = file.slice(0, -'.req.json'.length);
  const running = join(KEEP_DIR, `${id}.running`);
  try {
    renameSync(join(KEEP_DIR, file), running);
  } catch {
    return;
  }
  let result: ExecResult;
  try {
    const request = JSON.parse(readFileSync(running, 'utf8')) as ExecRequest;
    if (!Array.isArray(request.argv) || request.argv.length === 0) throw new Error('no command given');
    const r = spawnSync(request.argv[0]!, request.argv.slice(1), { encoding: 'utf8', timeout: COMMAND_TIMEOUT_MS, maxBuffer: 16 << 20 });
    result = {
      status: r.status,
      signal: r.signal,
      stdout: r.stdout ?? '',
      stderr: r.stderr ?? '',
      ...(r.error ? { error: r.error.message } : {}),
    };
  } catch (err) {
    result = { status: null, signal: null, stdout: '', stderr: '', error: (err as Error).message };
  }
  writeFileSync(join(KEEP_DIR, `${id}.res.tmp`), JSON.stringify(result));
  renameSync(join(KEEP_DIR, `${id}.res.tmp`), join(KEEP_DIR, `${id}.res.json`));
  rmSync(running, { force: true });
}

/** The host side: "failoverd lab exec -- CMD" and "failoverd lab stop". */
export async function keepSend(action: 'exec' | 'stop', argv: string[]): Promise<number> {
  if (!existsSync(INFO)) {
    process.stderr.write(`failoverd lab ${action}: no lab is running with --keep (no ${INFO})\n`);
    return 1;
  }
  if (action === 'stop') {
    writeFileSync(STOP, '');
    const deadline = Date.now() + 15_000;
    while (existsSync(INFO) && Date.now() < deadline) await sleep(200);
    process.stdout.write(existsSync(INFO) ? 'stop requested; the lab has not confirmed yet\n' : 'lab stopped\n');
    return 0;
  }
  if (argv.length === 0) {
    process.stderr.write('failoverd lab exec: give a command, e.g. failoverd lab exec -- ip netns exec client ip addr\n');
    return 2;
  }
  const id = `${process.pid}-${Date.now()}`;
  writeFileSync(join(KEEP_DIR, `${id}.tmp`), JSON.stringify({ argv } satisfies ExecRequest));
  renameSync(join(KEEP_DIR, `${id}.tmp`), join(KEEP_DIR, `${id}.req.json`));
  const resultFile = join(KEEP_DIR, `${id}.res.json`);
  const deadline = Date.now() + COMMAND_TIMEOUT_MS + 15_000;
  while (!existsSync(resultFile)) {
    if (Date.now() > deadline) {
      process.stderr.write('failoverd lab exec: the lab did not answer (is it still running?)\n');
      return 1;
    }
    await sleep(100);
  }
  const result = JSON.parse(readFileSync(resultFile, 'utf8')) as ExecResult;
  rmSync(resultFile, { force: true });
  process.stdout.write(result.stdout);
  process.stderr.write(result.stderr);
  if (result.error) process.stderr.write(`failoverd lab exec: ${result.error}\n`);
  return result.status ?? 1;
}
