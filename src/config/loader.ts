// Reads failoverd.yaml into a FailoverdConfig, or into every problem found, each
// with file:line:column and key path. Never throws on bad input.
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { hostname } from 'node:os';
import { LineCounter, parseDocument } from 'yaml';
import { substituteEnv } from './env.js';
import { formatPath, type ConfigError, type ConfigPathSegment } from './errors.js';
import { configErrorMap, withGot } from './issues.js';
import { nodeAt, positionOfKey, positionOfValue } from './positions.js';
import { secretPaths } from './secrets.js';
import { buildConfigSchema, knownConfigKeys, type CheckPluginRegistry, type CheckPluginSource, type FailoverdConfig } from './schema.js';
import { validateConfig } from './validate.js';

export interface LoadConfigOptions {
  /** Variables for ${NAME} references; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** The check types (loadCheckPlugins() from checks/index.js); their schemas validate check options. */
  checkPlugins: CheckPluginRegistry;
  /** node.name when the file has none; default the host name. */
  defaultNodeName?: string;
  /** The file's mode (loadConfigFile sets it): a world-readable file that holds a secret gets a warning. */
  fileMode?: number;
}

export type LoadConfigResult =
  { ok: true; config: FailoverdConfig; warnings: ConfigError[] } | { ok: false; errors: ConfigError[]; warnings: ConfigError[] };

/** loadConfigFile's options: the check types may also come from a source that loads only the ones the file names. */
export type LoadConfigFileOptions = Omit<LoadConfigOptions, 'checkPlugins'> & { checkPlugins: CheckPluginRegistry | CheckPluginSource };

/** The result, with the check types it was validated against (the ones a source loaded). */
export type LoadConfigFileResult = LoadConfigResult & { checkPlugins: CheckPluginRegistry };

