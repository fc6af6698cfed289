// Raw bytes to an HTTP listener, for requests no well-behaved client would send.
import { connect, type Socket } from 'node:net';
import type { ListenAddress } from '../../../src/api/listen.js';

export interface RawAnswer {
  /** Status code of the first response line, or undefined when the server closed without answering. */
  status?: number;
  text: string;
  /** How the exchange ended: the server closed, or the test gave up waiting. */
  ended: 'closed' | 'timeout';
  /** How many of the chunks were written before the end. */
  sent: number;
}

export function connectTo(address: ListenAddress): Socket {
  return address.kind === 'unix' ? connect(address.path) : connect(address.port, address.host);
}

/**
 * Sends `chunks` (with `gapMs` between them) and collects what comes back until the
 * server closes or `timeoutMs` passes. A socket error (reset) counts as closed: a server
 * that answers and closes while chunks are still being sent may have its answer lost to
 * the reset (as any HTTP server's would be).
 */
export function rawRequest(address: ListenAddress, chunks: (string | Buffer)[], timeoutMs = 2000, gapMs = 0): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = connectTo(address);
    const received: Buffer[] = [];
    let done = false;
    let i = 0;
    const finish = (ended: RawAnswer['ended']): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(received).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve({ ...(m ? { status: Number(m[1]) } : {}), text, ended, sent: i });
    };
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    socket.on('data', (d: Buffer) => received.push(d));
    socket.on('close', () => finish('closed'));
    socket.on('error', () => finish('closed'));
    socket.on('connect', () => {
      const next = (): void => {
        if (done || i >= chunks.length) return;
        socket.write(chunks[i++]!);
        if (gapMs > 0) setTimeout(next, gapMs);
        else next();
      };
      next();
    });
  });
}
