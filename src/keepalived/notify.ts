// keepalived's script strings (notify_*, notify, quorum_up/down, notify_up/down, vrrp_script's
// script) → a failoverd command. keepalived splits the string into words itself (no
// shell); an absolute program becomes an argv list, a bare program name a /bin/sh command
// line (the shell's PATH lookup is keepalived's), and anything a shell would read
// differently from keepalived's word splitting is refused.
import { notCarried, type Converted } from './findings.js';
import type { KaNode } from './parse.js';
import { literal } from './values.js';

/** What /bin/sh would treat differently from keepalived's plain word splitting. */
const SHELL_SPECIAL = /[;&|<>$`\\'"*?~(){}[\]!#]/;

/** `node`'s first argument is the script; more arguments are keepalived's [username [groupname]]. */
export function commandOf(node: KaNode): Converted<string | string[]> {
  const text = node.args[0];
  if (text === undefined || !text.trim()) return { findings: [notCarried(node, 'no script given')] };
  if (node.args.length > 1) {
    return { findings: [notCarried(node, `runs as user ${node.args[1]}: failoverd runs its programs as itself`)] };
  }
  const words = text.trim().split(/\s+/);
  if (/['"\\]/.test(text)) {
    return {
      findings: [
        notCarried(
          node,
          "quotes or backslashes inside the script: keepalived's splitting of them " +
            'has no exact equivalent; write the command as a list by hand',
        ),
      ],
    };
  }
  if (words[0]!.startsWith('/')) return { value: words.map(literal), findings: [] };
  if (SHELL_SPECIAL.test(text)) {
    return {
      findings: [notCarried(node, 'not an absolute path, and /bin/sh would read its special characters ' + 'differently from keepalived')],
    };
  }
  return { value: literal(text.trim()), findings: [] };
}
