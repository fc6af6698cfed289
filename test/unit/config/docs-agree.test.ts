// Docs and schema agree (issue 17): every config key the docs name is one the schema
// accepts (and documented example values load), and every key the schema accepts is
// documented. The docs name keys in three ways, all read here:
//   - YAML blocks (```yaml): whole sections (`alerts:` …) or fragments (`template:` …);
//   - key tables: a table whose first column is headed "key", "YAML key" or "option";
//   - inline settings in prose: `section.key: value`.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, stringify, type Node } from 'yaml';
import { loadCheckPlugins } from '../../../checks/index.js';
import { formatConfigError, loadConfigText, type CheckPluginRegistry } from '../../../src/config/index.js';
import { BASE } from './config-text.js';
import { schemaKeys, type SchemaKey } from './schema-paths.js';

// Compiled to dist*/test/unit/config/: four levels up is the repository.
const repo = fileURLToPath(new URL('../../../../', import.meta.url));

/**
 * PENDING: mismatches other branches of issue 17 are fixing. The lead removes this
 * list when they merge; until then these two are reported as known, not as failures.
 */
const PENDING: ReadonlyArray<{ file: string; key: string; why: string }> = [
  { file: 'docs/alerts.md', key: 'template', why: 'webhook templates are documented but not in the schema yet' },
  { file: 'docs/api.md', key: 'api.listen', why: 'api.listen: HOST:PORT is documented but only a socket path is accepted' },
];

interface Mismatch { file: string; line: number; key: string; problem: string }
const show = (m: Mismatch) => `${m.file}:${m.line} ${m.key}: ${m.problem}`;
const isPending = (m: Mismatch): boolean => PENDING.some((p) => p.file === m.file && (m.key === p.key || m.key.endsWith(`.${p.key}`)));

interface Doc { file: string; lines: string[] }
interface Fence { file: string; lang: string; line: number; text: string }

function readDocs(): Doc[] {
  return readdirSync(`${repo}docs`).filter((f) => f.endsWith('.md')).sort()
    .map((f) => ({ file: `docs/${f}`, lines: readFileSync(`${repo}docs/${f}`, 'utf8').split('\n') }));
}

