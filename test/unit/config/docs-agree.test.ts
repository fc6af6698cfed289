// Docs and schema agree (issue 17): every config key the docs name is one the schema
// accepts (and documented example values load), and every key the schema accepts is
// documented. The docs name keys in three ways, all read here:
//   - YAML blocks (```yaml): whole sections (`alerts:` …) or fragments (`template:` …);
//   - key tables: a table whose first column is headed "key", "YAML key" or "option";
//   - settings in prose: `section.key: value`;
//   - key lists in docs/config.md's sections: `{name, url, timeout (5s)}`.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, stringify, type Node } from 'yaml';
import { loadCheckPlugins } from '../../../checks/index.js';
import { formatConfigError, loadConfigText, parseDuration } from '../../../src/config/index.js';
import type { CheckPluginRegistry } from '../../../src/config/index.js';
import { BASE } from './config-text.js';
import { schemaKeys, type SchemaKey } from './schema-paths.js';

// Compiled to dist*/test/unit/config/: four levels up is the repository.
const repo = fileURLToPath(new URL('../../../../', import.meta.url));

interface Mismatch {
  file: string;
  line: number;
  key: string;
  problem: string;
}
const show = (m: Mismatch) => `${m.file}:${m.line} ${m.key}: ${m.problem}`;

interface Doc {
  file: string;
  lines: string[];
}
interface Fence {
  file: string;
  lang: string;
  line: number;
  text: string;
}
interface ProseLine {
  line: number;
  text: string;
}

function readDocs(): Doc[] {
  return readdirSync(`${repo}docs`)
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => ({ file: `docs/${f}`, lines: readFileSync(`${repo}docs/${f}`, 'utf8').split('\n') }));
}

