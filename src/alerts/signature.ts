import { createHmac, timingSafeEqual } from 'node:crypto';

// Receivers verify deliveries with these two headers. The timestamp is inside the
// signed bytes, so a captured request cannot be replayed later with a fresh
// timestamp; receivers reject timestamps older than their tolerance (e.g. 5 min).
export const TIMESTAMP_HEADER = 'x-failoverd-timestamp';
export const SIGNATURE_HEADER = 'x-failoverd-signature';

/** `sha256=<hex of HMAC-SHA256(secret, timestamp + "." + body)>`. */
export function signPayload(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export interface VerifyOptions {
  /** Seconds a timestamp stays acceptable (default 300). */
  toleranceSec?: number;
  /** Receiver's current Unix time in seconds (default: now). */
  nowSec?: number;
}

/**
 * What a receiver does (exported for receivers written in TypeScript and for the docs):
 * constant-time compare, and a timestamp inside the tolerance.
 */
export function verifySignature(secret: string, timestamp: string, body: string, signature: string, options: VerifyOptions = {}): boolean {
  const ts = Number(timestamp);
  if (!/^\d+$/.test(timestamp) || !Number.isSafeInteger(ts)) return false;
  const now = options.nowSec ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - ts) > (options.toleranceSec ?? 300)) return false;
  const expected = Buffer.from(signPayload(secret, timestamp, body));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
