import { Client } from 'undici';
import type { ListenAddress } from './listen.js';
import type { StatusSnapshot } from './status-types.js';

/** Talks to a running agent over its Unix socket or a loopback address. */
export class ApiClient {
  private readonly client: Client;

  constructor(
    readonly address: ListenAddress,
    private readonly timeoutMs = 5000,
  ) {
    this.client =
      address.kind === 'unix'
        ? new Client('http://localhost', { socketPath: address.path })
        : new Client(`http://${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`);
  }

  status(): Promise<StatusSnapshot> {
    return this.call('GET', '/status') as Promise<StatusSnapshot>;
  }

  async metrics(): Promise<string> {
    const res = await this.client.request({ method: 'GET', path: '/metrics', headersTimeout: this.timeoutMs, bodyTimeout: this.timeoutMs });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`GET /metrics: HTTP ${res.statusCode}: ${text.trim()}`);
    return text;
  }

  admin(
    action: 'drain' | 'undrain' | 'maintenance' | 'force-backup' | 'release' | 'resign' | 'audit',
    body: Record<string, unknown>,
  ): Promise<Record<string, unknown>> {
    return this.call('POST', `/admin/${action}`, body) as Promise<Record<string, unknown>>;
  }

  close(): Promise<void> {
    return this.client.close();
  }

  private async call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
    const res = await this.client.request({
      method,
      path,
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
      ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}),
    });
    const text = await res.body.text();
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new Error(`${method} ${path}: HTTP ${res.statusCode}, not JSON: ${text.slice(0, 200)}`);
    }
    if (res.statusCode !== 200) {
      const message = (value as { error?: string }).error ?? text;
      throw new Error(`${method} ${path}: ${message} (HTTP ${res.statusCode})`);
    }
    return value;
  }
}
