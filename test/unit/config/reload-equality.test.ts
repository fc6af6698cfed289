// "Did it change" on reload is deep equality (node:util isDeepStrictEqual). The agent
// used to compare JSON.stringify texts, which depend on key order: a reload that only
// reordered a webhook's headers (a mapping kept in the file's order) swapped the whole
// alerts section, queued deliveries included, for nothing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import { formatConfigError, type FailoverdConfig } from '../../../src/config/index.js';
import { BASE, load } from './config-text.js';

function config(headers: string): FailoverdConfig {
  const r = load(`${BASE}alerts:\n  webhooks:\n    - url: https://hooks.example/lvs\n      headers: ${headers}\n`);
  assert.ok(r.ok, r.ok ? '' : r.errors.map(formatConfigError).join('\n'));
  return r.config;
}

test('the same headers in another order: a different JSON text, yet the same alerts', () => {
  const before = config('{ X-Team: lvs, X-Env: prod }');
  const reordered = config('{ X-Env: prod, X-Team: lvs }');
  // What the old comparison saw: a change.
  assert.notEqual(JSON.stringify(before.alerts), JSON.stringify(reordered.alerts));
  assert.ok(isDeepStrictEqual(before.alerts, reordered.alerts));
  assert.ok(isDeepStrictEqual(before, reordered));
});

test('a changed header value is still a change', () => {
  assert.equal(isDeepStrictEqual(config('{ X-Team: lvs }').alerts, config('{ X-Team: ops }').alerts), false);
});