export async function loadConfigFile(path: string, options: LoadConfigFileOptions): Promise<LoadConfigFileResult> {
  let text: string;
  let mode: number;
  try {
    ({ text, mode } = await readRegularFile(path));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES'
          ? 'permission denied'
          : code === 'EISDIR'
            ? 'is a directory, expected a file'
            : (err as Error).message;
    return {
      ok: false,
      errors: [
        { severity: 'error', file: path, line: 0, column: 0, path: '', segments: [], message: `cannot read the config file: ${reason}` },
      ],
      warnings: [],
      checkPlugins: new Map(),
    };
  }
  const source = options.checkPlugins;
  if (source instanceof Map)
    return { ...loadConfigText(text, path, { ...options, checkPlugins: source, fileMode: mode }), checkPlugins: source };
  const lazy = source as CheckPluginSource;
  // The types the file names, found by their text: a word that is no type, or a type this
  // misses (${VAR}, an anchor), fails validation against them, and then every type decides,
  // so the outcome and its messages are those of the full set.
  const named = [...text.matchAll(/\btype\s*:\s*['"]?([a-z][a-z0-9_-]*)/g)].map((m) => m[1]!);
  const some = await lazy.ofTypes(named);
  if (some) {
    const result = loadConfigText(text, path, { ...options, checkPlugins: some, fileMode: mode });
    if (result.ok) return { ...result, checkPlugins: some };
  }
  const all = await lazy.all();
  return { ...loadConfigText(text, path, { ...options, checkPlugins: all, fileMode: mode }), checkPlugins: all };
}

/**
 * Reads a regular file only. A FIFO (or a device) in place of the config would
 * block the read until a writer appears — and a reload, and the stop waiting on
 * it, with it: opened non-blocking and refused unless it is a regular file.
 */
async function readRegularFile(path: string): Promise<{ text: string; mode: number }> {
  const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const info = await handle.stat();
    if (info.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    if (!info.isFile())
      throw new Error(`is ${info.isFIFO() ? 'a FIFO' : info.isSocket() ? 'a socket' : 'a device'}, expected a regular file`);
    return { text: await handle.readFile('utf8'), mode: info.mode };
  } finally {
    await handle.close();
  }
}

/** Small edit distance, for "did you mean". */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

function suggestion(key: string): string {
  // A key of another mapping (a service's `address:`) would suggest itself.
  if (knownConfigKeys().has(key)) return ' (a key of another section, not of this one)';
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const known of knownConfigKeys()) {
    const d = distance(key, known);
    if (d < bestDistance) {
      best = known;
      bestDistance = d;
    }
  }
  return best && bestDistance <= Math.max(1, Math.floor(key.length / 4)) ? ` (did you mean "${best}"?)` : '';
}

function valueAt(raw: unknown, segments: readonly PropertyKey[]): { present: boolean; value: unknown } {
  let cur: unknown = raw;
  for (const seg of segments) {
    if (cur === null || typeof cur !== 'object' || !Object.hasOwn(cur, seg)) return { present: false, value: undefined };
    cur = (cur as Record<PropertyKey, unknown>)[seg];
  }
  return { present: true, value: cur };
}

type Issue = {
  code: string;
  path: PropertyKey[];
  message: string;
  input?: unknown;
  keys?: string[];
  errors?: Issue[][];
  params?: { final?: boolean; atKey?: boolean };
};

export function loadConfigText(text: string, file: string, options: LoadConfigOptions): LoadConfigResult {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, keepSourceTokens: true, uniqueKeys: true, prettyErrors: false });
  const errors: ConfigError[] = [];
  const warnings: ConfigError[] = [];
  const at = (offset: number) => {
    const p = lines.linePos(offset);
    return { line: p.line, column: p.col };
  };
  const make = (
    severity: ConfigError['severity'],
    segments: ConfigPathSegment[],
    message: string,
    pos: { line: number; column: number },
  ): ConfigError => ({ severity, file, line: pos.line, column: pos.column, path: formatPath(segments), segments, message });

  for (const e of doc.errors) errors.push(make('error', [], `YAML syntax error: ${e.message.split('\n')[0]}`, at(e.pos[0])));
  for (const w of doc.warnings) warnings.push(make('warning', [], `YAML: ${w.message.split('\n')[0]}`, at(w.pos[0])));
  if (errors.length > 0) return { ok: false, errors, warnings };

  const envProblems = substituteEnv(doc, text, options.env ?? process.env);
  for (const p of envProblems) errors.push(make('error', p.segments, p.message, at(p.offset)));
  const envPaths = new Set(envProblems.map((p) => formatPath(p.segments)));

  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 1000 });
  } catch (err) {
    // yaml throws while resolving aliases (an alias before its anchor, an alias bomb): report, never throw.
    errors.push(make('error', [], `YAML: ${(err as Error).message.split('\n')[0]}`, { line: 1, column: 1 }));
    return { ok: false, errors, warnings };
  }
  if (raw === null || raw === undefined) {
    errors.push(make('error', [], 'the file is empty: expected a mapping with node, vrrp, services, …', { line: 1, column: 1 }));
    return { ok: false, errors, warnings };
  }

  const schema = buildConfigSchema(options.checkPlugins);
  const parsed = schema.safeParse(raw, { reportInput: true, error: configErrorMap });
  if (!parsed.success) {
    const report = (issue: Issue, prefix: PropertyKey[]) => {
      const segments = [...prefix, ...issue.path] as ConfigPathSegment[];
      if (envPaths.has(formatPath(segments))) return; // already reported as the unresolved variable
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys ?? []) {
          const keyPath = [...segments, key];
          errors.push(make('error', keyPath, `unknown key${suggestion(key)}`, positionOfKey(doc, lines, keyPath)));
        }
        return;
      }
      if (issue.code === 'invalid_union' && issue.errors) {
        // Keep the branches that got past the type test; when one remains, its issues say more.
        const deeper = issue.errors.filter((branch) => !branch.every((i) => i.code === 'invalid_type' && i.path.length === 0));
        if (deeper.length === 1) {
          for (const i of deeper[0]!) report(i, segments);
          return;
        }
      }
      const found = valueAt(raw, segments);
      const pos = (issue.params?.atKey ? positionOfKey : positionOfValue)(doc, lines, segments);
      if (issue.params?.final) errors.push(make('error', segments, issue.message, pos));
      else if (!found.present) errors.push(make('error', segments, `missing required key (${issue.message})`, pos));
      else errors.push(make('error', segments, withGot(issue.message, found.value, issue.code), pos));
    };
    for (const issue of parsed.error.issues as unknown as Issue[]) report(issue, []);
  }

  if (errors.length === 0 && parsed.success) {
    for (const p of validateConfig(parsed.data, raw as Record<string, unknown>)) {
      const e = make(p.severity, p.segments, p.message, positionOfValue(doc, lines, p.segments));
      (p.severity === 'error' ? errors : warnings).push(e);
    }
  }

  const byPlace = (a: ConfigError, b: ConfigError) => a.line - b.line || a.column - b.column || a.path.localeCompare(b.path);
  const dedupe = (list: ConfigError[]) =>
    list
      .filter(
        (e, i) => list.findIndex((o) => o.line === e.line && o.column === e.column && o.path === e.path && o.message === e.message) === i,
      )
      .sort(byPlace);
  if (errors.length > 0 || !parsed.success) return { ok: false, errors: dedupe(errors), warnings: dedupe(warnings) };

  const config = parsed.data;
  if (options.fileMode !== undefined && (options.fileMode & 0o004) !== 0) {
    // A value taken from ${ENV} is not in the file: only secrets written out in it count.
    const written = secretPaths(config).filter((segments) => {
      const range = nodeAt(doc, segments)?.range;
      return range != null && !text.slice(range[0], range[1]).includes('${');
    });
    if (written.length > 0) {
      warnings.push(
        make(
          'warning',
          [],
          `the file is world-readable and holds secrets (${written.map(formatPath).join(', ')}): ` +
            `chmod 640 ${file} (readable by root and its group only), or take them from the environment with \${NAME}`,
          { line: 0, column: 0 },
        ),
      );
    }
  }
  if (!config.node.name) config.node.name = options.defaultNodeName ?? hostname();
  return { ok: true, config, warnings: dedupe(warnings) };
}
