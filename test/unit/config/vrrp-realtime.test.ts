// vrrp_realtime (docs/config.md): the VRRP thread under SCHED_RR. One owner: the
// schema decides the range and the default; a bad value names file, line and key.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatConfigError } from '../../../src/config/index.js';
import { BASE, errorsOf, load } from './config-text.js';

const withRealtime = (body: string): string => `${BASE}vrrp_realtime: ${body}\n`;
const REALTIME_LINE = BASE.split('\n').length;

describe('vrrp_realtime', () => {
  it('is off when absent', () => {
    const r = load(BASE);
    assert.ok(r.ok);
    assert.equal(r.ok && r.config.vrrp_realtime, undefined);
  });

  it("takes a priority; cpu_burst_limit defaults to 200ms, under the kernel's real-time budget", () => {
    const r = load(withRealtime('{ priority: 50 }'));
    assert.ok(r.ok, r.ok ? '' : r.errors.map(formatConfigError).join('\n'));
    assert.deepEqual(r.config.vrrp_realtime, { priority: 50, cpu_burst_limit: 200 });
    const limited = load(withRealtime('{ priority: 99, cpu_burst_limit: 50ms }'));
    assert.ok(limited.ok);
    assert.deepEqual(limited.config.vrrp_realtime, { priority: 99, cpu_burst_limit: 50 });
  });

  it("refuses a priority outside SCHED_RR's 1..99, naming file, line and key", () => {
    for (const bad of ['0', '100', '50.5']) {
      const [error] = errorsOf(withRealtime(`{ priority: ${bad} }`));
      assert.match(error!, new RegExp(`^failoverd\\.yaml:${REALTIME_LINE}:\\d+ vrrp_realtime\\.priority: `), `${bad}: ${error}`);
    }
    const [missing] = errorsOf(withRealtime('{ cpu_burst_limit: 1s }'));
    assert.match(missing!, /vrrp_realtime\.priority/);
  });

  it('bounds cpu_burst_limit to 10ms..1m and refuses unknown keys', () => {
    for (const bad of ['5ms', '2m']) {
      const [error] = errorsOf(withRealtime(`{ priority: 50, cpu_burst_limit: ${bad} }`));
      assert.match(error!, /vrrp_realtime\.cpu_burst_limit: expected a duration from 10ms to 1m/, `${bad}: ${error}`);
    }
    const [unknown] = errorsOf(withRealtime('{ priority: 50, policy: fifo }'));
    assert.match(unknown!, /vrrp_realtime.*policy/);
  });
});
