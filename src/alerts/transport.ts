export interface WebhookRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  /** Aborted when the dispatcher closes. */
  signal: AbortSignal;
}

/** Resolves with the HTTP status; rejects on network errors and timeouts. */
export type WebhookTransport = (req: WebhookRequest) => Promise<{ status: number }>;

/**
 * POST through undici; the whole exchange (connect, headers, body) is bounded by timeoutMs.
 * undici is imported with the first delivery: an agent without webhooks never loads it.
 */
export const undiciTransport: WebhookTransport = async (req) => {
  const { request } = await import('undici');
  const signal = AbortSignal.any([req.signal, AbortSignal.timeout(req.timeoutMs)]);
  const res = await request(req.url, {
    method: 'POST',
    headers: req.headers,
    body: req.body,
    signal,
    headersTimeout: req.timeoutMs,
    bodyTimeout: req.timeoutMs,
  });
  // Drain (bounded) so the connection can be reused; the receiver's reply is not used.
  await res.body.dump({ limit: 64 * 1024 });
  return { status: res.statusCode };
};
