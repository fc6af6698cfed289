// ${NAME} and ${NAME:-default} in scalar values, resolved on the YAML document so
// every error keeps its place in the file. "$${" is a literal "${".
// A plain (unquoted) scalar is re-typed after substitution as YAML would type the
// text (priority: ${PRIO} becomes a number); a quoted one always stays a string.
import { isPair, isScalar, isSeq, parse as parseYaml, Scalar, visit, type Document } from 'yaml';
import type { ConfigPathSegment } from './errors.js';

export interface EnvProblem {
  segments: ConfigPathSegment[];
  /** Offset in the source text of the "${" that failed. */
  offset: number;
  message: string;
}

const REFERENCE = /\$\$\{|\$\{([^}]*)\}?/g;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function substitute(text: string, env: NodeJS.ProcessEnv, problem: (index: number, message: string) => void): string {
  return text.replace(REFERENCE, (match: string, body: string | undefined, index: number) => {
    if (match === '$${') return '${';
    if (!match.endsWith('}')) {
      problem(index, `unterminated "\${" (write $\${ for a literal "\${")`);
      return match;
    }
    const body_ = body ?? '';
    const sep = body_.indexOf(':-');
    const name = sep >= 0 ? body_.slice(0, sep) : body_;
    if (!NAME.test(name)) {
      problem(index, `"${match}" is not a variable reference: expected \${NAME} or \${NAME:-default}`);
      return match;
    }
    const value = env[name];
    if (value !== undefined && value !== '') return value;
    if (sep >= 0) return body_.slice(sep + 2);
    if (value === '') return '';
    problem(index, `environment variable ${name} is not set (write \${${name}:-default} to give a default)`);
    return match;
  });
}

/** Replaces references in every scalar value of `doc` in place; returns what could not be resolved. */
export function substituteEnv(doc: Document, source: string, env: NodeJS.ProcessEnv): EnvProblem[] {
  const problems: EnvProblem[] = [];
  visit(doc, {
    Scalar(key, node, path) {
      if (key === 'key' || typeof node.value !== 'string' || !node.value.includes('${')) return;
      const segments: ConfigPathSegment[] = [];
      for (let i = 0; i < path.length; i++) {
        const item = path[i];
        const next = path[i + 1] ?? node;
        if (isPair(item)) segments.push(isScalar(item.key) ? String(item.key.value) : String(item.key));
        else if (isSeq(item)) segments.push(item.items.indexOf(next));
      }
      const start = node.range?.[0] ?? 0;
      const end = node.range?.[1] ?? source.length;
      const raw = source.slice(start, end);
      let failed = false;
      const replaced = substitute(node.value, env, (index, message) => {
        failed = true;
        const ref = node.value as string;
        const needle = ref.slice(index, ref.indexOf('}', index) + 1 || undefined);
        const inSource = raw.indexOf(needle);
        problems.push({ segments, offset: start + (inSource >= 0 ? inSource : 0), message });
      });
      if (failed) return;
      if (node.type === Scalar.PLAIN) {
        try {
          const typed: unknown = parseYaml(replaced);
          node.value = typed === null || ['number', 'boolean'].includes(typeof typed) ? typed : replaced;
        } catch {
          node.value = replaced;
        }
      } else {
        node.value = replaced;
      }
    },
  });
  return problems;
}
