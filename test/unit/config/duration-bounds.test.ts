// Issue 17, defect 9: Node fires a timer longer than 2^31-1 ms after 1 ms, so an
// unbounded duration became a flood (garp.refresh: 25d → GARP every millisecond) or an
// early release (force-backup for: 30d → released at once). Every duration is bounded
// by the one parser, and the system clock never fires a long timer early.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isSeq, parseDocument } from 'yaml';
import { ApiClient } from '../../../src/api/client.js';
import { ApiServer, FORCE_BACKUP_RANGE } from '../../../src/api/server.js';
import { MAX_TIMER_DELAY_MS, systemClock } from '../../../src/clock.js';
import { MAX_DURATION_MS, parseDuration, parseDurationArgument } from '../../../src/config/duration.js';
import { formatConfigError, formatPath } from '../../../src/config/index.js';
import { fakeAgent } from '../api/fake-agent.js';
import { BASE, edit, errorsOf, load } from './config-text.js';
import { fakePlugins } from './fake-plugins.js';
import { schemaKeys } from './schema-paths.js';

const DAY = 86_400_000;
const parseApiDuration = (value: unknown): number => parseDurationArgument(value, FORCE_BACKUP_RANGE);

describe('config durations are bounded', () => {
  it('garp.refresh: 25d is rejected at file:line:col with its key and the allowed range', () => {
    assert.deepEqual(errorsOf(edit(7, '    vips: [10.6.2.195/32]\n    garp: { refresh: 25d }')), [
      'failoverd.yaml:8:22 vrrp[0].garp.refresh: expected a duration from 1s to 1d (or 0s for off)',
    ]);
  });

  it('garp.refresh takes 0s (off) and 1s to 1d, but not a flood of 1ms', () => {
    for (const ok of ['0s', '1s', '60s', '1d']) {
      const r = load(edit(7, `    vips: [10.6.2.195/32]\n    garp: { refresh: ${ok} }`));
      assert.ok(r.ok, r.ok ? '' : r.errors.map(formatConfigError).join('\n'));
    }
    const [flood] = errorsOf(edit(7, '    vips: [10.6.2.195/32]\n    garp: { refresh: 1ms }'));
    assert.match(flood!, /garp\.refresh: expected a duration from 1s to 1d/);
  });

  it('a check interval of a day is refused with the allowed range', () => {
    assert.deepEqual(errorsOf(edit(13, '    check: { type: http, path: /healthz, interval: 1d, timeout: 1s }')), [
      'failoverd.yaml:13:52 services[0].check.interval: expected a duration from 1ms to 1h',
    ]);
  });

  // The class, not the example: every duration key the schema has (found in its JSON
  // Schema, so a new key is covered without editing this test) refuses 25 days.
  it('every duration key refuses a value beyond the Node timer limit, naming the key', () => {
    const full = parseDocument(`${BASE}alerts:
  webhooks: [{ url: "https://hooks.example/lvs" }]
  notify: [{ program: /bin/true }]
schedules:
  - { cron: "0 3 * * 0", action: drain, service: web-80, real_server: 10.6.2.191, for: 30m }
routing:
  announce: [{ name: r, vips: [10.6.2.200], services: [web-80] }]
`);
    // The lists that BASE leaves empty get one item, so their duration keys are reached too.
    full.setIn(['vrrp', 0, 'sync_group'], 'G');
    full.setIn(
      ['vrrp', 0, 'track'],
      full.createNode({ scripts: [{ name: 's', command: ['/bin/true'] }], processes: [{ name: 'p', process: 'p' }] }),
    );
    full.setIn(['vrrp', 0, 'notify'], full.createNode({ on_master: ['/bin/true'] }));
    full.setIn(['vrrp_sync_groups'], full.createNode([{ name: 'G', notify: { on_master: ['/bin/true'] } }]));
    full.setIn(['services', 0, 'notify'], full.createNode({ on_quorum_up: ['/bin/true'] }));
    full.setIn(['services', 0, 'real_servers', 0, 'notify'], full.createNode({ on_up: ['/bin/true'] }));
    const baseline = load(full.toString());
    assert.ok(baseline.ok, baseline.ok ? '' : baseline.errors.map(formatConfigError).join('\n'));
    const durations = [...schemaKeys(fakePlugins).values()].filter((k) => k.duration);
    assert.ok(durations.length >= 15, `found only ${durations.length} duration keys`);
    let checked = 0;
    const tooLong = `${Math.ceil((MAX_TIMER_DELAY_MS + 1) / DAY)}d`;
    for (const key of durations) {
      // Put the key in the first item of each list on its path.
      // In a list, the first item that has the next key (real_servers: the one with a check).
      const path: Array<string | number> = [];
      key.path.forEach((segment, i) => {
        path.push(segment);
        const list = full.getIn(path, true);
        if (!isSeq(list)) return;
        const next = key.path[i + 1];
        const index = list.items.findIndex((_, j) => next === undefined || full.hasIn([...path, j, next]));
        path.push(Math.max(0, index));
      });
      checked++;
      const doc = full.clone();
      doc.setIn(path, tooLong);
      const errors = errorsOf(doc.toString());
      const shown = formatPath(path);
      // Named by key and range; the value is never quoted (an error can carry a ${ENV} secret).
      const refused = errors.some((e) => e.includes(` ${shown}: expected a duration `) && !e.includes(tooLong));
      assert.ok(refused, `${shown}: ${tooLong} not refused with a range: ${errors.join('; ')}`);
    }
    assert.equal(checked, durations.length);
  });

  it('no range reaches the Node timer limit', () => {
    assert.ok(MAX_DURATION_MS <= MAX_TIMER_DELAY_MS);
    assert.equal(parseDuration('7d'), MAX_DURATION_MS);
  });
});

