import { createHmac, timingSafeEqual } from 'node:crypto';

// Standard Webhooks (https://www.standardwebhooks.com): receivers verify with any of its
// libraries. The id and the timestamp are inside the signed bytes, so neither a replay
// with a fresh id (to slip past de-duplication) nor one with a fresh timestamp passes.
// The id is the event's id and stays the same on every retry of a delivery.
export const ID_HEADER = 'webhook-id';
export const TIMESTAMP_HEADER = 'webhook-timestamp';
export const SIGNATURE_HEADER = 'webhook-signature';

const SECRET_PREFIX = 'whsec_';
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * The HMAC key of a secret: `whsec_<base64>` is the specification's form (the key is the
 * decoded bytes); anything else is used as it is written (its UTF-8 bytes), which is what
 * failoverd signed with before and what `new Webhook(secret, { format: 'raw' })` expects.
 */
export function signingKey(secret: string): Buffer | undefined {
  if (!secret.startsWith(SECRET_PREFIX)) return secret ? Buffer.from(secret, 'utf8') : undefined;
  const encoded = secret.slice(SECRET_PREFIX.length);
  if (!BASE64.test(encoded) || encoded.length % 4 !== 0) return undefined;
  const key = Buffer.from(encoded, 'base64');
  return key.length > 0 ? key : undefined;
}

/** What is wrong with a secret, for the config ("" when nothing is). Never quotes the secret. */
export function secretProblem(secret: string): string {
  if (signingKey(secret)) return '';
  return secret.startsWith(SECRET_PREFIX)
    ? 'expected whsec_ followed by non-empty base64 (or a secret without the whsec_ prefix, used as written)'
    : 'expected a non-empty secret';
}

/**
 * `v1,<base64 of HMAC-SHA256(key, id + "." + timestamp + "." + body)>`, one per secret,
 * space-separated: while a key is being rotated, receivers holding either one verify.
 */
export function signPayload(secrets: readonly string[], id: string, timestamp: string, body: string): string {
  return secrets
    .map((secret) => {
      const key = signingKey(secret);
      if (!key) throw new Error('webhook secret is not usable (the config validates it)');
      return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
    })
    .join(' ');
}

export interface VerifyOptions {
  /** Seconds a timestamp stays acceptable (default 300). */
  toleranceSec?: number;
  /** Receiver's current Unix time in seconds (default: now). */
  nowSec?: number;
}

/**
 * What a receiver does, for receivers written in TypeScript: one of the space-separated
 * signatures matches (constant-time compare) and the timestamp is inside the tolerance.
 */
export function verifySignature(
  secret: string,
  id: string,
  timestamp: string,
  body: string,
  signatures: string,
  options: VerifyOptions = {},
): boolean {
  const ts = Number(timestamp);
  if (!/^\d+$/.test(timestamp) || !Number.isSafeInteger(ts)) return false;
  const now = options.nowSec ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - ts) > (options.toleranceSec ?? 300)) return false;
  if (!signingKey(secret)) return false;
  const expected = Buffer.from(signPayload([secret], id, timestamp, body));
  return signatures.split(' ').some((given) => {
    const bytes = Buffer.from(given);
    return bytes.length === expected.length && timingSafeEqual(bytes, expected);
  });
}
