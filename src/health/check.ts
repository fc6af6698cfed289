import type { z } from 'zod';

/** What a check probes: one real server of one service. */
export interface CheckTarget {
  /** Service name from the config, e.g. "web-80". */
  service: string;
  /** Real server address (IPv4 or IPv6 text form). */
  address: string;
  /** Real server port (the service port when the real server has none). */
  port: number;
}

export interface CheckResult {
  ok: boolean;
  /** Why, in a few words: "connect ECONNREFUSED", "status 500 not in [200]", "timeout after 1000ms". */
  reason: string;
  latencyMs: number;
  /** A weight the check asks for (exec checks with keepalived's misc_dynamic convention). */
  weight?: number;
}

/**
 * A health check type. One file per type in checks/; the options schema holds only
 * the type's own keys (snake_case, as in the config file); the common keys
 * (interval, timeout, rise, fall, ...) belong to the scheduler and the config.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a registry holds plugins of every options type; each run gets what its own schema parsed
export interface CheckPlugin<Options = any> {
  type: string;
  description: string;
  options: z.ZodType<Options>;
  run(target: CheckTarget, options: Options, signal: AbortSignal): Promise<CheckResult>;
}
