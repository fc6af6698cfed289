// Runs the three test tiers with node:test and reports counts per tier:
//   unit  — pure and fast, always runs;
//   netns — host kernel, network namespaces the tests create (needs root);
//   uml   — inside a User-Mode Linux kernel with IPVS (needs root and a UML kernel).
// Before a real-kernel tier, the Debian packages the tiers start are installed
// (as root; a normal user is told the exact command), and a UML kernel that boots
// here is provisioned (src/lab/system-packages.ts, src/lab/uml-harness.ts).
// A tier that cannot run here is reported as SKIPPED with its reason; under CI
// (CI=true) a skipped real-kernel tier is a failure, never a silent pass.
//
//   node dist/test/runner/tiers.js [unit] [netns] [uml] [--file PATTERN]
import { spawnSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { ensureSystemPackages } from '../../src/lab/system-packages.js';
import { findUmlRun, prepareUmlKernel } from '../../src/lab/uml-harness.js';

type Tier = 'unit' | 'netns' | 'uml';
const ALL_TIERS: Tier[] = ['unit', 'netns', 'uml'];

interface TierResult {
  tier: Tier;
  ran: boolean;
  reason?: string;
  files: number;
  pass: number;
  fail: number;
  skipped: number;
  cancelled: number;
  seconds: number;
}

const projectRoot = resolve(new URL('../../..', import.meta.url).pathname);
// The compiled test tree this runner belongs to (dist/test, or a private outDir's).
const distTest = resolve(new URL('..', import.meta.url).pathname);

function findTestFiles(dir: string, filter?: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.name.endsWith('.test.js') && (!filter || p.includes(filter))) out.push(p);
    }
  };
  walk(dir);
  return out.sort();
}

function whyNotNetns(): string | undefined {
  if (process.getuid?.() !== 0) return 'not running as root (network namespaces need CAP_SYS_ADMIN)';
  const ip = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  if (ip.status !== 0) return `"ip netns" does not work here: ${ip.error?.message ?? ip.stderr.trim()}`;
  return undefined;
}

function whyNotUml(): string | undefined {
  const netns = whyNotNetns();
  if (netns) return netns;
  const umlRun = findUmlRun(projectRoot);
  if (!umlRun) return 'the UML harness test/harness/uml-run.sh is missing';
  return prepareUmlKernel('npm test', umlRun);
}

function parseTapCounts(tap: string): Pick<TierResult, 'pass' | 'fail' | 'skipped' | 'cancelled'> {
  // The TAP reporter closes with "# pass N", "# fail N", ... for the whole run.
  const count = (name: string): number => {
    const matches = [...tap.matchAll(new RegExp(`^# ${name} (\\d+)$`, 'gm'))];
    return matches.length ? Number(matches[matches.length - 1]![1]) : 0;
  };
  return { pass: count('pass'), fail: count('fail'), skipped: count('skipped') + count('todo'), cancelled: count('cancelled') };
}

// The per-file guard against a hang, not a speed goal: the unit fuzz files need ~80 s on a loaded 2-core machine.
const TIER_TIMEOUT_MS: Record<Tier, number> = { unit: 180_000, netns: 180_000, uml: 600_000 };

async function runNodeTest(
  tier: Tier,
  files: string[],
  viaUml: boolean,
): Promise<{ status: number; counts: Pick<TierResult, 'pass' | 'fail' | 'skipped' | 'cancelled'> }> {
  const scratch = mkdtempSync(join(tmpdir(), `failoverd-${tier}-`));
  const tapFile = join(scratch, 'results.tap');
  const nodeArgs = [
    '--test',
    `--test-timeout=${TIER_TIMEOUT_MS[tier]}`,
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=tap',
    `--test-reporter-destination=${tapFile}`,
    ...files.map((f) => relative(projectRoot, f)),
  ];
  const [command, args] = viaUml
    ? ['bash', [join(projectRoot, 'test/harness/uml-run.sh'), '--mem', '3G', '--timeout', '2400', '--', process.execPath, ...nodeArgs]]
    : [process.execPath, nodeArgs];
  const status = await new Promise<number>((done) => {
    const child = spawn(command, args, {
      cwd: projectRoot,
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, FAILOVERD_TEST_TIER: tier },
    });
    child.on('exit', (code, signal) => done(code ?? (signal ? 128 : 1)));
  });
  const tap = existsSync(tapFile) ? readFileSync(tapFile, 'utf8') : '';
  rmSync(scratch, { recursive: true, force: true });
  return { status, counts: parseTapCounts(tap) };
}

