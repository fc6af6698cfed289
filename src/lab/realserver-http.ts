// A lab real server: HTTP on :80 answering "hello from NAME (ADDRESS)", run inside
// the real server's namespace (ip netns exec rs1 node realserver-http.js --name rs1).
// Each response also says how many requests this TCP connection has carried, so
// the client can tell a connection that survived a failover from a new one.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { monoMs } from './mono.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const name = arg('name', 'rs');
const address = arg('address', '');
const port = Number(arg('port', '80'));
const perConnection = new WeakMap<Socket, number>();

const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  const count = (perConnection.get(req.socket) ?? 0) + 1;
  perConnection.set(req.socket, count);
  const body = `hello from ${name}${address ? ` (${address})` : ''}\n`;
  res.writeHead(200, {
    'content-type': 'text/plain',
    'content-length': Buffer.byteLength(body),
    'x-real-server': name,
    'x-connection-requests': String(count),
  });
  res.end(body);
});
// A connection idle through a failover (seconds of TCP retransmits) must stay open.
server.keepAliveTimeout = 120_000;
server.headersTimeout = 125_000;
server.requestTimeout = 0;
server.on('error', (err) => {
  process.stdout.write(`${JSON.stringify({ kind: 'error', t: monoMs(), error: err.message })}\n`);
  process.exit(1);
});
server.listen(port, '0.0.0.0', () => process.stdout.write(`${JSON.stringify({ kind: 'ready', t: monoMs() })}\n`));
const stop = (): void => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 500).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
