// The one shape every config problem takes, so the CLI, the agent's reload path and
// the tests print the same thing: "failoverd.yaml:14:7 services[0].scheduler: expected …".
// A message names the place and what is wrong, never the value found there.

export type ConfigPathSegment = string | number;

export interface ConfigError {
  severity: 'error' | 'warning';
  /** The file as the user named it. */
  file: string;
  /** 1-based; 0 when the problem has no place in the file (unreadable file). */
  line: number;
  column: number;
  /** Key path like "services[0].scheduler"; "" for the whole document. */
  path: string;
  segments: ConfigPathSegment[];
  /** What was expected and what was found, without the position. */
  message: string;
}

/** "services[0].real_servers[1].check.type" */
export function formatPath(segments: readonly ConfigPathSegment[]): string {
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(s)) out += out ? `.${s}` : s;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out;
}

/** "failoverd.yaml:14:7 services[0].scheduler: expected one of rr, wrr, …, got a number" */
export function formatConfigError(e: ConfigError): string {
  const where = e.line > 0 ? `${e.file}:${e.line}:${e.column}` : e.file;
  const prefix = e.severity === 'warning' ? 'warning: ' : '';
  return e.path ? `${where} ${prefix}${e.path}: ${e.message}` : `${where} ${prefix}${e.message}`;
}

/**
 * What kind of value was found, for "got …" — never the value itself: it may be a
 * password, a token in a URL, or a secret substituted from ${ENV}, and config errors go
 * to the terminal, the log, and on a rejected reload to webhooks and notify programs.
 * The file:line:column of the error shows the operator where it is.
 */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return value === '' ? 'an empty string' : 'a string';
  if (typeof value === 'number') return Number.isInteger(value) ? 'an integer' : 'a number';
  if (typeof value === 'boolean') return 'true or false';
  return `a ${typeof value}`;
}
