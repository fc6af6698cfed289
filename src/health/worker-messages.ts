// What crosses between WorkerHealthMonitor (main thread) and monitor-worker.ts (the
// health-check thread). Every message is structured-cloned into the main thread (read
// in its slices), so each is shaped for its cost there: nothing per check, nothing for
// what did not change, check results as columns of typed arrays, pools as JSON.
import type { MessagePort } from 'node:worker_threads';
import type { AgentEvent } from '../events.js';
import type { CheckTally } from '../metrics/check-tally.js';
import type { RealServerStatus, ServiceHead, ServiceStatus } from './monitor.js';
import type { HealthServiceConfig } from './types.js';

export interface MonitorWorkerData {
  /**
   * Where the worker posts every FromWorker message; parentPort carries only a wake-up
   * after each. The main thread reads a message off this port when its slice comes
   * (receiveMessageOnPort), so deserializing it is bulk work the turn gate can hold
   * back from a VRRP deadline: on the worker's own port it would be deserialized the
   * moment it arrived, in the turn that was about to run a takeover (docs/vrrp.md, run AI).
   */
  messages: MessagePort;
  /** pino level of the main logger: lines below it are not even formatted in the worker. */
  logLevel: string;
  /** Where the check plugins are (default: the checks/ of this build). */
  checksDirectory?: string;
  /** Pool changes within this window go in one message. */
  poolDelayMs: number;
  /** How often check tallies and last results are sent. */
  resultsIntervalMs: number;
  maxConcurrentChecks?: number;
}

/** What the worker posts on parentPort after each message: nothing to read, so its arrival costs next to nothing. */
export const WAKE_UP = 0;

export type ToWorker =
  /** `seed`: after a crash, the last status the main thread had, for the new thread to resume from. */
  { kind: 'update'; seq: number; services: readonly HealthServiceConfig[]; seed?: ServiceStatus[] } | { kind: 'stop' };

/** One entry per real server checked since the previous batch: its latest result. */
export interface LastResults {
  /** "service|address:port", the agent's key for a real server. */
  keys: string[];
  ok: Uint8Array;
  latencyMs: Float64Array;
  /** Wall time of the result, epoch milliseconds. */
  atMs: Float64Array;
  /** Index into `reasons` (few distinct texts: sent once per batch). */
  reason: Uint32Array;
  reasons: string[];
  type: Uint32Array;
  types: string[];
}

export interface CheckResultBatch {
  tallies: CheckTally[];
  last: LastResults;
  /** The worker's own V8 heap in use (its isolate is not in the main thread's heap metrics). */
  heapUsedBytes: number;
}

export interface LastResult {
  ok: boolean;
  reason: string;
  latencyMs: number;
  atMs: number;
  type: string;
}

export function forEachLastResult(last: LastResults, fn: (key: string, result: LastResult) => void): void {
  for (let i = 0; i < last.keys.length; i++) {
    fn(last.keys[i]!, {
      ok: last.ok[i] === 1,
      reason: last.reasons[last.reason[i]!]!,
      latencyMs: last.latencyMs[i]!,
      atMs: last.atMs[i]!,
      type: last.types[last.type[i]!]!,
    });
  }
}

/**
 * Folds a batch into a map of the latest result per real server, updating the
 * entries in place: they live long, and replacing 10,000 of them a second would
 * fill the main thread's old generation with garbage (major collections there
 * stall the VRRP timers).
 */
export function foldLastResults(into: Map<string, LastResult>, last: LastResults): void {
  for (let i = 0; i < last.keys.length; i++) {
    const key = last.keys[i]!;
    const entry = into.get(key);
    const ok = last.ok[i] === 1;
    const reason = last.reasons[last.reason[i]!]!;
    const type = last.types[last.type[i]!]!;
    if (!entry) {
      into.set(key, { ok, reason, latencyMs: last.latencyMs[i]!, atMs: last.atMs[i]!, type });
      continue;
    }
    entry.ok = ok;
    // The same text as before stays the string already held (an old one, not this message's copy).
    if (entry.reason !== reason) entry.reason = reason;
    if (entry.type !== type) entry.type = type;
    entry.latencyMs = last.latencyMs[i]!;
    entry.atMs = last.atMs[i]!;
  }
}

/** An event published by the worker's monitor, or a pino line it logged, in the order they happened. */
export type OutboxItem = { event: AgentEvent } | { log: string };

export interface StatusChange {
  /** The whole snapshot (after an update); otherwise only what changed. */
  full?: ServiceStatus[];
  heads?: ServiceHead[];
  realServers?: Array<{ service: string; status: RealServerStatus }>;
}

export type FromWorker =
  | { kind: 'ready' }
  /** Status first, so that a subscriber of a republished event reads the state it announces. */
  | { kind: 'changes'; status: StatusChange; items: OutboxItem[] }
  /**
   * `keys`: every service's key id in config order; `changed`: the pools that differ
   * from the last message, each a DesiredService as JSON. A string crosses as one copy,
   * and the main thread parses one service per task (in its slices): a flap that
   * changed 70 services of 100 real servers took 6–9 ms to structured-clone as objects,
   * all in one turn before any handler could slice it (docs/vrrp.md, run AH).
   */
  | { kind: 'pools'; keys: string[]; changed: string[] }
  | { kind: 'updated'; seq: number; error?: { message: string; problems?: string[] } }
  | { kind: 'results'; batch: CheckResultBatch }
  | { kind: 'stopped' };
