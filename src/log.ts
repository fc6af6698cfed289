import { pino, type Logger } from 'pino';

export type { Logger };

export interface LogOptions {
  level?: string;
  /** Human-readable output; defaults to on when stderr is a TTY. */
  pretty?: boolean;
}

/** pino JSON to stderr by default; pretty-printed on a TTY or when asked. */
export function createLogger(options: LogOptions = {}): Logger {
  const level = options.level ?? process.env.FAILOVERD_LOG_LEVEL ?? 'info';
  const pretty = options.pretty ?? Boolean(process.stderr.isTTY);
  if (pretty) {
    return pino({ level, transport: { target: 'pino-pretty', options: { destination: 2, translateTime: 'SYS:HH:MM:ss.l' } } });
  }
  return pino({ level, base: { pid: process.pid } }, pino.destination({ fd: 2, sync: false }));
}

/** A logger that drops everything, for unit tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
