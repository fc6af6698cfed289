// keepalived.conf(5) syntax: keywords with arguments, blocks in braces, comments
// from "#" or "!" to the end of the line, double-quoted strings, and `include`.
// The result keeps file:line on every statement so conversion warnings can point
// back at the keepalived source.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join } from 'node:path';

export interface KaNode {
  keyword: string;
  args: string[];
  /** Present when the statement opens a block. */
  children?: KaNode[];
  file: string;
  line: number;
}

export interface KaProblem {
  file: string;
  line: number;
  message: string;
}

export interface KaParseResult {
  nodes: KaNode[];
  problems: KaProblem[];
}

export interface KaParseOptions {
  /**
   * keepalived's instance name (its -i option, default the host name): selects the
   * `@NAME` / `@^NAME` conditional lines and is ${_INSTANCE}.
   */
  instance?: string;
  /** Reads an included file; default from disk. Returns undefined when it cannot. */
  readFile?: (path: string) => string | undefined;
  /** Lists a directory for `include` globs; default from disk. */
  listDir?: (dir: string) => string[];
}

function tokenize(line: string): string[] {
  const tokens: string[] = [];
  let i = 0;
  while (i < line.length) {
    const c = line[i]!;
    if (c === '#' || c === '!') break;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '{' || c === '}') {
      tokens.push(c);
      i++;
      continue;
    }
    if (c === '"') {
      const end = line.indexOf('"', i + 1);
      tokens.push(line.slice(i + 1, end < 0 ? line.length : end));
      i = end < 0 ? line.length : end + 1;
      continue;
    }
    let j = i;
    while (j < line.length && !/[\s{}"]/.test(line[j]!) && !(line[j] === '#' || line[j] === '!')) j++;
    tokens.push(line.slice(i, j));
    i = j;
  }
  return tokens;
}

const defaultRead = (path: string): string | undefined => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
};
const defaultList = (dir: string): string[] => {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
};

