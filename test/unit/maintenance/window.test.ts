import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lastOccurrence, nextOccurrence, validateWindowSpec, wallToInstant, windowAt } from '../../../src/maintenance/window.js';

const t = (iso: string): number => Date.parse(iso);
const iso = (ms: number | undefined): string | undefined => (ms === undefined ? undefined : new Date(ms).toISOString());
const MIN = 60_000;

test('a window is open from an occurrence for its duration, and says when it ends', () => {
  const spec = { cron: '0 3 * * 0', timezone: 'UTC', forMs: 30 * MIN }; // Sundays 03:00 UTC
  // 2026-03-01 is a Sunday.
  assert.deepEqual(windowAt(spec, t('2026-03-01T02:59:59.999Z')), { active: false, nextStart: new Date('2026-03-01T03:00:00Z') });
  assert.deepEqual(windowAt(spec, t('2026-03-01T03:00:00Z')), {
    active: true,
    start: new Date('2026-03-01T03:00:00Z'),
    end: new Date('2026-03-01T03:30:00Z'),
  });
  assert.equal(windowAt(spec, t('2026-03-01T03:29:59.999Z')).active, true);
  assert.deepEqual(windowAt(spec, t('2026-03-01T03:30:00Z')), { active: false, nextStart: new Date('2026-03-08T03:00:00Z') });
});

test('the time zone decides the instant: Europe/Berlin 03:00 is 02:00 UTC in winter, 01:00 UTC in summer', () => {
  const spec = { cron: '0 3 * * *', timezone: 'Europe/Berlin', forMs: 10 * MIN };
  assert.equal(iso(nextOccurrence(spec, t('2026-01-15T00:00:00Z'))), '2026-01-15T02:00:00.000Z');
  assert.equal(iso(nextOccurrence(spec, t('2026-07-15T00:00:00Z'))), '2026-07-15T01:00:00.000Z');
  assert.equal(windowAt(spec, t('2026-07-15T01:05:00Z')).active, true);
  assert.equal(windowAt(spec, t('2026-07-15T02:05:00Z')).active, false);
});

test('DST spring forward: Europe/Berlin 2026-03-29 02:30 does not exist; the window opens at 03:00 CEST, once', () => {
  const spec = { cron: '30 2 * * *', timezone: 'Europe/Berlin', forMs: 20 * MIN };
  // 02:00 CET jumps to 03:00 CEST at 01:00 UTC.
  assert.equal(iso(wallToInstant(Date.UTC(2026, 2, 29, 2, 30), 'Europe/Berlin')), '2026-03-29T01:00:00.000Z');
  assert.equal(iso(nextOccurrence(spec, t('2026-03-28T12:00:00Z'))), '2026-03-29T01:00:00.000Z');
  const open = windowAt(spec, t('2026-03-29T01:10:00Z'));
  assert.deepEqual(open, { active: true, start: new Date('2026-03-29T01:00:00Z'), end: new Date('2026-03-29T01:20:00Z') });
  assert.equal(windowAt(spec, t('2026-03-29T00:59:59Z')).active, false);
  // Next day it is back to 02:30 local (00:30 UTC in summer time).
  assert.equal(iso(nextOccurrence(spec, t('2026-03-29T01:00:00Z'))), '2026-03-30T00:30:00.000Z');
});

test('DST fall back: Europe/Berlin 2026-10-25 02:30 happens twice; the window opens at the first (CEST) only', () => {
  const spec = { cron: '30 2 * * *', timezone: 'Europe/Berlin', forMs: 20 * MIN };
  // First 02:30 is CEST (00:30 UTC), the repeated one CET (01:30 UTC).
  assert.equal(iso(wallToInstant(Date.UTC(2026, 9, 25, 2, 30), 'Europe/Berlin')), '2026-10-25T00:30:00.000Z');
  assert.equal(iso(nextOccurrence(spec, t('2026-10-24T12:00:00Z'))), '2026-10-25T00:30:00.000Z');
  assert.equal(windowAt(spec, t('2026-10-25T00:40:00Z')).active, true);
  // During the repeated hour (02:30 CET) the window is not opened again.
  assert.equal(windowAt(spec, t('2026-10-25T01:35:00Z')).active, false);
  // Asked from inside the repeated hour, the next window is the next day's 02:30 CET.
  assert.equal(iso(nextOccurrence(spec, t('2026-10-25T01:00:00Z'))), '2026-10-26T01:30:00.000Z');
  assert.equal(iso(nextOccurrence(spec, t('2026-10-25T01:29:59Z'))), '2026-10-26T01:30:00.000Z');
});

test('an hourly window across fall back runs 02:00 CEST then 03:00 CET (wall-clock schedule, not every real hour)', () => {
  const spec = { cron: '0 * * * *', timezone: 'Europe/Berlin' };
  const seen: string[] = [];
  let at = t('2026-10-24T22:30:00Z');
  for (let i = 0; i < 4; i++) {
    at = nextOccurrence(spec, at)!;
    seen.push(iso(at)!);
  }
  // 00:00 CEST, 01:00 CEST, 02:00 CEST (00:00Z), then 03:00 CET (02:00Z).
  assert.deepEqual(seen, ['2026-10-24T23:00:00.000Z', '2026-10-25T00:00:00.000Z', '2026-10-25T02:00:00.000Z', '2026-10-25T03:00:00.000Z']);
});

test('overlapping occurrences merge: every 3 s for 1.5 s is on/off, every 1 s for 1.5 s never closes', () => {
  const gappy = { cron: '*/3 * * * * *', timezone: 'UTC', forMs: 1500 };
  const base = t('2026-05-01T00:00:00Z');
  assert.equal(windowAt(gappy, base + 1499).active, true);
  assert.deepEqual(windowAt(gappy, base + 1500), { active: false, nextStart: new Date(base + 3000) });
  const dense = { cron: '* * * * * *', timezone: 'UTC', forMs: 1500 };
  for (let ms = 0; ms < 5000; ms += 250) {
    const w = windowAt(dense, base + ms);
    assert.equal(w.active, true);
    if (w.active) assert.ok(w.end.getTime() > base + ms && w.end.getTime() <= base + ms + 1500);
  }
});

test('lastOccurrence finds the latest occurrence by bisection, even in a long window', () => {
  const spec = { cron: '*/7 * * * * *', timezone: 'UTC' };
  const now = t('2026-05-01T10:00:05.500Z');
  // */7 seconds: 0,7,...,56 → last one at or before 10:00:05.5 is 10:00:00.
  assert.equal(iso(lastOccurrence(spec, now, now - 6 * 3_600_000)), '2026-05-01T10:00:00.000Z');
  assert.equal(lastOccurrence(spec, now, now - 5000), undefined);
});

test('bad specs are rejected with a message that names the problem', () => {
  assert.throws(() => validateWindowSpec({ cron: '61 * * * *', forMs: 1000 }), /invalid cron expression "61 \* \* \* \*"/);
  assert.throws(
    () => validateWindowSpec({ cron: '0 3 * * *', timezone: 'Mars/Olympus', forMs: 1000 }),
    /unknown time zone "Mars\/Olympus"/,
  );
  assert.throws(() => validateWindowSpec({ cron: '0 3 * * *', forMs: 0 }), /duration must be positive/);
  assert.doesNotThrow(() => validateWindowSpec({ cron: '0 3 * * 0', timezone: 'Europe/Berlin', forMs: 1800_000 }));
});
