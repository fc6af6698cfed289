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

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

export function formatListenAddress(a: ListenAddress): string {
  return a.kind === 'unix' ? a.path : `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
}