/** Fenced blocks, and the prose lines outside them (1-based line numbers). */
function split(doc: Doc): { fences: Fence[]; prose: ProseLine[] } {
  const fences: Fence[] = [];
  const prose: ProseLine[] = [];
  let open: { lang: string; line: number; body: string[] } | undefined;
  doc.lines.forEach((text, i) => {
    const fence = /^\s*```(\S*)/.exec(text);
    if (fence && !open) {
      open = { lang: fence[1] ?? '', line: i + 1, body: [] };
    } else if (fence && open) {
      fences.push({ file: doc.file, lang: open.lang, line: open.line, text: open.body.join('\n') });
      open = undefined;
    } else if (open) {
      open.body.push(text);
    } else {
      prose.push({ line: i + 1, text });
    }
  });
  return { fences, prose };
}

const KEY_TOKEN = /^[a-z_][a-z0-9_]*(?:\[\])?(?:\.[a-z_][a-z0-9_]*(?:\[\])?)*$/;
const KEY_TABLE_HEADS = new Set(['key', 'yaml key', 'option']);
const codeSpans = (text: string) => [...text.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
const cells = (row: string) =>
  row
    .trim()
    .replace(/^\|/, '')
    .replace(/\|$/, '')
    .split('|')
    .map((c) => c.trim());

interface KeyRow {
  line: number;
  paths: string[][];
  defaults?: string;
}

/** The keys in the first column of key tables, with the "default" column's text. */
function tableKeys(prose: ProseLine[]): KeyRow[] {
  const out: KeyRow[] = [];
  let inKeyTable = false;
  let defaultColumn = -1;
  let previous = -1;
  for (const { line, text } of prose) {
    if (!text.trim().startsWith('|')) {
      previous = -1;
      continue;
    }
    const row = cells(text);
    const first = row[0] ?? '';
    const isHead = KEY_TABLE_HEADS.has(first.toLowerCase());
    if (previous !== line - 1) {
      // the first row of a table is its header
      inKeyTable = isHead;
      defaultColumn = row.findIndex((c) => c.toLowerCase() === 'default');
    }
    previous = line;
    if (!inKeyTable || isHead || /^:?-+:?$/.test(first)) continue;
    const paths = codeSpans(first)
      .filter((span) => KEY_TOKEN.test(span))
      .map((span) => span.replace(/\[\]/g, '').split('.'));
    out.push({ line, paths, ...(defaultColumn > 0 && row[defaultColumn] ? { defaults: row[defaultColumn] } : {}) });
  }
  return out;
}

/**
 * The documented default, normalised to compare with the schema's, or undefined when
 * the text is prose ("host name", "required", "—") rather than a value.
 */
function documentedDefault(text: string, schemaDefault: unknown): unknown {
  const value = text
    .replace(/`/g, '')
    .replace(/\s*\(.*\)$/, '')
    .trim();
  if (typeof schemaDefault === 'boolean') return value === 'true' ? true : value === 'false' ? false : undefined;
  if (typeof schemaDefault === 'number') return /^-?\d+$/.test(value) ? Number(value) : undefined;
  if (Array.isArray(schemaDefault)) {
    return /^\[.*\]$/.test(value) ? JSON.stringify(parseDocument(value).toJS()) : undefined;
  }
  if (typeof schemaDefault !== 'string') return undefined;
  if (parseDuration(schemaDefault) !== undefined) return value === '0' ? 0 : parseDuration(value);
  return /^[\w./:-]+$/.test(value) ? value : undefined;
}

function normalisedDefault(schemaDefault: unknown): unknown {
  if (Array.isArray(schemaDefault)) return JSON.stringify(schemaDefault);
  return typeof schemaDefault === 'string' ? (parseDuration(schemaDefault) ?? schemaDefault) : schemaDefault;
}

class Schema {
  readonly roots: Set<string>;
  constructor(readonly keys: Map<string, SchemaKey>) {
    this.roots = new Set([...keys.values()].filter((k) => k.path.length === 1).map((k) => k.path[0]!));
  }
  has(path: string[]): boolean {
    return this.keys.has(path.join('.'));
  }
  freeForm(path: string[]): boolean {
    return this.keys.get(path.join('.'))?.freeForm ?? false;
  }
  /** Schema paths ending in `path` (a key named without its section). */
  endingIn(path: string[]): string[][] {
    const tail = path.join('.');
    return [...this.keys.values()]
      .map((k) => k.path)
      .filter((p) => p.length >= path.length && p.slice(p.length - path.length).join('.') === tail);
  }
}

type YamlKey = { path: string[]; offset: number };

/** Every key written in a YAML node, not descending into free-form mappings (headers). */
function yamlKeys(node: unknown, path: string[], freeForm: (p: string[]) => boolean, out: YamlKey[]): void {
  if (isSeq(node)) {
    for (const item of node.items) yamlKeys(item, path, freeForm, out);
    return;
  }
  if (!isMap(node)) return;
  for (const pair of node.items) {
    if (!isScalar(pair.key)) continue;
    const keyPath = [...path, String(pair.key.value)];
    out.push({ path: keyPath, offset: (pair.key as Node).range?.[0] ?? 0 });
    if (!freeForm(keyPath)) yamlKeys(pair.value, keyPath, freeForm, out);
  }
}

/** Splits on commas outside (), [] and "". */
function splitTopLevel(text: string): string[] {
  const items: string[] = [];
  let depth = 0;
  let quoted = false;
  let current = '';
  for (const ch of text) {
    if (ch === '"') quoted = !quoted;
    else if (!quoted && (ch === '(' || ch === '[')) depth++;
    else if (!quoted && (ch === ')' || ch === ']')) depth--;
    if (ch === ',' && depth === 0 && !quoted) {
      items.push(current);
      current = '';
    } else current += ch;
  }
  return [...items, current];
}

// Placeholders the prose uses in values, and an example for each.
const PLACEHOLDERS: Record<string, string> = { HOST: '127.0.0.1', PORT: '9696' };

class DocsReader {
  readonly mismatches: Mismatch[] = [];
  /** Key names the docs describe somewhere. */
  readonly documented = new Set<string>();

  constructor(
    private readonly schema: Schema,
    private readonly plugins: CheckPluginRegistry,
  ) {}

  read(doc: Doc): void {
    const { fences, prose } = split(doc);
    for (const fence of fences) if (fence.lang === 'yaml') this.yamlBlock(fence);
    for (const { line, paths, defaults } of tableKeys(prose)) {
      // "`quorum`, `hysteresis` | 1, 0": one default per key.
      const parts = defaults?.split(/\s+\/\s+|,\s+/);
      paths.forEach((path, i) => {
        for (const p of path) this.documented.add(p);
        const known = this.schema.endingIn(path);
        if (known.length === 0) {
          this.mismatch(doc.file, line, path.join('.'), 'in a key table, but the config schema has no such key');
        } else if (parts && parts.length === paths.length) {
          this.checkDefault(doc.file, line, path, known, parts[i]!);
        }
      });
    }
    // Keys named in code in prose count as documented where keys are described.
    const describesKeys = doc.file === 'docs/config.md' || doc.file === 'docs/health.md';
    let inConfigSections = doc.file === 'docs/config.md';
    for (const { line, text } of prose) {
      if (/^## For the code/.test(text)) inConfigSections = false; // from here on: FailoverdConfig, not the file
      for (const span of codeSpans(text)) {
        this.proseSetting(doc.file, line, span);
        if (inConfigSections) this.keyList(doc.file, line, span);
        if (describesKeys) for (const word of span.split(/[^A-Za-z0-9_]+/)) if (word) this.documented.add(word);
      }
    }
  }

  /** A key table's default agrees with the schema's (one of the keys the name can be: `weight`). */
  private checkDefault(file: string, line: number, path: string[], known: string[][], text: string): void {
    const defaults = known.map((p) => this.schema.keys.get(p.join('.'))?.default);
    if (defaults.includes(undefined)) return; // a key of that name without a default (a check's interval)
    const comparable = defaults.filter((d) => documentedDefault(text, d) !== undefined);
    if (comparable.length === 0) return;
    if (comparable.some((d) => documentedDefault(text, d) === normalisedDefault(d))) return;
    const actual = [...new Set(comparable.map((d) => JSON.stringify(d)))].join(' or ');
    const problem = `documented default ${JSON.stringify(text)}, but the schema's is ${actual}`;
    this.mismatch(file, line, path.join('.'), problem);
  }

  /** `{interface, sync_id (default vrid), group, port}`: each item starts with a key. */
  private keyList(file: string, line: number, span: string): void {
    for (const list of span.matchAll(/\{([^{}]*)\}/g)) {
      for (const item of splitTopLevel(list[1]!)) {
        const key = /^\s*([a-z_][a-z0-9_]*)\b/.exec(item)?.[1];
        if (!key || this.schema.endingIn([key]).length > 0) continue;
        this.mismatch(file, line, key, 'in a {key, …} list, but the config schema has no such key');
      }
    }
  }

  private mismatch(file: string, line: number, key: string, problem: string): void {
    this.mismatches.push({ file, line, key, problem });
  }

  private load(text: string, env: Record<string, string> = {}) {
    return loadConfigText(text, 'doc.yaml', { checkPlugins: this.plugins, env, defaultNodeName: 'lvs-a' });
  }

  private yamlBlock(fence: Fence): void {
    const lines = new LineCounter();
    const doc = parseDocument(fence.text, { lineCounter: lines });
    const lineOf = (offset: number) => fence.line + lines.linePos(offset).line;
    const syntax = doc.errors[0];
    if (syntax) {
      const message = syntax.message.split('\n')[0];
      this.mismatch(fence.file, lineOf(syntax.pos[0]), '', `YAML block does not parse: ${message}`);
      return;
    }
    if (!isMap(doc.contents)) return;
    const top = doc.contents.items.flatMap((p) => (isScalar(p.key) ? [String(p.key.value)] : []));
    const whole = top.length > 0 && top.every((k) => this.schema.roots.has(k));
    // A fragment (`template:`, `check:`) is read under every place its first key can be.
    const parents = new Set(top.flatMap((k) => this.schema.endingIn([k]).map((p) => p.slice(0, -1).join('.'))));
    const prefixes = whole ? [[]] : [...parents].map((p) => (p ? p.split('.') : []));
    const found: YamlKey[] = [];
    yamlKeys(doc.contents, [], (p) => prefixes.some((pre) => this.schema.freeForm([...pre, ...p])), found);
    const reported = new Set<string>();
    for (const { path, offset } of found) {
      this.documented.add(path[path.length - 1]!);
      if (prefixes.some((pre) => this.schema.has([...pre, ...path]))) continue;
      if (path.some((_, i) => reported.has(path.slice(0, i).join('.')))) continue; // its parent is reported
      reported.add(path.join('.'));
      const problem = `in a YAML example, but the config schema has no such key${whole ? '' : ' (under any section)'}`;
      this.mismatch(fence.file, lineOf(offset), path.join('.'), problem);
    }
    if (whole) this.loadExample(fence, top);
  }

  /**
   * A whole-section example must also load: values, and rules across keys. The sections
   * it does not show come from the seed config (whose names the docs use).
   */
  private loadExample(fence: Fence, sections: string[]): void {
    const base = parseDocument(BASE).toJS() as Record<string, unknown>;
    for (const k of sections) delete base[k];
    const env = Object.fromEntries([...fence.text.matchAll(/\$\{(\w+)/g)].map((m) => [m[1]!, 'example']));
    const r = this.load(`${fence.text}\n${stringify(base)}`, env);
    if (r.ok) return;
    const blockLines = fence.text.split('\n').length;
    for (const e of r.errors) {
      const line = e.line > 0 && e.line <= blockLines ? fence.line + e.line : fence.line;
      const key = e.path.replace(/\[\d+\]/g, '');
      this.mismatch(fence.file, line, key, `the YAML example is rejected: ${formatConfigError(e)}`);
    }
  }

  /** `api.listen: 127.0.0.1:PORT` in prose: the key exists and takes that value. */
  private proseSetting(file: string, line: number, span: string): void {
    const m = /^([a-z_][a-z0-9_.]*):\s+(.+)$/.exec(span);
    if (!m) return;
    const [, key, value] = m as unknown as [string, string, string];
    const path = key.split('.');
    if (!this.schema.roots.has(path[0]!) || path.length < 2) return;
    if (!this.schema.has(path)) {
      this.mismatch(file, line, key, 'set in the prose, but the config schema has no such key');
      return;
    }
    const doc = parseDocument(BASE);
    doc.setIn(path, parseDocument(value.replace(/\b[A-Z]{4}\b/g, (w) => PLACEHOLDERS[w] ?? w)).contents);
    const r = this.load(doc.toString());
    for (const e of r.ok ? [] : r.errors.filter((x) => x.path === key)) {
      this.mismatch(file, line, key, `the documented value ${JSON.stringify(value)} is rejected: ${e.message}`);
    }
  }
}

describe('docs and the config schema agree', async () => {
  const plugins = await loadCheckPlugins();
  const schema = new Schema(schemaKeys(plugins));
  const reader = new DocsReader(schema, plugins);
  for (const doc of readDocs()) reader.read(doc);
  const { mismatches, documented } = reader;

  it('every key the docs name is accepted, and documented example values load', () => {
    const failures = mismatches.map(show);
    assert.deepEqual(failures, [], `docs name keys or values the config schema refuses:\n${failures.join('\n')}`);
  });

  it('every key the schema accepts is documented (docs/config.md, a key table or a YAML example)', () => {
    const underFreeForm = (k: SchemaKey) => k.path.slice(0, -1).some((_, i) => schema.freeForm(k.path.slice(0, i + 1)));
    const missing = [...schema.keys.values()]
      .filter((k) => !underFreeForm(k) && !documented.has(k.path[k.path.length - 1]!))
      .map((k) => k.path.join('.'));
    assert.deepEqual(missing, [], `keys the schema accepts but no doc mentions:\n${missing.join('\n')}`);
  });

  it('docs/config.md has a section for every top-level key', () => {
    const text = readFileSync(`${repo}docs/config.md`, 'utf8');
    const headings = text
      .split('\n')
      .filter((l) => /^#{2,4} /.test(l))
      .join(' ');
    const missing = [...schema.roots].filter((root) => !new RegExp(`\\b${root}\\b`).test(headings));
    assert.deepEqual(missing, [], 'top-level keys without a heading in docs/config.md');
  });

  it('the reader finds what the docs hold (a guard against a reader that sees nothing)', () => {
    for (const key of ['advert_interval', 'garp', 'drain_timeout', 'expect_status', 'checks_thread', 'retries']) {
      assert.ok(documented.has(key), key);
    }
    assert.ok(schema.keys.size > 80, `only ${schema.keys.size} schema keys`);
  });
});
