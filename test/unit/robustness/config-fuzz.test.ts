// The config loader under hostile text: the hand-written corpus (alias bombs,
// unresolved aliases, binary, invalid UTF-8, tags, prototype keys, edge
// numbers), arbitrary text, arbitrary YAML values and mutated real configs.
// The loader's contract (src/config/loader.ts): it never throws; it returns a
// config or errors, each naming file, line and what is wrong.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { loadConfigFile, loadConfigText, type LoadConfigResult } from '../../../src/config/index.js';
import { loadCheckPlugins } from '../../../checks/index.js';
import { Budget } from './budget.js';

const plugins = await loadCheckPlugins();
const corpusDir = fileURLToPath(new URL('../../../../test/fixtures/corpus/config/', import.meta.url));
const configDir = fileURLToPath(new URL('../../../../config/', import.meta.url));
const env = { ALERT_SECRET: 'x', HOME: '/root' };

function checkResult(r: LoadConfigResult, text: string, what: string): void {
  assert.equal(typeof r.ok, 'boolean', what);
  const lines = text.split('\n').length;
  if (r.ok) {
    assert.ok((r.config.node.name ?? '').length > 0, `${what}: a loaded config has a node name`);
    return;
  }
  assert.ok(r.errors.length > 0, `${what}: a rejection lists at least one error`);
  for (const e of r.errors) {
    assert.equal(e.severity, 'error');
    assert.ok(e.message.length > 0, `${what}: every error says what is wrong`);
    assert.ok(Number.isInteger(e.line) && e.line >= 0 && e.line <= lines + 1, `${what}: line ${e.line} is in the file (${lines} lines)`);
  }
}

function load(text: string, budget: Budget, what: string): LoadConfigResult {
  let result: LoadConfigResult | undefined;
  let thrown: unknown;
  budget.run(
    () => {
      try {
        result = loadConfigText(text, 'fuzz.yaml', { checkPlugins: plugins, env, defaultNodeName: 'fuzz' });
      } catch (err) {
        thrown = err;
      }
    },
    () => JSON.stringify(text),
  );
  assert.equal(thrown, undefined, `${what}: loadConfigText threw ${String(thrown)} on ${JSON.stringify(text.slice(0, 200))}`);
  checkResult(result!, text, what);
  return result!;
}

test('corpus: every hostile config file is rejected (or loaded) with located errors, never a throw', async () => {
  const budget = new Budget('config loader (hostile corpus files)');
  const files = readdirSync(corpusDir)
    .filter((f) => f.endsWith('.yaml'))
    .sort();
  assert.ok(files.length >= 12);
  const verdicts: Record<string, string> = {};
  for (const f of files) {
    const text = readFileSync(join(corpusDir, f), 'utf8');
    const r = load(text, budget, f);
    verdicts[f] = r.ok ? 'ok' : r.errors[0]!.message.slice(0, 70);
    const fromFile = await loadConfigFile(join(corpusDir, f), { checkPlugins: plugins, env, defaultNodeName: 'fuzz' });
    assert.deepEqual(fromFile.ok, r.ok, `${f}: the file and its text get the same verdict`);
  }
  // The known-dangerous ones are rejected, not loaded.
  for (const f of [
    'alias-bomb.yaml',
    'unresolved-alias.yaml',
    'binary.yaml',
    'invalid-utf8.yaml',
    'duplicate-keys.yaml',
    'numbers-at-the-edges.yaml',
    'unresolved-env.yaml',
    'empty.yaml',
  ]) {
    assert.notEqual(verdicts[f], 'ok', `${f} is rejected`);
  }
  assert.equal(({} as Record<string, unknown>)['polluted'], undefined, 'no prototype pollution');
  console.log(`# ${budget.summary()}: ${JSON.stringify(verdicts)}`);
});

