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

export interface KaProblem { file: string; line: number; message: string }

export interface KaParseResult { nodes: KaNode[]; problems: KaProblem[] }

export interface KaParseOptions {
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
    if (/\s/.test(c)) { i++; continue; }
    if (c === '{' || c === '}') { tokens.push(c); i++; continue; }
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

const defaultRead = (path: string): string | undefined => { try { return readFileSync(path, 'utf8'); } catch { return undefined; } };
const defaultList = (dir: string): string[] => { try { return readdirSync(dir); } catch { return []; } };

function globToRegExp(pattern: string): RegExp {
  return new RegExp(`^${pattern.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
}

export function parseKeepalived(text: string, file: string, options: KaParseOptions = {}, depth = 0): KaParseResult {
  const read = options.readFile ?? defaultRead;
  const list = options.listDir ?? defaultList;
  const problems: KaProblem[] = [];
  const root: KaNode[] = [];
  const stack: KaNode[][] = [root];
  const openers: KaNode[] = [];
  let last: KaNode | undefined;

  text.split(/\r?\n/).forEach((lineText, index) => {
    const line = index + 1;
    let current: KaNode | undefined;
    for (const token of tokenize(lineText)) {
      const top = stack[stack.length - 1]!;
      if (token === '{') {
        const opener = current ?? last;
        if (!opener || opener.children) { problems.push({ file, line, message: '"{" without a keyword before it' }); stack.push([]); openers.push({ keyword: '', args: [], file, line }); continue; }
        opener.children = [];
        stack.push(opener.children);
        openers.push(opener);
        current = undefined;
        last = undefined;
      } else if (token === '}') {
        if (stack.length === 1) problems.push({ file, line, message: 'unbalanced "}"' });
        else { stack.pop(); openers.pop(); }
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
  });
  for (const opener of openers) problems.push({ file, line: opener.line, message: `block "${opener.keyword}" is not closed` });
  return { nodes: root, problems };

  function expandInclude(node: KaNode): KaNode[] {
    const pattern = node.args[0];
    if (!pattern) { problems.push({ file, line: node.line, message: 'include without a file name' }); return []; }
    if (depth >= 8) { problems.push({ file, line: node.line, message: `include ${pattern}: nested more than 8 deep, not followed` }); return []; }
    // Relative to the including file, and named in warnings the way the user named that file.
    const absolute = isAbsolute(pattern) ? pattern : join(dirname(file), pattern);
    const paths = /[*?]/.test(basename(absolute))
      ? list(dirname(absolute)).filter((n) => globToRegExp(basename(absolute)).test(n)).sort().map((n) => join(dirname(absolute), n))
      : [absolute];
    const out: KaNode[] = [];
    let found = 0;
    for (const path of paths) {
      try { if (statSync(path).isDirectory()) continue; } catch { /* read() reports it */ }
      const text = read(path);
      if (text === undefined) continue;
      found++;
      const inner = parseKeepalived(text, path, options, depth + 1);
      out.push(...inner.nodes);
      problems.push(...inner.problems);
    }
    if (found === 0) problems.push({ file, line: node.line, message: `include ${pattern}: no readable file matches, so its contents are not converted` });
    return out;
  }
}
