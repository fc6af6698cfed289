// What an http/https check's options imply, worked out once per options object (the
// monitor parses a check's options once and passes the same object on every run),
// and the verdict on a status and a body. Shared by the fresh-connection probe
// (http-fresh.ts) and the opt-in kept-alive one (http-keepalive.ts), so both judge
// a response the same way.
import { createHash, type Hash } from 'node:crypto';
import { clip } from '../../src/health/check-helpers.js';
import type { ProbeOptions } from './http-probe.js';

type StatusRange = readonly [number, number];

export interface Plan {
  ranges: StatusRange[];
  statusText: string;
  needBody: boolean;
  bodyPattern?: RegExp;
}
const plans = new WeakMap<object, Plan>();

/** The hash a `digest` of this many hex digits names: MD5 is keepalived's (genhash), SHA-256 the stronger choice. */
export function digestAlgorithm(hex: string): 'md5' | 'sha256' {
  return hex.length === 32 ? 'md5' : 'sha256';
}

export function planFor(o: ProbeOptions): Plan {
  let plan = plans.get(o);
  if (!plan) {
    const entries = Array.isArray(o.expect_status) ? o.expect_status : [o.expect_status];
    plan = {
      ranges: entries.map((e): StatusRange => {
        if (typeof e === 'number') return [e, e];
        const [lo, hi] = e.split('-').map(Number) as [number, number | undefined];
        return [lo, hi ?? lo];
      }),
      statusText: entries.join(','),
      needBody: o.expect_body !== undefined || o.digest !== undefined,
      ...(o.expect_body !== undefined ? { bodyPattern: new RegExp(o.expect_body) } : {}),
    };
    plans.set(o, plan);
  }
  return plan;
}

export function statusExpected(plan: Plan, status: number): boolean {
  for (const [lo, hi] of plan.ranges) if (status >= lo && status <= hi) return true;
  return false;
}

// "status 200" for every run would be a new string each time.
const statusReasons: string[] = [];
export function statusReason(status: number): string {
  return (statusReasons[status] ??= `status ${status}`);
}

/** The body as far as a check reads it: the first max_body_bytes kept (for expect_body) and hashed (for digest). */
export class BodyCollector {
  private size = 0;
  private cut = false;
  private readonly parts: Buffer[] | undefined;
  private readonly hash: Hash | undefined;

  constructor(
    private readonly o: ProbeOptions,
    private readonly plan: Plan,
  ) {
    if (plan.bodyPattern) this.parts = [];
    if (o.digest) this.hash = createHash(digestAlgorithm(o.digest));
  }

  /** Takes chunk[start, end) (copied: the chunk may be reused); true once the body is longer than max_body_bytes. */
  add(chunk: Buffer, start: number, end: number): boolean {
    if (this.cut) return true;
    const room = this.o.max_body_bytes - this.size;
    const take = Math.min(room, end - start);
    if (take > 0) {
      if (this.parts) this.parts.push(Buffer.from(chunk.subarray(start, start + take)));
      this.hash?.update(chunk.subarray(start, start + take));
    }
    this.size += end - start;
    if (end - start > room) this.cut = true;
    return this.cut;
  }

  /** Why the body read so far fails the check, or '' when it passes. */
  problem(): string {
    const o = this.o;
    if (o.digest) {
      if (this.cut) return `body longer than max_body_bytes ${o.max_body_bytes}, cannot check digest`;
      const got = this.hash!.digest('hex');
      if (got !== o.digest.toLowerCase()) {
        const want = o.digest.slice(0, 12).toLowerCase();
        return `body ${digestAlgorithm(o.digest)} ${got.slice(0, 12)}… differs from digest ${want}…`;
      }
    }
    if (this.plan.bodyPattern) {
      const body = Buffer.concat(this.parts!).toString('utf8');
      if (!this.plan.bodyPattern.test(body)) return `body ${JSON.stringify(clip(body, 60))} does not match /${o.expect_body}/`;
    }
    return '';
  }
}
