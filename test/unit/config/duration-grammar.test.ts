// The one duration parser (src/config/duration.ts) serves the config, the API and the
// CLI. The config's grammar must stay exactly what it was: a number with a unit, one or
// more parts; a bare number is refused (seconds or ms?). Only the API and CLI read
// digits as milliseconds, through parseDurationArgument.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDuration, parseDurationArgument } from '../../../src/config/duration.js';
import { formatConfigError } from '../../../src/config/index.js';
import { BASE, load } from './config-text.js';

const ACCEPTED: Array<[string, number]> = [
  ['2s', 2000],
  ['1500ms', 1500],
  ['1.5s', 1500],
  ['1m30s', 90_000],
  ['0.25s', 250],
  ['1m', 60_000],
  ['1s500ms', 1500],
  ['2s2s', 4000],
  ['0.0005s', 1],
  ['1h', 3_600_000],
];
const REFUSED = ['2', '2000', '2 s', '2S', '2sec', '1.s', '.5s', '-1s', '+1s', '1e3ms', 's', '', '1m 30s', '2w', '0x10s', '١s'];

/** The check interval the config loader makes of `text`, or its error. */
function interval(text: string): number | string {
  const r = load(BASE.replace('interval: 2s', `interval: ${JSON.stringify(text)}`));
  if (!r.ok) return r.errors.map(formatConfigError).join('; ');
  const check = r.config.services[0]!.real_servers[0]!.checks[0] as { interval?: number } | undefined;
  return check?.interval ?? 'no interval';
}

describe('config durations accept exactly what they accepted before', () => {
  for (const [text, ms] of ACCEPTED) {
    it(`${JSON.stringify(text)} → ${ms} ms`, () => {
      assert.equal(parseDuration(text), ms);
      assert.equal(interval(text), ms);
    });
  }
  for (const text of REFUSED) {
    it(`${JSON.stringify(text)} is refused`, () => {
      assert.equal(parseDuration(text), undefined);
      assert.match(String(interval(text)), /services\[0\]\.check\.interval: expected a duration like 250ms, 2s or 1m/);
    });
  }
  it("days, past any check interval's range", () => assert.equal(parseDuration('7d'), 7 * 86_400_000));
  it('the API and the CLI alone read digits as milliseconds', () => {
    const range = { minMs: 1, maxMs: 60_000 };
    assert.equal(parseDurationArgument('2000', range), 2000);
    assert.equal(parseDurationArgument(2000, range), 2000);
    assert.equal(parseDurationArgument('2s', range), 2000);
    assert.throws(() => parseDurationArgument('2 s', range), /invalid duration "2 s"/);
  });
});
