// Small pieces every check plugin needs: how long since the start, and a reason
// string for an aborted run that says what the check was waiting for.
import { inspect } from 'node:util';

/** Milliseconds since `startedAt` (a performance.now() value), to 0.01 ms. */
export function elapsedSince(startedAt: number): number {
  return Math.round((performance.now() - startedAt) * 100) / 100;
}

/** The text of an AbortSignal's reason: the scheduler aborts with "timeout after 1000ms". */
export function abortText(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason.message;
  if (typeof reason === 'string') return reason;
  return 'aborted';
}

/** An error's code and message in a few words: "ECONNREFUSED", "ETIMEDOUT". */
export function errorText(err: unknown): string {
  if (err && typeof err === 'object') {
    const e = err as { code?: unknown; message?: unknown; syscall?: unknown };
    const code = typeof e.code === 'string' ? e.code : undefined;
    // System errors repeat the syscall and address the reason already says.
    if (code && typeof e.syscall === 'string') return code;
    const message = typeof e.message === 'string' ? e.message : undefined;
    // OpenSSL's text ("80BC…:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../deps/…c:350:\n")
    // carries one useful field, the reason: keep the code and that.
    const openssl = message && /:error:[0-9A-F]+:[^:]*:[^:]*:([^:]+):/.exec(message);
    if (code && openssl) return `${code} (TLS: ${openssl[1]})`;
    if (code && message && !message.includes(code)) return `${code} ${message}`;
    return message ?? code ?? inspect(err, { breakLength: Infinity });
  }
  return String(err);
}

/** Shortens a reason so a chatty server or script cannot flood logs and events. */
export function clip(text: string, max = 160): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > max ? `${oneLine.slice(0, max - 1)}…` : oneLine;
}
