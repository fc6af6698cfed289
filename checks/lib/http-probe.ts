// The http and https checks' options and the probe they run (checks/http.ts and
// checks/https.ts; this folder is not scanned for plugins). Every probe opens a
// fresh connection and closes it (http-fresh.ts): a check must prove the server
// still accepts connections, and a kept-alive socket would keep answering from a
// server that stopped accepting new ones. `keepalive: true` gives that up,
// knowingly, for the cost of very large fleets (http-keepalive.ts, loaded only then).
import { headerValueProblem, httpHeaders } from '../../src/config/http-headers.js';
import * as z from 'zod';
import type { CheckResult, CheckTarget } from '../../src/health/check.js';
import { errorText } from '../../src/health/check-helpers.js';
import { probeFresh } from './http-fresh.js';
import type * as Keepalive from './http-keepalive.js';

const validRegex = (s: string): boolean => {
  try {
    new RegExp(s);
    return true;
  } catch {
    return false;
  }
};

/** 200, "200", or a range "200-299". */
const statusEntry = z.union([
  z.number().int().min(100).max(599),
  z.string().regex(/^\d{3}(-\d{3})?$/, 'a status code like "200" or a range like "200-299"'),
]);

export const httpOptionsShape = {
  method: z
    .string()
    .regex(/^[A-Z]+$/, 'an upper-case HTTP method')
    .default('GET'),
  /** Sent as is in the request line, so no spaces or control characters (undici's rule too). */
  path: z
    .string()
    .regex(/^\/[\x21-\xff]*$/, 'a path starting with "/", without spaces or control characters (percent-encode them)')
    .default('/'),
  /** Host header; defaults to address:port. */
  host: z
    .string()
    .min(1)
    .refine((h) => !headerValueProblem(h), headerValueProblem('\n'))
    .optional(),
  headers: httpHeaders(['host']).default({}),
  /** Status codes that mean up: numbers and "200-299" ranges. keepalived: status_code. */
  expect_status: z.union([statusEntry, z.array(statusEntry).min(1)]).default(['200-299']),
  /** A regular expression the (first max_body_bytes of the) body must match. */
  expect_body: z.string().refine(validRegex, 'not a valid regular expression').optional(),
  /** Hex digest of the whole body: 32 digits = MD5 (keepalived's `digest`, `failoverd genhash`), 64 = SHA-256. */
  digest: z
    .string()
    .regex(/^([0-9a-fA-F]{32}|[0-9a-fA-F]{64})$/, '32 hex digits (MD5, as keepalived genhash prints) or 64 (SHA-256)')
    .optional(),
  connect_port: z.number().int().min(1).max(65535).optional(),
  bind_to: z.union([z.ipv4(), z.ipv6()]).optional(),
  /** Bytes of body read at most; a longer body is cut (and fails a digest check). */
  max_body_bytes: z
    .number()
    .int()
    .min(0)
    .max(16 << 20)
    .default(65536),
  /**
   * Reuse one connection between checks. Cheaper, but the check then no longer
   * proves the server accepts new connections; see docs/health.md.
   */
  keepalive: z.boolean().default(false),
};

export const tlsOptionsShape = {
  /** SNI and the name the certificate must carry; defaults to the Host header. */
  tls_server_name: z.string().min(1).optional(),
  /** Verify the server certificate (chain and name). */
  tls_verify: z.boolean().default(true),
  /** PEM file of CA certificates to trust instead of the system's. */
  ca_file: z.string().min(1).optional(),
};

export const httpOptions = z.object(httpOptionsShape).strict();
export const httpsOptions = z.object({ ...httpOptionsShape, ...tlsOptionsShape }).strict();
export type HttpCheckOptions = z.infer<typeof httpOptions>;
export type HttpsCheckOptions = z.infer<typeof httpsOptions>;
export type ProbeOptions = HttpCheckOptions & Partial<z.infer<z.ZodObject<typeof tlsOptionsShape>>>;

type KeepaliveModule = typeof Keepalive;
let keepalive: Promise<KeepaliveModule> | undefined;

/** Closes the kept-alive connections of `keepalive: true` checks (tests, shutdown); fresh-connection probes hold none. */
export async function closeHttpAgents(): Promise<void> {
  if (keepalive) await (await keepalive).closeKeepaliveClients();
}

export function probeHttp(target: CheckTarget, o: ProbeOptions, signal: AbortSignal, tls: boolean): Promise<CheckResult> {
  if (!o.keepalive) return probeFresh(target, o, signal, tls);
  keepalive ??= import('./http-keepalive.js');
  return keepalive.then(
    (m) => m.probeKeepalive(target, o, signal, tls),
    (err: unknown) => ({ ok: false, reason: `keepalive probe unavailable: ${errorText(err)}`, latencyMs: 0 }),
  );
}
