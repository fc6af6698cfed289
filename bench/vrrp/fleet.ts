// The real servers of the sub-second bench, in their own namespace: server i
// listens on fleetAddress(i):7000, an address of a `local` route (AnyIP), and
// closes each connection it accepts. A stopped server refuses connections.
//   node fleet.js N
// stdin: {"cmd":"stop"|"start"|"count","ids":[...]}   stdout: "ready", then
// {"done":cmd,"accepted":N} per command (N: connections accepted so far).
import { createServer, type Server } from 'node:net';
import { createInterface } from 'node:readline';

export const FLEET_PORT = 7000;
/** The block the servers' namespace routes to itself and the directors route to it. */
export const FLEET_BLOCK = '10.201.0.0/16';

/** The i-th real server: 10.201.x.y, from 10.201.0.1. */
export function fleetAddress(i: number): string {
  const n = i + 1;
  return `10.201.${(n >> 8) & 255}.${n & 255}`;
}

async function main(count: number): Promise<void> {
  const servers: (Server | undefined)[] = new Array(count);
  let accepted = 0;
  const listen = (i: number): Promise<void> => {
    const server = createServer((s) => {
      accepted++;
      s.on('error', () => {});
      s.destroy();
    });
    servers[i] = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port: FLEET_PORT, host: fleetAddress(i), backlog: 511 }, () => {
        server.off('error', reject);
        // An accept that fails under load (EMFILE, ENOBUFS) is a refused check, not the end of the fleet.
        server.on('error', (err) => process.stderr.write(`fleet: server ${i}: ${err.message}\n`));
        resolve();
      });
    });
  };
  for (let i = 0; i < count; i += 500) await Promise.all(Array.from({ length: Math.min(500, count - i) }, (_, k) => listen(i + k)));
  process.stdout.write('ready\n');
  for await (const line of createInterface({ input: process.stdin })) {
    const msg = JSON.parse(line) as { cmd: 'stop' | 'start' | 'count'; ids: number[] };
    for (const i of msg.ids) {
      if (msg.cmd === 'stop' && servers[i]) {
        servers[i].close();
        servers[i] = undefined;
      } else if (msg.cmd === 'start' && !servers[i]) {
        await listen(i).catch(() => undefined);
      }
    }
    process.stdout.write(`${JSON.stringify({ done: msg.cmd, accepted })}\n`);
  }
}

if (process.argv[1]?.endsWith('fleet.js')) await main(Number(process.argv[2] ?? 10_000));
