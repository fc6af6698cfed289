// Loopback TCP real servers for the lateness bench: server i listens on
// 127.21.x.y:7000 (all of 127/8 is local). It answers "OK\n" to whatever it is
// sent, unless frozen (accepts, never answers: checks that send/expect time out).
//   node fleet.js N
// stdin: {"cmd":"stop"|"start"|"freeze"|"thaw","ids":[...]}   stdout: "ready", then {"done":cmd} per command.
import { createServer, type Server, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { FLEET_PORT, fleetAddress } from './addresses.js';

const count = Number(process.argv[2] ?? 10_000);
const frozen = new Set<number>();
const servers: (Server | undefined)[] = new Array(count);
const sockets: Set<Socket>[] = Array.from({ length: count }, () => new Set());

function listen(i: number): Promise<void> {
  const server = createServer((s) => {
    s.on('error', () => {});
    sockets[i]!.add(s);
    s.on('close', () => sockets[i]!.delete(s));
    s.on('data', () => {
      if (!frozen.has(i)) s.end('OK\n');
    });
  });
  servers[i] = server;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: FLEET_PORT, host: fleetAddress(i), backlog: 128 }, () => resolve());
  });
}

for (let i = 0; i < count; i += 500) await Promise.all(Array.from({ length: Math.min(500, count - i) }, (_, k) => listen(i + k)));
process.stdout.write('ready\n');
for await (const line of createInterface({ input: process.stdin })) {
  const msg = JSON.parse(line) as { cmd: 'stop' | 'start' | 'freeze' | 'thaw'; ids: number[] };
  for (const i of msg.ids) {
    if (msg.cmd === 'stop' && servers[i]) {
      servers[i].close();
      for (const s of sockets[i]!) s.destroy();
      servers[i] = undefined;
    } else if (msg.cmd === 'start' && !servers[i]) {
      await listen(i).catch(() => undefined);
    } else if (msg.cmd === 'freeze') {
      frozen.add(i);
    } else if (msg.cmd === 'thaw') {
      frozen.delete(i);
    }
  }
  process.stdout.write(`${JSON.stringify({ done: msg.cmd })}\n`);
}
