// The config text most config tests start from, and helpers to edit and load it.
import assert from 'node:assert/strict';
import { formatConfigError, loadConfigText, type LoadConfigResult } from '../../../src/config/index.js';
import { fakePlugins } from './fake-plugins.js';

// Line numbers in the expectations below count from this text's first line.
export const BASE = `node: { name: lvs-a }
vrrp:
  - name: web
    interface: eth0
    vrid: 51
    priority: 150
    vips: [10.6.2.195/32]
services:
  - name: web-80
    vip: 10.6.2.195
    port: 80
    scheduler: wlc
    check: { type: http, path: /healthz, interval: 2s, timeout: 1s }
    real_servers:
      - { address: 10.6.2.191, weight: 1 }
      - { address: 10.6.2.192, weight: 1, check: { type: tcp } }
`;

export function load(text: string, env: Record<string, string> = {}): LoadConfigResult {
  return loadConfigText(text, 'failoverd.yaml', { checkPlugins: fakePlugins, env, defaultNodeName: 'testhost' });
}

export function errorsOf(text: string, env: Record<string, string> = {}): string[] {
  const r = load(text, env);
  assert.equal(r.ok, false, 'expected the config to be rejected');
  return r.ok ? [] : r.errors.map(formatConfigError);
}

export function warningsOf(text: string): string[] {
  const r = load(text);
  assert.equal(r.ok, true, r.ok ? '' : r.errors.map(formatConfigError).join('\n'));
  return r.warnings.map(formatConfigError);
}

/** BASE with one line replaced (1-based), or lines appended. */
export function edit(line: number, replacement: string): string {
  const lines = BASE.split('\n');
  lines[line - 1] = replacement;
  return lines.join('\n');
}
