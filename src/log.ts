import { createRequire } from 'node:module';
import { pino, type Logger } from 'pino';
import type { build as prettyStream } from 'pino-pretty';
import { FdLogWriter } from './fd-log-writer.js';

export type { Logger };

export interface LogOptions {
  level?: string;
  /** Human-readable output; defaults to on when stderr is a TTY. */
  pretty?: boolean;
}

/** pino JSON to stderr by default (FdLogWriter: never through the thread pool); pretty-printed on a TTY or when asked. */
export function createLogger(options: LogOptions = {}): Logger {
  const level = options.level ?? process.env.FAILOVERD_LOG_LEVEL ?? 'info';
  const pretty = options.pretty ?? Boolean(process.stderr.isTTY);
  if (pretty) {
    // A stream on this thread, loaded only here: a pino transport would start a worker
    // thread for it and find that worker's file by path, which the bundle moves.
    const pretty = (createRequire(import.meta.url)('pino-pretty') as { build: typeof prettyStream }).build;
    return pino({ level }, pretty({ destination: 2, translateTime: 'SYS:HH:MM:ss.l' }));
  }
  // Node's stderr stream, once made, leaves a pipe or socket on fd 2 non-blocking: what
  // FdLogWriter needs so that a full one is EAGAIN rather than a wait.
  void process.stderr;
  const writer = new FdLogWriter(2);
  process.once('exit', () => writer.flushSync());
  return pino({ level, base: { pid: process.pid } }, writer);
}

/** A logger that drops everything, for unit tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
