// Hand-written HTTP responses for the http check's wire tests, run inside the
// "server" namespace: each port answers any request with fixed bytes, sent in the
// pieces given (a pause between them, so they arrive as separate segments).
//   node wire-server.js ADDRESS
//   9001 chunked body, the status line itself split across segments
//   9002 "100 Continue", then 201 with a Content-Length body
//   9003 Content-Length 100, 7 bytes of body, then the close
//   9004 an SSH banner (not HTTP), connection kept open
//   9005 20 KiB of headers
//   9006 closes without answering
//   9007 accepts and never answers (a TLS check hangs in its handshake)
// Prints "ready" when every port listens.
import { createServer, type Socket } from 'node:net';

const [address] = process.argv.slice(2) as [string];
const filler = `x-filler: ${'f'.repeat(20 * 1024)}\r\n`;
const answers = new Map<number, { pieces: string[]; close: boolean }>([
  [
    9001,
    {
      pieces: ['HTT', 'P/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n', '\r\n7\r\nchunked', '\r\n6;x=y\r\n body!\r\n0\r\n\r\n'],
      close: true,
    },
  ],
  [9002, { pieces: ['HTTP/1.1 100 Continue\r\n\r\n', 'HTTP/1.1 201 Created\r\nContent-Length: 5\r\n\r\nmade!'], close: true }],
  [9003, { pieces: ['HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n', 'partial'], close: true }],
  [9004, { pieces: ['SSH-2.0-OpenSSH_9.2\r\n'], close: false }],
  [9005, { pieces: [`HTTP/1.1 200 OK\r\n${filler}Content-Length: 2\r\n\r\nok`], close: true }],
  [9006, { pieces: [], close: true }],
]);
const open = new Set<Socket>();

async function answer(socket: Socket, pieces: readonly string[], close: boolean): Promise<void> {
  for (const piece of pieces) {
    if (socket.destroyed) return;
    socket.write(piece);
    await new Promise((r) => setTimeout(r, 30));
  }
  if (close) socket.end();
}

const servers = [...answers].map(([port, { pieces, close }]) => {
  const server = createServer((socket) => {
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    socket.on('error', () => {});
    socket.once('data', () => void answer(socket, pieces, close));
  });
  return [port, server] as const;
});
const hang = createServer((socket) => {
  open.add(socket);
  socket.on('error', () => {});
});
await Promise.all(
  [...servers, [9007, hang] as const].map(
    ([port, server]) =>
      new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, address, () => resolve());
      }),
  ),
);
process.stdout.write('ready\n');
