// `failoverd check`'s summary says where the checks will run, by the rule `run` uses
// (src/health/checks-thread.ts), from the services as the agent maps them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planOf } from '../../../src/agent/map-config.js';
import { summarizeConfig } from '../../../src/config/summary.js';
import { BASE, load } from './config-text.js';

function summary(text: string): string[] {
  const r = load(text);
  assert.ok(r.ok);
  return summarizeConfig(r.config, planOf(r.config, 'testhost').services).split('\n');
}

/** BASE with `n` real servers checked every `interval`. */
const servers = (n: number, interval: string, extra = ''): string =>
  BASE.replace(/ {4}check: .*\n {4}real_servers:\n( {6}- .*\n)+/, '') +
  `    check: { type: tcp, interval: ${interval} }\n    real_servers:\n${Array.from({ length: n }, (_, i) => `      - { address: 10.6.3.${i + 1} }\n`).join('')}${extra}`;

test('the summary says where the checks run: auto, by the checks a second', () => {
  assert.ok(summary(BASE).includes('  the checks run on the main thread (health.checks_thread: auto (1 checks/s, at most 50))'));
  assert.ok(
    summary(servers(51, '1s')).includes('  the checks run on the worker thread (health.checks_thread: auto (51 checks/s, over 50))'),
  );
  const pinned = summary(servers(51, '1s', 'health: { checks_thread: main }\n'));
  assert.ok(pinned.includes('  the checks run on the main thread (health.checks_thread: main (51 checks/s))'), pinned.join('\n'));
});

test('no line about threads without a check', () => {
  const lines = summary(BASE.replace(/services:\n[\s\S]*$/, 'services: []\n'));
  assert.ok(lines.some((l) => l.startsWith('services: 0')));
  assert.ok(!lines.some((l) => l.includes('thread')));
});