test('deeply nested flow and block collections are errors, not stack overflows that escape', () => {
  const budget = new Budget('config loader (deep nesting)');
  for (const depth of [100, 1000, 5000, 20_000]) {
    load(`${'['.repeat(depth)}${']'.repeat(depth)}`, budget, `flow depth ${depth}`);
    load(`${'{a: '.repeat(depth)}1${'}'.repeat(depth)}`, budget, `map depth ${depth}`);
    load(Array.from({ length: Math.min(depth, 3000) }, (_, i) => `${' '.repeat(i)}a:`).join('\n'), budget, `block depth ${depth}`);
  }
  console.log(`# ${budget.summary()}`);
});

test('arbitrary text and arbitrary YAML values: a config or located errors', () => {
  const budget = new Budget('config loader (arbitrary text and YAML values)');
  const yamlish = fc
    .array(
      fc.constantFrom(
        'node:',
        ' name:',
        'vrrp:',
        '- ',
        '  - name: a',
        'services: []',
        '&a ',
        '*a',
        '<<: *a',
        '{',
        '}',
        '[',
        ']',
        '"',
        "'",
        '#',
        '\t',
        '\n',
        '  ',
        '---',
        '...',
        '!!str',
        '${X}',
        '${',
        'eth0',
        '10.6.2.195/32',
        '1s',
        '-1',
        '1e999',
        '~',
        'null',
        '?',
      ),
      { maxLength: 40 },
    )
    .map((p) => p.join(''));
  fc.assert(
    fc.property(fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: 'binary', maxLength: 300 }), yamlish), (text) => {
      load(text, budget, 'arbitrary text');
    }),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 5 }), (value) => {
      load(stringify(value), budget, 'arbitrary YAML value');
    }),
    { numRuns: 1000 },
  );
  console.log(`# ${budget.summary()}`);
});

test('real configs mutated (lines dropped, doubled, swapped, characters changed, cut): a config or located errors', () => {
  const budget = new Budget('config loader (mutated real configs)');
  const seeds = readdirSync(configDir)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => readFileSync(join(configDir, f), 'utf8'));
  assert.ok(seeds.length >= 3);
  for (const s of seeds) assert.ok(load(s, budget, 'seed').ok, 'the seeds are valid configs');
  let stillValid = 0;
  const mutation = fc.oneof(
    fc.record({ kind: fc.constant('drop' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('double' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('swap' as const), at: fc.nat() }),
    fc.record({
      kind: fc.constant('char' as const),
      at: fc.nat(),
      ch: fc.constantFrom(' ', '\t', ':', '-', '{', '[', '"', '&', '*', '0', 'x', '\u0000', '\u00e9', '\n'),
    }),
    fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  );
  fc.assert(
    fc.property(fc.constantFrom(...seeds), fc.array(mutation, { minLength: 1, maxLength: 4 }), (seed, mutations) => {
      let text = seed;
      for (const m of mutations) {
        const lines = text.split('\n');
        const i = m.at % Math.max(1, lines.length);
        if (m.kind === 'drop') lines.splice(i, 1);
        if (m.kind === 'double') lines.splice(i, 0, lines[i] ?? '');
        if (m.kind === 'swap' && i + 1 < lines.length) [lines[i], lines[i + 1]] = [lines[i + 1]!, lines[i]!];
        text = lines.join('\n');
        if (m.kind === 'char') {
          const at = m.at % Math.max(1, text.length);
          text = text.slice(0, at) + m.ch + text.slice(at + 1);
        }
        if (m.kind === 'cut') text = text.slice(0, m.at % (text.length + 1));
      }
      const r = load(text, budget, 'mutated config');
      if (r.ok) {
        stillValid++;
        // Loading is a function of the text: the same text, the same config.
        assert.equal(JSON.stringify(load(text, budget, 'reload')), JSON.stringify(r));
      }
    }),
    { numRuns: 1500 },
  );
  console.log(`# ${budget.summary()}; ${stillValid} mutants still valid`);
});
