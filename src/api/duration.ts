// The API's and the CLI's `for` of force-backup: read by the config's duration parser
// (src/config/duration.ts owns the grammar and the bounds), as a JSON number of
// milliseconds or as text.
import { MAX_DURATION_MS, parseDurationArgument, type DurationRange } from '../config/duration.js';

/** How long `force-backup` may hold an instance in BACKUP. */
export const FORCE_BACKUP_RANGE: DurationRange = { minMs: 1, maxMs: MAX_DURATION_MS };

/** Milliseconds for a force-backup duration; throws an Error naming the allowed range. */
export function parseDuration(value: string | number): number {
  return parseDurationArgument(value, FORCE_BACKUP_RANGE);
}