describe('the API and CLI force-backup duration uses the same parser and bounds', () => {
  it('refuses 30d (text or milliseconds) with the allowed range', () => {
    const range = 'expected a duration from 1ms to 7d';
    assert.throws(() => parseApiDuration('30d'), { message: `invalid duration "30d": ${range}` });
    assert.throws(() => parseApiDuration(30 * DAY), {
      message: `invalid duration 2592000000: ${range}`,
    });
    assert.throws(() => parseApiDuration(2 ** 31), /expected a duration from 1ms to 7d/);
    assert.throws(() => parseApiDuration('0s'), /expected a duration from 1ms to 7d/);
  });

  it('takes what it took before, up to the bound', () => {
    assert.equal(parseApiDuration('5m'), 300_000);
    assert.equal(parseApiDuration('7d'), 7 * DAY);
    assert.equal(parseApiDuration(1500), 1500);
    assert.equal(parseApiDuration('1500'), 1500);
    assert.throws(() => parseApiDuration('soon'), /invalid duration "soon"/);
  });

  it('POST /admin/force-backup with for: 30d gets HTTP 400 and the instance is not touched', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'failoverd-duration-'));
    const socket = join(dir, 'failoverd.sock');
    const agent = fakeAgent();
    const server = new ApiServer({ socket }, { status: agent.status, admin: agent.admin });
    await server.start();
    t.after(async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    });
    const client = new ApiClient({ kind: 'unix', path: socket });
    t.after(() => client.close());
    await assert.rejects(
      client.admin('force-backup', { instance: 'web', for: '30d' }),
      /invalid duration "30d": expected a duration from 1ms to 7d \(HTTP 400\)/,
    );
    assert.deepEqual(agent.calls, []);
  });
});

describe('systemClock.setTimer never fires a long timer early', () => {
  it('waits out a delay above 2^31-1 ms in steps (Node alone fires it after 1 ms)', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    let fired = 0;
    systemClock.setTimer(MAX_TIMER_DELAY_MS + 1001, () => {
      fired++;
    });
    t.mock.timers.tick(10);
    assert.equal(fired, 0, 'fired after 10 ms');
    t.mock.timers.tick(MAX_TIMER_DELAY_MS - 10);
    assert.equal(fired, 0, 'fired at 2^31-1 ms');
    t.mock.timers.tick(1000);
    assert.equal(fired, 0, 'fired 1 ms early');
    t.mock.timers.tick(1);
    assert.equal(fired, 1);
  });

  it('a 30-day timer can be cancelled in any step', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    let fired = 0;
    const timer = systemClock.setTimer(30 * DAY, () => {
      fired++;
    });
    t.mock.timers.tick(25 * DAY);
    timer.cancel();
    t.mock.timers.tick(10 * DAY);
    assert.equal(fired, 0);
    const kept = systemClock.setTimer(30 * DAY, () => {
      fired++;
    });
    // Mocked timers start a timer set inside a tick from the tick's end, so tick to each step.
    t.mock.timers.tick(MAX_TIMER_DELAY_MS);
    t.mock.timers.tick(30 * DAY - MAX_TIMER_DELAY_MS - 1);
    assert.equal(fired, 0);
    t.mock.timers.tick(1);
    assert.equal(fired, 1);
    kept.cancel();
  });

  it('short delays are unchanged', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const order: string[] = [];
    systemClock.setTimer(20, () => order.push('20'));
    systemClock.setTimer(-5, () => order.push('negative'));
    systemClock.setTimer(Number.NaN, () => order.push('NaN'));
    t.mock.timers.tick(19);
    assert.deepEqual(order, ['negative', 'NaN']);
    t.mock.timers.tick(1);
    assert.deepEqual(order, ['negative', 'NaN', '20']);
  });
});
