// Turns zod issues into the words the config errors use: "expected one of rr, wrr, …".
// Passed to every safeParse as the error map, so built-in checks speak the same
// language as the schema's own messages; "got <kind>" is added where the error is placed.
import type { z } from 'zod';
import { describeValue } from './errors.js';

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  object: 'a mapping',
  array: 'a list',
  bigint: 'an integer',
  null: 'nothing',
};

const FORMAT_NAMES: Record<string, string> = {
  ipv4: 'an IPv4 address',
  ipv6: 'an IPv6 address',
  url: 'a URL',
  regex: 'a string matching the expected pattern',
  starts_with: 'a string with the expected prefix',
};

function bound(kind: 'min' | 'max', issue: { origin?: string; inclusive?: boolean; minimum?: unknown; maximum?: unknown }): string {
  const limit = String(kind === 'min' ? issue.minimum : issue.maximum);
  const op = kind === 'min' ? (issue.inclusive ? '≥' : '>') : issue.inclusive ? '≤' : '<';
  switch (issue.origin) {
    case 'string':
      return kind === 'min'
        ? limit === '1'
          ? 'a non-empty string'
          : `a string of at least ${limit} characters`
        : `a string of at most ${limit} characters`;
    case 'array':
    case 'set':
      return kind === 'min' ? `at least ${limit} item${limit === '1' ? '' : 's'}` : `at most ${limit} items`;
    default:
      return `a number ${op} ${limit}`;
  }
}

type RawIssue = z.core.$ZodRawIssue;

/** What the schema expected, for one issue (no "got"). */
export function expectedText(issue: RawIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return `expected ${TYPE_NAMES[issue.expected] ?? issue.expected}`;
    case 'invalid_value':
      return issue.values.length === 1
        ? `expected ${JSON.stringify(issue.values[0])}`
        : `expected one of ${issue.values.map((v) => String(v)).join(', ')}`;
    case 'invalid_format':
      return `expected ${FORMAT_NAMES[issue.format] ?? `a ${issue.format}`}`;
    case 'too_small':
      return `expected ${bound('min', issue)}`;
    case 'too_big':
      return `expected ${bound('max', issue)}`;
    case 'not_multiple_of':
      return `expected a multiple of ${String(issue.divisor)}`;
    case 'unrecognized_keys':
      return 'unknown key';
    case 'invalid_union':
      return 'expected one of the allowed forms';
    case 'invalid_key':
      return 'invalid key';
    case 'invalid_element':
      return 'invalid element';
    default:
      return issue.message ?? 'invalid value';
  }
}

/** The zod error map used for every parse of config data. */
export const configErrorMap = (issue: RawIssue): string => expectedText(issue);

/**
 * "expected …, got a string" for a value of the wrong kind; a value of the right kind that
 * is out of range or not one of the choices gets "expected …" alone. Never the value
 * (describeValue): the error's file:line:column shows the operator where it is.
 */
export function withGot(expected: string, input: unknown, code?: string): string {
  if (code !== undefined && code !== 'invalid_type' && code !== 'invalid_union') return expected;
  return `${expected}, got ${describeValue(input)}`;
}
