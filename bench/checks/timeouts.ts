// How soon a check settles after its timeout, against the timeout itself (the
// reference, same run): a server that hangs after accept (http, 500 ms), an address
// nobody answers (tcp/http/https, 300 ms: no ARP reply, the kernel would retry SYNs
// for minutes), and an exec program that hangs (500 ms, group killed). The netns
// check tests assert that the abort at the timeout settles each one; the figures are
// reported here, not asserted. Root: the same two-namespace lab as the tests.
//
//   node dist/bench/checks/timeouts.js [--runs 5]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CheckLab, type LineProcess } from '../../test/netns/checks/lab.js';
import { selfSignedCertificate } from '../../test/helpers/tls.js';

const i = process.argv.indexOf('--runs');
const RUNS = i > 0 ? Number(process.argv[i + 1]) : 5;
const fixtures = fileURLToPath(new URL('../../test/netns/checks/', import.meta.url));

const scratch = mkdtempSync(join(tmpdir(), 'failoverd-bench-timeouts-'));
const lab = new CheckLab('bt');
try {
  selfSignedCertificate(scratch, 'rs.failoverd.test', ['DNS:rs.failoverd.test', `IP:${lab.serverAddress}`]);
  const server = lab.start(lab.serverNs, [
    join(fixtures, 'fixture-server.js'),
    lab.serverAddress,
    join(scratch, 'cert.pem'),
    join(scratch, 'key.pem'),
    lab.serverAddress6,
  ]);
  await server.next((l) => l === 'ready');
  const runner: LineProcess = lab.start(
    lab.checkerNs,
    [join(fixtures, 'check-runner.js')],
    ['unshare', '--pid', '--fork', '--kill-child', '--mount-proc', 'bash', '-c', '"$0" "$@"; exit $?'],
  );
  let nextId = 1;
  const elapsed = async (
    type: string,
    options: Record<string, unknown>,
    port: number,
    timeoutMs: number,
    address = lab.serverAddress,
  ): Promise<number> => {
    const id = nextId++;
    runner.send(JSON.stringify({ id, type, options, target: { service: 'web', address, port }, timeoutMs }));
    return (JSON.parse(await runner.next((l) => l.startsWith(`{"id":${id},`), timeoutMs + 30_000)) as { elapsedMs: number }).elapsedMs;
  };
  const scenarios: Array<[string, number, () => Promise<number>]> = [
    ['http, server hangs after accept', 500, () => elapsed('http', {}, 8003, 500)],
    ['tcp, no ARP reply', 300, () => elapsed('tcp', {}, 80, 300, '10.201.0.99')],
    ['http, no ARP reply', 300, () => elapsed('http', {}, 80, 300, '10.201.0.99')],
    ['https, no ARP reply', 300, () => elapsed('https', {}, 80, 300, '10.201.0.99')],
    ['exec, program hangs (group killed)', 500, () => elapsed('exec', { command: 'sleep 300 & wait' }, 8001, 500)],
  ];
  console.log(`check settles after its timeout: ${RUNS} runs, ms from start, median (min–max)`);
  console.log('| scenario | timeout (reference) | settled |');
  console.log('|---|---:|---:|');
  for (const [name, timeoutMs, run] of scenarios) {
    const xs: number[] = [];
    for (let r = 0; r < RUNS; r++) xs.push(await run());
    xs.sort((a, b) => a - b);
    console.log(
      `| ${name} | ${timeoutMs} | ${xs[Math.floor(xs.length / 2)]!.toFixed(1)} (${xs[0]!.toFixed(1)}–${xs.at(-1)!.toFixed(1)}) |`,
    );
  }
} finally {
  lab.close();
  rmSync(scratch, { recursive: true, force: true });
}
