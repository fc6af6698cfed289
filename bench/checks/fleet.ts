// The bench's real servers: one HTTP server on port 8080 of each of N loopback
// addresses 127.20.x.y (all of 127/8 is local, no address to add).
//   node fleet.js N [CERT KEY]   (with CERT and KEY: HTTPS instead of HTTP)
// stdin: {"cmd":"stop","ids":[...]}   close those listeners (then: connection refused)
//        {"cmd":"start","ids":[...]}  listen again on stopped ones
//        {"cmd":"freeze","ids":[...]} accept but never answer (then: timeouts)
// stdout: "ready", then {"done":cmd,"at":epochMs} after each command, taken right
// after the change is in place (performance.timeOrigin + now(), comparable across processes).
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createInterface } from 'node:readline';
import { fleetAddress } from './addresses.js';

const count = Number(process.argv[2] ?? 10_000);
const [certFile, keyFile] = process.argv.slice(3);
const tlsFiles = certFile && keyFile ? { cert: readFileSync(certFile), key: readFileSync(keyFile) } : undefined;
const createServer = (listener: RequestListener): Server => (tlsFiles ? createHttpsServer(tlsFiles, listener) : createHttpServer(listener));
const servers: Server[] = [];
const frozen = new Set<number>();
const now = (): number => performance.timeOrigin + performance.now();

for (let i = 0; i < count; i++) {
  const server = createServer((_req, res) => {
    if (frozen.has(i)) return; // hang: keep the socket, never answer
    res.end('ok\n');
  });
  // Longer than the bench's check interval, so an opt-in keepalive check finds its
  // connection still open; checks without keep-alive ask for the close themselves.
  server.keepAliveTimeout = 5000;
  servers.push(server);
}
let listening = 0;
await new Promise<void>((resolve, reject) => {
  servers.forEach((server, i) => {
    server.once('error', reject);
    server.listen({ port: 8080, host: fleetAddress(i), backlog: 64 }, () => {
      if (++listening === count) resolve();
    });
  });
});
process.stdout.write('ready\n');

for await (const line of createInterface({ input: process.stdin })) {
  const msg = JSON.parse(line) as { cmd: 'stop' | 'start' | 'freeze'; ids: number[] };
  if (msg.cmd === 'stop') {
    for (const i of msg.ids) {
      servers[i]!.close();
      servers[i]!.closeAllConnections();
    }
  } else if (msg.cmd === 'start') {
    // A listener that cannot come back ends the fleet: its client sees it exit.
    await Promise.all(
      msg.ids.map(
        (i) =>
          new Promise<void>((resolve, reject) => {
            servers[i]!.once('error', reject);
            servers[i]!.listen({ port: 8080, host: fleetAddress(i), backlog: 64 }, () => {
              servers[i]!.off('error', reject);
              resolve();
            });
          }),
      ),
    );
  } else if (msg.cmd === 'freeze') {
    for (const i of msg.ids) frozen.add(i);
  }
  process.stdout.write(`${JSON.stringify({ done: msg.cmd, at: now() })}\n`);
}
process.exit(0);
