// What the importer found while converting: a lossy finding means failoverd would
// behave differently (on the wire, in the kernel or in a spawned program), so the
// import fails; a warning is a difference that cannot change any of those.
import type { KaNode } from './parse.js';

export type FindingKind = 'lossy' | 'warning';

/** Where in the output the finding belongs (a YAML path), for the NOT CARRIED OVER comment. */
export type OutputPath = Array<string | number>;

export interface Finding {
  kind: FindingKind;
  file: string;
  line: number;
  message: string;
  path?: OutputPath;
}

/** A converter's answer: the value it built (if any) and what it found. */
export interface Converted<T> {
  value?: T;
  findings: Finding[];
}

export const lossy = (node: KaNode, message: string, path?: OutputPath): Finding => ({
  kind: 'lossy',
  file: node.file,
  line: node.line,
  message,
  ...(path ? { path } : {}),
});

export const warning = (node: KaNode, message: string): Finding => ({ kind: 'warning', file: node.file, line: node.line, message });

export const statement = (node: KaNode): string => [node.keyword, ...node.args].join(' ');

/** The finding for a keyword the importer has no faithful equivalent for. */
export const notCarried = (node: KaNode, why: string, path?: OutputPath): Finding => lossy(node, `${statement(node)}: ${why}`, path);

export const unknownKeyword = (node: KaNode, where: string, path?: OutputPath): Finding =>
  lossy(node, `${statement(node)}: not understood in ${where}; what keepalived does with it cannot be carried over`, path);

export function under(prefix: OutputPath, findings: Finding[]): Finding[] {
  return findings.map((f) => (f.path ? { ...f, path: [...prefix, ...f.path] } : { ...f, path: prefix }));
}

export function formatFinding(f: Finding): string {
  return `${f.file}:${f.line}: ${f.message}`;
}
