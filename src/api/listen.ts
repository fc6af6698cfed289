import { isIP } from 'node:net';

export type ListenAddress = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

/** "/run/failoverd/failoverd.sock" → unix; "127.0.0.1:9595", "[::1]:9595", ":9595" → tcp. */
export function parseListenAddress(text: string): ListenAddress {
  if (text.startsWith('/') || text.startsWith('./') || text.startsWith('unix:')) {
    return { kind: 'unix', path: text.startsWith('unix:') ? text.slice(5) : text };
  }
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text);
  if (!m) throw new Error(`invalid listen address "${text}" (use /path/to.sock, HOST:PORT or [IPv6]:PORT)`);
  const host = m[1] ?? (m[2] || '0.0.0.0');
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`invalid port in "${text}"`);
  if (host !== 'localhost' && !isIP(host)) throw new Error(`invalid listen host "${host}" in "${text}" (an IP address)`);
  return { kind: 'tcp', host, port };
}

/** The two kinds of listener the `api:` section configures. */
export type ListenerRole = 'status' | 'metrics';

/**
 * Why `text` cannot be the address of that listener, or undefined when it can. The status
 * listener (`api.listen`) is an absolute Unix socket path or a loopback HOST:PORT (any
 * local user reaches a loopback port, never a remote one); the metrics listener is any
 * HOST:PORT. The answer never repeats the text (config errors must not echo values).
 */
export function listenProblem(text: string, role: ListenerRole): string | undefined {
  let address: ListenAddress;
  try {
    address = parseListenAddress(text);
  } catch {
    return role === 'status'
      ? 'expected an absolute socket path or a loopback HOST:PORT like 127.0.0.1:9596'
      : 'expected HOST:PORT like 127.0.0.1:9595 or [::1]:9595';
  }
  if (role === 'metrics') {
    return address.kind === 'tcp' ? undefined : 'expected HOST:PORT like 127.0.0.1:9595 or [::1]:9595';
  }
  if (address.kind === 'unix') return address.path.startsWith('/') ? undefined : 'expected an absolute socket path';
  if (!isLoopback(address.host)) return 'a TCP status listener must be on a loopback address (127.0.0.1 or ::1)';
  return undefined;
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

export function formatListenAddress(a: ListenAddress): string {
  return a.kind === 'unix' ? a.path : `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
}
