// No unit test reads the wall clock or sleeps: unit tests drive a FakeClock and
// assert order and invariants (docs/DESIGN rule; CONTRIBUTING). This scans the unit
// tests' sources, and the modules outside test/unit that they import, for:
//   Date.now(), performance.now(), process.hrtime, new Date() without arguments,
//   setTimeout( / setInterval( calls, and node:timers/promises.
// Not flagged: FakeClock, new Date(x), Date.UTC/Date.parse, setImmediate (a turn of
// the event loop, not a time), t.mock.timers (mocked time), and comments.
// Allowed, each with its reason and an exact count so a new use still fails:
//   - test/helpers/wait.ts: waitFor, the bounded wait on real I/O a test starts
//     (a socket, a child, a worker thread); it measures nothing and asserts no time;
//   - test/unit/api/raw-http.ts: the slowloris sender must be slow in real time
//     (Node's own HTTP timeouts run on the real clock), and a guard ends an exchange
//     that never finishes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(new URL('../../../../', import.meta.url)));
const unitDir = join(root, 'test/unit');

const FORBIDDEN: Array<[string, RegExp]> = [
  ['Date.now()', /\bDate\.now\s*\(/g],
  ['performance.now()', /\bperformance\.now\s*\(/g],
  ['process.hrtime', /\bprocess\.hrtime\b/g],
  ['new Date()', /\bnew Date\s*\(\s*\)/g],
  ['setTimeout(', /\bsetTimeout\s*\(/g],
  ['setInterval(', /\bsetInterval\s*\(/g],
  ['timers/promises', /['"](?:node:)?timers\/promises['"]/g],
];

const ALLOWED: Record<string, { uses: Record<string, number>; why: string }> = {
  'test/helpers/wait.ts': {
    uses: { 'performance.now()': 2, 'setTimeout(': 1 },
    why: 'waitFor: a bounded wait on real I/O that measures nothing',
  },
  'test/unit/api/raw-http.ts': {
    uses: { 'setTimeout(': 2 },
    why: "a slowloris sender is slow in real time (Node's HTTP timeouts are real); a guard ends a stuck exchange",
  },
};

/** The source without comments (a `//` after a space or at a line start, and block comments). */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|\s)\/\/.*$/gm, '$1');
}

/** Each forbidden construct in the text, by name, with its count. */
export function clockUses(text: string): Record<string, number> {
  const found: Record<string, number> = {};
  const body = code(text);
  for (const [name, pattern] of FORBIDDEN) {
    const n = body.match(pattern)?.length ?? 0;
    if (n > 0) found[name] = n;
  }
  return found;
}

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sources(p));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Modules under test/ but outside test/unit that a unit test file imports. */
function importedHelpers(file: string): string[] {
  const out: string[] = [];
  for (const m of readFileSync(file, 'utf8').matchAll(/from '(\.[^']+)\.js'/g)) {
    const target = resolve(dirname(file), `${m[1]}.ts`);
    if (target.startsWith(join(root, 'test') + '/') && !target.startsWith(unitDir + '/') && existsSync(target)) out.push(target);
  }
  return out;
}

test('the scanner finds each forbidden construct, and nothing in clock-free code', () => {
  const bad = [
    'const t = Date.now();',
    'const t = performance.now();',
    'const t = process.hrtime.bigint();',
    'const d = new Date();',
    'await new Promise((r) => setTimeout(r, 30));',
    'const i = setInterval(tick, 5);',
    "import { setTimeout as sleep } from 'node:timers/promises';",
  ].join('\n');
  assert.deepEqual(clockUses(bad), {
    'Date.now()': 1,
    'performance.now()': 1,
    'process.hrtime': 1,
    'new Date()': 1,
    'setTimeout(': 1,
    'setInterval(': 1,
    'timers/promises': 1,
  });
  const clean = [
    'const clock = new FakeClock(0, Date.UTC(2026, 0, 1));',
    'const d = new Date(wallStart);',
    'Date.parse(e.time);',
    "t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });",
    'await new Promise((r) => setImmediate(r));',
    '// a comment may say Date.now() or setTimeout(r, 5)',
    '/* or here: performance.now() */',
    "const url = 'http://x/y';",
  ].join('\n');
  assert.deepEqual(clockUses(clean), {});
});

test('no unit test reads the wall clock or sleeps (allowed: test/helpers/wait.ts, test/unit/api/raw-http.ts, see the header)', () => {
  assert.ok(existsSync(unitDir), `the unit tests' sources are at ${unitDir}`);
  const unitFiles = sources(unitDir);

  // This file names the constructs as data (its samples): it is the one file not scanned.
  const files = new Set(
    [...unitFiles, ...unitFiles.flatMap(importedHelpers)].filter((f) => !f.endsWith('test/unit/suite/clock-free.test.ts')),
  );
  const offences: string[] = [];
  for (const file of [...files].sort()) {
    const name = relative(root, file);
    const uses = clockUses(readFileSync(file, 'utf8'));
    const allowed = ALLOWED[name]?.uses ?? {};
    for (const [what, n] of Object.entries(uses)) {
      if (n > (allowed[what] ?? 0))
        offences.push(`${name}: ${what} × ${n}${allowed[what] ? ` (allowed ${allowed[what]}: ${ALLOWED[name]!.why})` : ''}`);
    }
  }
  assert.ok(unitFiles.length > 50, `found the unit tests (${unitFiles.length} files)`);
  assert.deepEqual(offences, [], 'unit tests drive a FakeClock and wait on conditions, never on the clock');
});