/** Fenced blocks, and the prose lines outside them (1-based line numbers). */
function split(doc: Doc): { fences: Fence[]; prose: Array<{ line: number; text: string }> } {
  const fences: Fence[] = [];
  const prose: Array<{ line: number; text: string }> = [];
  let open: { lang: string; line: number; body: string[] } | undefined;
  doc.lines.forEach((text, i) => {
    const fence = /^\s*```(\S*)/.exec(text);
    if (fence && !open) open = { lang: fence[1] ?? '', line: i + 1, body: [] };
    else if (fence && open) { fences.push({ file: doc.file, lang: open.lang, line: open.line, text: open.body.join('\n') }); open = undefined; }
    else if (open) open.body.push(text);
    else prose.push({ line: i + 1, text });
  });
  return { fences, prose };
}

const KEY_TOKEN = /^[a-z_][a-z0-9_]*(?:\[\])?(?:\.[a-z_][a-z0-9_]*(?:\[\])?)*$/;
const KEY_TABLE_HEADS = new Set(['key', 'yaml key', 'option']);
const codeSpans = (text: string) => [...text.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
const cells = (row: string) => row.trim().replace(/^\|/, '').replace(/\|$/, '').split('|').map((c) => c.trim());

/** Keys in the first column of key tables. */
function tableKeys(doc: Doc, prose: Array<{ line: number; text: string }>): Array<{ line: number; path: string[] }> {
  const out: Array<{ line: number; path: string[] }> = [];
  let inKeyTable = false;
  let previous = -1;
  for (const { line, text } of prose) {
    if (!text.trim().startsWith('|')) { inKeyTable = false; previous = -1; continue; }
    const first = cells(text)[0] ?? '';
    if (previous !== line - 1) inKeyTable = KEY_TABLE_HEADS.has(first.toLowerCase()); // a header row
    previous = line;
    if (!inKeyTable || /^:?-+:?$/.test(first) || KEY_TABLE_HEADS.has(first.toLowerCase())) continue;
    for (const span of codeSpans(first)) if (KEY_TOKEN.test(span)) out.push({ line, path: span.replace(/\[\]/g, '').split('.') });
  }
  void doc;
  return out;
}

class Schema {
  readonly keys: Map<string, SchemaKey>;
  readonly roots: Set<string>;
  constructor(keys: Map<string, SchemaKey>) {
    this.keys = keys;
    this.roots = new Set([...keys.values()].filter((k) => k.path.length === 1).map((k) => k.path[0]!));
  }
  has(path: string[]): boolean { return this.keys.has(path.join('.')); }
  freeForm(path: string[]): boolean { return this.keys.get(path.join('.'))?.freeForm ?? false; }
  /** Schema paths ending in `path` (a key named without its section). */
  endingIn(path: string[]): string[][] {
    return [...this.keys.values()].map((k) => k.path).filter((p) => p.length >= path.length && p.slice(p.length - path.length).join('.') === path.join('.'));
  }
}

/** Every key written in a YAML node, with its line, not descending into free-form mappings. */
function yamlKeys(node: Node | null | undefined, path: string[], lines: LineCounter, freeForm: (p: string[]) => boolean, out: Array<{ path: string[]; offset: number }>): void {
  if (isSeq(node)) { for (const item of node.items) yamlKeys(item as Node, path, lines, freeForm, out); return; }
  if (!isMap(node)) return;
  for (const pair of node.items) {
    if (!isScalar(pair.key)) continue;
    const keyPath = [...path, String(pair.key.value)];
    out.push({ path: keyPath, offset: pair.key.range?.[0] ?? 0 });
    if (!freeForm(keyPath)) yamlKeys(pair.value as Node, keyPath, lines, freeForm, out);
  }
}

/** A test config with `edit` applied to BASE (the seed lab's names, which the docs use). */
function loadWith(plugins: CheckPluginRegistry, text: string, env: Record<string, string> = {}) {
  return loadConfigText(text, 'doc.yaml', { checkPlugins: plugins, env, defaultNodeName: 'lvs-a' });
}

function checkYamlBlock(fence: Fence, schema: Schema, plugins: CheckPluginRegistry, out: Mismatch[], documented: Set<string>): void {
  const lines = new LineCounter();
  const doc = parseDocument(fence.text, { lineCounter: lines });
  const lineOf = (offset: number) => fence.line + lines.linePos(offset).line;
  if (doc.errors.length > 0) {
    out.push({ file: fence.file, line: lineOf(doc.errors[0]!.pos[0]), key: '', problem: `YAML block does not parse: ${doc.errors[0]!.message.split('\n')[0]}` });
    return;
  }
  if (!isMap(doc.contents)) return;
  const top = doc.contents.items.filter((p) => isScalar(p.key)).map((p) => String((p.key as { value: unknown }).value));
  const whole = top.length > 0 && top.every((k) => schema.roots.has(k));
  // A fragment (`template:`, `check:`) is read under every place its first key can be.
  const prefixes = whole ? [[]] : [...new Set(top.flatMap((k) => schema.endingIn([k]).map((p) => p.slice(0, -1).join('.'))))].map((p) => (p ? p.split('.') : []));
  const found: Array<{ path: string[]; offset: number }> = [];
  yamlKeys(doc.contents, [], lines, (p) => prefixes.some((pre) => schema.freeForm([...pre, ...p])), found);
  const reported = new Set<string>();
  for (const { path, offset } of found) {
    documented.add(path[path.length - 1]!);
    if (prefixes.some((pre) => schema.has([...pre, ...path]))) continue;
    if (path.some((_, i) => reported.has(path.slice(0, i).join('.')))) continue; // its parent is already reported
    reported.add(path.join('.'));
    out.push({ file: fence.file, line: lineOf(offset), key: path.join('.'), problem: `in a YAML example, but the config schema has no such key${whole ? '' : ' (under any section)'}` });
  }
  if (!whole) return;
  // A whole-section example must also load: values and rules across keys, with the
  // sections it does not show taken from the seed config.
  const base = parseDocument(BASE).toJS() as Record<string, unknown>;
  for (const k of top) delete base[k];
  const env = Object.fromEntries([...fence.text.matchAll(/\$\{(\w+)/g)].map((m) => [m[1]!, 'example']));
  const r = loadWith(plugins, `${fence.text}\n${stringify(base)}`, env);
  if (r.ok) return;
  const blockLines = fence.text.split('\n').length;
  for (const e of r.errors) {
    const key = e.path.replace(/\[\d+\]/g, '');
    out.push({ file: fence.file, line: e.line > 0 && e.line <= blockLines ? fence.line + e.line : fence.line, key, problem: `the YAML example is rejected: ${formatConfigError(e)}` });
  }
}

// Placeholders the prose uses in values, and an example for each.
const PLACEHOLDERS: Record<string, string> = { HOST: '127.0.0.1', PORT: '9696', PATH: '/run/failoverd/x.sock' };

function checkInlineSetting(file: string, line: number, span: string, schema: Schema, plugins: CheckPluginRegistry, out: Mismatch[]): void {
  const m = /^([a-z_][a-z0-9_.]*):\s+(.+)$/.exec(span);
  if (!m) return;
  const path = m[1]!.split('.');
  if (!schema.roots.has(path[0]!) || path.length < 2) return;
  if (!schema.has(path)) { out.push({ file, line, key: m[1]!, problem: 'set in the prose, but the config schema has no such key' }); return; }
  const value = m[2]!.replace(/\b[A-Z]{4}\b/g, (w) => PLACEHOLDERS[w] ?? w);
  const doc = parseDocument(BASE);
  doc.setIn(path, parseDocument(value).contents);
  const r = loadWith(plugins, doc.toString());
  const errors = r.ok ? [] : r.errors.filter((e) => e.path === path.join('.'));
  for (const e of errors) out.push({ file, line, key: m[1]!, problem: `the documented value ${JSON.stringify(m[2])} is rejected: ${e.message}` });
}

interface Findings { mismatches: Mismatch[]; documented: Set<string> }

function findMismatches(schema: Schema, plugins: CheckPluginRegistry): Findings {
  const mismatches: Mismatch[] = [];
  const documented = new Set<string>();
  for (const doc of readDocs()) {
    const { fences, prose } = split(doc);
    for (const fence of fences) if (fence.lang === 'yaml') checkYamlBlock(fence, schema, plugins, mismatches, documented);
    for (const { line, path } of tableKeys(doc, prose)) {
      for (const p of path) documented.add(p);
      if (schema.endingIn(path).length === 0) mismatches.push({ file: doc.file, line, key: path.join('.'), problem: 'in a key table, but the config schema has no such key' });
    }
    for (const { line, text } of prose) {
      for (const span of codeSpans(text)) {
        checkInlineSetting(doc.file, line, span, schema, plugins, mismatches);
        // Keys named in code in prose count as documented where keys are described.
        if (doc.file === 'docs/config.md' || doc.file === 'docs/health.md') for (const word of span.split(/[^A-Za-z0-9_]+/)) if (word) documented.add(word);
      }
    }
  }
  return { mismatches, documented };
}

describe('docs and the config schema agree', async () => {
  const plugins = await loadCheckPlugins();
  const schema = new Schema(schemaKeys(plugins));
  const { mismatches, documented } = findMismatches(schema, plugins);

  it('every key the docs name is accepted, and documented example values load', () => {
    const failures = mismatches.filter((m) => !isPending(m)).map(show);
    assert.deepEqual(failures, [], `docs name keys or values the config schema refuses:\n${failures.join('\n')}`);
  });

  it('each pending exception is still a real mismatch (remove it from PENDING once fixed)', (t) => {
    for (const m of mismatches.filter(isPending)) t.diagnostic(`pending: ${show(m)}`);
    for (const p of PENDING) {
      assert.ok(mismatches.some((m) => isPending(m) && m.file === p.file && (m.key === p.key || m.key.endsWith(`.${p.key}`))),
        `${p.file} ${p.key} no longer mismatches: remove it from PENDING`);
    }
  });

  it('every key the schema accepts is documented (docs/config.md, a key table or a YAML example)', () => {
    const missing = [...schema.keys.values()]
      .filter((k) => !k.path.slice(0, -1).some((_, i) => schema.freeForm(k.path.slice(0, i + 1))))
      .filter((k) => !documented.has(k.path[k.path.length - 1]!))
      .map((k) => k.path.join('.'));
    assert.deepEqual(missing, [], `keys the schema accepts but no doc mentions:\n${missing.join('\n')}`);
  });

  it('the reader finds what the docs hold (a guard against a reader that sees nothing)', () => {
    for (const key of ['advert_interval', 'garp', 'drain_timeout', 'expect_status', 'checks_thread', 'retries']) assert.ok(documented.has(key), key);
    assert.ok(schema.keys.size > 80, `only ${schema.keys.size} schema keys`);
  });
});
