import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { waitFor as waitForCondition } from '../../helpers/wait.js';
import type { AddressInfo } from 'node:net';

export interface Received {
  headers: IncomingMessage['headers'];
  body: string;
}

/** A webhook receiver on 127.0.0.1 whose reply the test decides per request. */
export async function startReceiver(reply: (req: Received, index: number, res: ServerResponse) => void | Promise<void>) {
  const received: Received[] = [];
  let concurrent = 0;
  let maxConcurrent = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      const index = received.push(r) - 1;
      concurrent++;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      res.on('close', () => {
        concurrent--;
      });
      void reply(r, index, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    maxConcurrent: () => maxConcurrent,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function ok(res: ServerResponse, status = 200): void {
  res.writeHead(status, { 'content-type': 'text/plain' });
  res.end('ok');
}

/**
 * The (cond, what, timeoutMs) spelling that test/unit/config/alerts-config.test.ts
 * still imports (another branch owns that file); the one waitFor underneath.
 */
export function waitFor(cond: () => boolean, what: string, timeoutMs?: number): Promise<void> {
  return waitForCondition(cond, timeoutMs === undefined ? { what } : { what, timeoutMs });
}
