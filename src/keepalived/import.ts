// keepalived.conf text → failoverd.yaml text, with warnings that point at the
// keepalived source (file:line).
import { stringify } from 'yaml';
import { convertKeepalived } from './convert.js';
import { parseKeepalived, type KaParseOptions, type KaProblem } from './parse.js';

export interface ImportResult {
  yaml: string;
  config: Record<string, unknown>;
  /** Syntax problems and everything that could not be carried over, in file order. */
  warnings: KaProblem[];
}

export function importKeepalived(text: string, file: string, options: KaParseOptions = {}): ImportResult {
  const parsed = parseKeepalived(text, file, options);
  const { config, warnings } = convertKeepalived(parsed.nodes);
  const all = [...parsed.problems, ...warnings].sort((a, b) => (a.file === b.file ? a.line - b.line : a.file.localeCompare(b.file)));
  const header = [
    '# yaml-language-server: $schema=https://github.com/failoverd/failoverd/config/schema.json',
    `# Converted from ${file} by "failoverd import-keepalived".`,
    '# keepalived defaults are written out (VRRP version 2, NAT forwarding, delay_loop 60s,',
    '# connect_timeout 5s, servers up until a check fails unless alpha). Review, then run',
    '# "failoverd check --config THIS_FILE".',
  ];
  const body = stringify(config, { lineWidth: 0, flowCollectionPadding: true });
  return { yaml: `${header.join('\n')}\n${body}`, config, warnings: all };
}

export function formatImportWarning(w: KaProblem): string {
  return `${w.file}:${w.line}: ${w.message}`;
}