async function runTier(tier: Tier, filter?: string, packagesMissing?: string): Promise<TierResult> {
  const files = findTestFiles(join(distTest, tier), filter);
  const started = Date.now();
  const empty = { tier, files: files.length, pass: 0, fail: 0, skipped: 0, cancelled: 0, seconds: 0 };
  if (files.length === 0) return { ...empty, ran: false, reason: 'no test files' };
  const reason = tier === 'unit' ? undefined : (packagesMissing ?? (tier === 'netns' ? whyNotNetns() : whyNotUml()));
  if (reason) return { ...empty, ran: false, reason };

  console.log(`\n=== ${tier} tier: ${files.length} file(s) ===`);
  // UML tests that boot their own UML kernel (a Debian root under systemd) run on the
  // host; the others run together inside one UML kernel.
  const ownKernel = tier === 'uml' ? files.filter((f) => f.includes('/uml/systemd/')) : [];
  const inTier = files.filter((f) => !ownKernel.includes(f));
  const runs = [
    ...(inTier.length ? [{ files: inTier, viaUml: tier === 'uml' }] : []),
    ...(ownKernel.length ? [{ files: ownKernel, viaUml: false }] : []),
  ];
  let status = 0;
  const counts = { pass: 0, fail: 0, skipped: 0, cancelled: 0 };
  for (const run of runs) {
    const one = await runNodeTest(tier, run.files, run.viaUml);
    if (one.status !== 0) status = one.status;
    for (const key of Object.keys(counts) as (keyof typeof counts)[]) counts[key] += one.counts[key];
  }
  const result: TierResult = { ...empty, ran: true, ...counts, seconds: (Date.now() - started) / 1000 };
  if (status !== 0 && result.fail === 0) {
    // The runner itself failed (crash, harness error): never count that as a pass.
    result.fail = 1;
    result.reason = `test process exited with status ${status}`;
  }
  return result;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const fileIdx = argv.indexOf('--file');
  const filter = fileIdx >= 0 ? argv[fileIdx + 1] : undefined;
  const asked = argv.filter((a, i) => ALL_TIERS.includes(a as Tier) && argv[i - 1] !== '--file') as Tier[];
  const tiers = asked.length ? asked : ALL_TIERS;
  // The real-kernel tiers' programs (and the unit tier's systemd-analyze alongside
  // them) are installed once, before any tier, when a real-kernel tier is asked for.
  const realKernel = tiers.some((tier) => tier !== 'unit');
  const packages = realKernel ? ensureSystemPackages('npm test', tiers) : { ok: true };
  if (!packages.ok) console.log(packages.message);
  const packagesMissing = packages.ok ? undefined : (packages.message ?? 'system packages missing').replace(/\s*\n\s*/g, ' ');
  const results: TierResult[] = [];
  for (const tier of tiers) results.push(await runTier(tier, filter, packagesMissing));

  const underCi = process.env.CI === 'true' || process.env.CI === '1';
  console.log('\n=== test tiers ===');
  console.log('tier   status    files  pass  fail  skip  time');
  let failed = false;
  for (const r of results) {
    const status = r.ran ? (r.fail + r.cancelled > 0 ? 'FAILED' : 'ok') : 'SKIPPED';
    console.log(
      `${r.tier.padEnd(6)} ${status.padEnd(9)} ${String(r.files).padStart(5)} ${String(r.pass).padStart(5)} ${String(r.fail + r.cancelled).padStart(5)} ${String(r.skipped).padStart(5)}  ${r.seconds.toFixed(1)}s`,
    );
    if (r.reason) console.log(`       ${r.ran ? 'note' : 'reason'}: ${r.reason}`);
    if (r.fail + r.cancelled > 0) failed = true;
    if (!r.ran && underCi && !filter) {
      console.log(`       under CI the ${r.tier} tier must run: counted as a failure`);
      failed = true;
    }
  }
  const total = results.reduce(
    (acc, r) => ({
      pass: acc.pass + r.pass,
      fail: acc.fail + r.fail + r.cancelled + (!r.ran && underCi && !filter ? 1 : 0),
      skipped: acc.skipped + r.skipped,
    }),
    { pass: 0, fail: 0, skipped: 0 },
  );
  console.log(`tests: ${total.pass} passed, ${total.fail} failed, ${total.skipped} skipped`);
  process.exit(failed ? 1 : 0);
}

await main();
