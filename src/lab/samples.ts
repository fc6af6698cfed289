// What the lab's client processes emit, one JSON object per line on stdout.

/** One request of the client's loop, or one exchange on the long-lived connection. */
export interface RequestSample {
  kind: 'request' | 'long';
  seq: number;
  /** Monotonic ms (see mono.ts) when the request was sent and when it ended. */
  sent: number;
  done: number;
  ok: boolean;
  /** The real server that answered ("rs1"), from the response body. */
  who?: string;
  /** Why it failed: "timeout", "ECONNREFUSED", "ECONNRESET", "HTTP 503", ... */
  error?: string;
  /** The client's local TCP port (which connection carried it). */
  localPort?: number | undefined;
  /** On the long connection: how many requests the server has seen on this same connection. */
  connectionRequests?: number;
}

/** Lifecycle lines of a client process (not requests). */
export interface ClientNotice {
  kind: 'ready' | 'connected' | 'closed' | 'exit';
  t: number;
  localPort?: number;
  error?: string;
}

export type ClientLine = RequestSample | ClientNotice;

export function isSample(line: ClientLine): line is RequestSample {
  return line.kind === 'request' || line.kind === 'long';
}

/** Parses one stdout line of a client process; undefined for anything else. */
export function parseClientLine(text: string): ClientLine | undefined {
  if (!text.startsWith('{')) return undefined;
  try {
    const value = JSON.parse(text) as { kind?: unknown };
    return typeof value.kind === 'string' ? (value as ClientLine) : undefined;
  } catch {
    return undefined;
  }
}

/** "hello from rs1 (10.6.2.191)" → "rs1". */
export function whoFromBody(body: string): string | undefined {
  return /hello from (\S+)/.exec(body)?.[1];
}
