// Real servers for the check tests, run inside the "server" namespace:
//   node fixture-server.js ADDRESS CERT KEY [ADDRESS6]
// Ports on ADDRESS (8001 on ADDRESS6 too):
//   8001 HTTP 200 "hello from fixture" (body becomes "broken" after "flip"); echoes
//        Host as x-seen-host and the peer address in the body; /big = 1 MiB body;
//        /redirect = 302; counts connections
//   8002 HTTP 500
//   8003 accepts TCP connections and never answers (hangs)
//   8004 HTTP 200, closed for good by "stop 8004" (then: connection refused)
//   8005 TCP: answers "+PONG\r\n" to "PING"
//   8443 HTTPS 200 with the self-signed certificate
// stdin commands: "flip", "stop PORT", "conns" (prints {"total":N,"open":M} for 8001).
// Prints "ready" when every port listens.
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTcpServer, type Socket } from 'node:net';
import { createInterface } from 'node:readline';

const [address, certFile, keyFile, address6] = process.argv.slice(2) as [string, string, string, string | undefined];
let body = 'hello from fixture';
let total = 0;
let open = 0;
const hung: Socket[] = [];

const main = createHttpServer(answerMain);
function answerMain(req: IncomingMessage, res: ServerResponse): void {
  if (req.url === '/big') {
    res.end(Buffer.alloc(1 << 20, 'a'));
    return;
  }
  if (req.url === '/redirect') {
    res.writeHead(302, { location: '/elsewhere' }).end();
    return;
  }
  res.setHeader('x-seen-host', req.headers.host ?? '');
  res.end(`${body} host=${req.headers.host} peer=${req.socket.remoteAddress} probe=${String(req.headers['x-probe'] ?? '')}`);
}
main.on('connection', (s: Socket) => {
  total++;
  open++;
  s.on('close', () => open--);
});

const servers = new Map<number, Server | ReturnType<typeof createTcpServer>>([
  [8001, main],
  [
    8002,
    createHttpServer((_req, res) => {
      res.statusCode = 500;
      res.end('internal error');
    }),
  ],
  [
    8003,
    createTcpServer((s) => {
      hung.push(s);
      s.on('error', () => {});
    }),
  ],
  [8004, createHttpServer((_req, res) => res.end('ok'))],
  [
    8005,
    createTcpServer((s) => {
      s.on('error', () => {});
      s.on('data', (d) => {
        if (d.toString().includes('PING')) s.write('+PONG\r\n');
      });
    }),
  ],
  [8443, createHttpsServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) }, (_req, res) => res.end('secure hello'))],
]);

const listening = [...servers].map(([port, server]) => [port, server, address] as const);
if (address6) listening.push([8001, createHttpServer(answerMain), address6]);
await Promise.all(
  listening.map(
    ([port, server, at]) =>
      new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, at, () => resolve());
      }),
  ),
);
process.stdout.write('ready\n');

for await (const line of createInterface({ input: process.stdin })) {
  const [cmd, arg] = line.trim().split(/\s+/);
  if (cmd === 'flip') {
    body = 'broken';
    process.stdout.write('flipped\n');
  } else if (cmd === 'stop') {
    const server = servers.get(Number(arg));
    server?.close();
    (server as Server | undefined)?.closeAllConnections?.();
    process.stdout.write(`stopped ${arg}\n`);
  } else if (cmd === 'conns') {
    process.stdout.write(`${JSON.stringify({ total, open })}\n`);
  }
}
process.exit(0);