function globToRegExp(pattern: string): RegExp {
  return new RegExp(
    `^${pattern
      .replace(/[.+^${}()|\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  );
}

export function parseKeepalived(
  text: string,
  file: string,
  options: KaParseOptions = {},
  depth = 0,
  macros = new Map<string, string>(),
): KaParseResult {
  const read = options.readFile ?? defaultRead;
  const list = options.listDir ?? defaultList;
  const problems: KaProblem[] = [];
  macros.set('_PWD', dirname(file));
  macros.set('_INSTANCE', options.instance ?? '');
  macros.set('_HASH', '#');
  macros.set('_BANG', '!');
  const root: KaNode[] = [];
  const stack: KaNode[][] = [root];
  const openers: KaNode[] = [];
  let last: KaNode | undefined;

  for (const { text: lineText, line } of preprocess(text, file, options.instance ?? '', macros, problems)) {
    let current: KaNode | undefined;
    for (const token of tokenize(lineText)) {
      const top = stack[stack.length - 1]!;
      if (token === '{') {
        const opener = current ?? last;
        if (!opener || opener.children) {
          problems.push({ file, line, message: '"{" without a keyword before it' });
          stack.push([]);
          openers.push({ keyword: '', args: [], file, line });
          continue;
        }
        opener.children = [];
        stack.push(opener.children);
        openers.push(opener);
        current = undefined;
        last = undefined;
      } else if (token === '}') {
        if (stack.length === 1) problems.push({ file, line, message: 'unbalanced "}"' });
        else {
          stack.pop();
          openers.pop();
        }
        current = undefined;
        last = undefined;
      } else if (current) {
        current.args.push(token);
      } else {
        current = { keyword: token, args: [], file, line };
        top.push(current);
        last = current;
      }
    }
    // An `include` takes effect where it stands.
    if (current && current.keyword === 'include' && !current.children) {
      const top = stack[stack.length - 1]!;
      top.pop();
      top.push(...expandInclude(current));
    }
  }
  for (const opener of openers) problems.push({ file, line: opener.line, message: `block "${opener.keyword}" is not closed` });
  return { nodes: root, problems };

  function expandInclude(node: KaNode): KaNode[] {
    const pattern = node.args[0];
    if (!pattern) {
      problems.push({ file, line: node.line, message: 'include without a file name' });
      return [];
    }
    if (depth >= 8) {
      problems.push({ file, line: node.line, message: `include ${pattern}: nested more than 8 deep, not followed` });
      return [];
    }
    // Relative to the including file, and named in warnings the way the user named that file.
    const absolute = isAbsolute(pattern) ? pattern : join(dirname(file), pattern);
    const paths = /[*?]/.test(basename(absolute))
      ? list(dirname(absolute))
          .filter((n) => globToRegExp(basename(absolute)).test(n))
          .sort()
          .map((n) => join(dirname(absolute), n))
      : [absolute];
    const out: KaNode[] = [];
    let found = 0;
    for (const path of paths) {
      try {
        if (statSync(path).isDirectory()) continue;
      } catch {
        /* read() reports it */
      }
      const text = read(path);
      if (text === undefined) continue;
      found++;
      const inner = parseKeepalived(text, path, options, depth + 1, macros);
      macros.set('_PWD', dirname(file));
      out.push(...inner.nodes);
      problems.push(...inner.problems);
    }
    if (found === 0)
      problems.push({ file, line: node.line, message: `include ${pattern}: no readable file matches, so its contents are not converted` });
    return out;
  }
}

interface SourceLine {
  text: string;
  line: number;
}

const DEFINITION = /^\s*\$([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$/;
const CONDITIONAL = /^\s*@(\^?)(\S+)\s*(.*)$/;
const SEQUENCE = /^\s*~SEQ(x?)\(([^)]*)\)\s*(.*)$/;
const MAX_EXPANDED_LINES = 100_000;

/**
 * keepalived's line preprocessing, in its order: `@NAME` / `@^NAME` conditionals,
 * `$NAME=value` definitions (continued with a trailing backslash), `~SEQ(var, start,
 * step, end)` repetition, and `$NAME` / `${NAME}` substitution (a line that is only
 * `$NAME` expands to every line of a multi-line definition). Every produced line keeps
 * the source line it came from.
 */
export function preprocess(text: string, file: string, instance: string, macros: Map<string, string>, problems: KaProblem[]): SourceLine[] {
  const physical = text.split(/\r?\n/);
  const out: SourceLine[] = [];
  const emit = (raw: string, line: number, depth: number): void => {
    if (out.length >= MAX_EXPANDED_LINES || depth > 16) {
      if (depth > 16) problems.push({ file, line, message: 'definitions nested more than 16 deep' });
      return;
    }
    let lineText = raw;
    const conditional = CONDITIONAL.exec(lineText);
    if (conditional) {
      const matches = conditional[2] === instance;
      if (matches === (conditional[1] === '^')) return;
      lineText = conditional[3]!;
    }
    const sequence = SEQUENCE.exec(lineText);
    if (sequence) {
      const values = sequenceValues(sequence[2]!);
      if (!values) {
        problems.push({ file, line, message: `~SEQ(${sequence[2]}): expected (var, [start,] [step,] end)` });
        return;
      }
      for (const value of values.numbers) {
        macros.set(values.name, sequence[1] ? value.toString(16) : String(value));
        emit(sequence[3]!, line, depth + 1);
      }
      return;
    }
    const whole = /^\s*\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?\s*$/.exec(lineText);
    if (whole && macros.get(whole[1]!)?.includes('\n')) {
      for (const part of macros.get(whole[1]!)!.split('\n')) emit(part, line, depth + 1);
      return;
    }
    out.push({ text: substitute(lineText, line), line });
  };
  const substitute = (lineText: string, line: number): string =>
    lineText.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?:\s[^}]*)?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (match, braced, bare) => {
      const name = (braced ?? bare) as string;
      if (name === '_ENV' || name === '_RANDOM') {
        problems.push({ file, line, message: `\${${name}}: depends on the environment keepalived runs in; write the value` });
        return match;
      }
      const value = macros.get(name);
      if (value === undefined) {
        problems.push({ file, line, message: `$${name} is not defined` });
        return match;
      }
      return value;
    });

  for (let i = 0; i < physical.length; i++) {
    const line = i + 1;
    let lineText = physical[i]!;
    const conditional = CONDITIONAL.exec(lineText);
    const definitionText = conditional ? conditional[3]! : lineText;
    const definition = DEFINITION.exec(definitionText);
    if (definition) {
      if (conditional && (conditional[2] === instance) === (conditional[1] === '^')) continue;
      const parts = [definition[2]!];
      while (parts[parts.length - 1]!.endsWith('\\') && i + 1 < physical.length) {
        parts[parts.length - 1] = parts[parts.length - 1]!.slice(0, -1);
        parts.push(physical[++i]!);
      }
      if (parts[parts.length - 1]!.endsWith('\\')) parts[parts.length - 1] = parts[parts.length - 1]!.slice(0, -1);
      macros.set(
        definition[1]!,
        parts
          .map((p) => p.trim())
          .filter((p, n) => p !== '' || n === 0)
          .join('\n')
          .trim(),
      );
      continue;
    }
    lineText = physical[i]!;
    emit(lineText, line, 0);
  }
  return out;
}

function sequenceValues(text: string): { name: string; numbers: number[] } | undefined {
  const parts = text.split(',').map((p) => p.trim());
  const name = parts.shift();
  if (!name || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) || parts.length < 1 || parts.length > 3) return undefined;
  const numbers = parts.map((p) => Number(p));
  if (numbers.some((n) => !Number.isInteger(n))) return undefined;
  const end = numbers[numbers.length - 1]!;
  const start = numbers.length >= 2 ? numbers[0]! : end >= 0 ? 1 : -1;
  const step = numbers.length === 3 ? numbers[1]! : end >= start ? 1 : -1;
  if (step === 0) return undefined;
  const out: number[] = [];
  for (let n = start; step > 0 ? n <= end : n >= end; n += step) {
    out.push(n);
    if (out.length > 10_000) return undefined;
  }
  return { name, numbers: out };
}
