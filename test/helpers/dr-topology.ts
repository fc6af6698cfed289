// The seed's LVS-DR lab as a test fixture, inside the (UML) kernel the test runs
// in: one bridge; namespaces client (10.6.2.10), director (10.6.2.190 + the VIP
// 10.6.2.195/32) and real servers rs1.. (10.6.2.191..), each with the VIP on lo,
// arp_ignore=1 / arp_announce=2, and a TCP echo server that names itself. Every
// address exists only inside these namespaces. The director's IPVS table is left
// to the test (open an IpvsClient with { netns: topology.director.path }).
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { Netns } from './netns.js';
import { run } from './shell.js';

export const DR_VIP = '10.6.2.195';
export const DR_CLIENT = '10.6.2.10';
export const DR_DIRECTOR = '10.6.2.190';
export const realServerAddress = (i: number): string => `10.6.2.${191 + i}`;

/** Each line received comes back as "NAME: line". */
const ECHO_SERVER = `
const name = process.argv[1], port = Number(process.argv[2]);
require('net').createServer((s) => {
  s.setNoDelay(true);
  let buf = '';
  s.on('data', (d) => { buf += d; let i; while ((i = buf.indexOf('\\n')) >= 0) { s.write(name + ': ' + buf.slice(0, i) + '\\n'); buf = buf.slice(i + 1); } });
  s.on('error', () => {});
}).listen(port, () => console.log('listening'));
`;

/** Connects once, then relays stdin lines to the socket and socket lines to stdout. */
const LINE_CLIENT = `
const s = require('net').connect({ host: process.argv[1], port: Number(process.argv[2]) }, () => console.log('connected'));
s.setNoDelay(true);
s.on('data', (d) => process.stdout.write(d));
s.on('error', (e) => { console.log('error ' + e.code); process.exit(1); });
s.on('close', () => { console.log('closed'); process.exit(0); });
process.stdin.on('data', (d) => s.write(d));
`;

export interface DrTopology {
  client: Netns;
  director: Netns;
  realServers: { name: string; address: string; ns: Netns }[];
  /** Opens a long-lived TCP connection from the client namespace to VIP:port. */
  connect(port: number): Promise<LineConnection>;
  close(): void;
}

export interface LineConnection {
  /** Sends one line and resolves with the reply line, e.g. "rs1: ping". */
  ask(line: string, timeoutMs?: number): Promise<string>;
  close(): void;
}

function waitForLine(child: ChildProcess, predicate: (line: string) => boolean, what: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const timer = setTimeout(() => {
      lines.close();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
    }, timeoutMs);
    lines.on('line', (line) => {
      if (!predicate(line)) return;
      clearTimeout(timer);
      lines.close();
      resolve(line);
    });
  });
}

export async function createDrTopology(options: { tag: string; realServers?: number; port: number }): Promise<DrTopology> {
  const count = options.realServers ?? 2;
  const short = `${process.pid % 10000}${Math.floor(Math.random() * 36 ** 2).toString(36)}`;
  const bridge = `drbr${short}`.slice(0, 15);
  const namespaces: Netns[] = [];
  const processes: ChildProcess[] = [];
  const close = (): void => {
    for (const p of processes) if (p.exitCode === null) p.kill('SIGKILL');
    for (const ns of namespaces) ns.delete();
    try {
      run('ip', ['link', 'delete', bridge]);
    } catch {
      /* already gone */
    }
  };
  try {
    run('ip', ['link', 'add', bridge, 'type', 'bridge']);
    run('ip', ['link', 'set', bridge, 'up']);
    const attach = (role: string, index: number): Netns => {
      const ns = Netns.create(`${options.tag}-${role}`);
      namespaces.push(ns);
      const hostEnd = `dr${short}${index}`.slice(0, 15);
      run('ip', ['link', 'add', hostEnd, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns.name]);
      run('ip', ['link', 'set', hostEnd, 'master', bridge, 'up']);
      ns.ip('link', 'set', 'eth0', 'up');
      return ns;
    };
    const client = attach('cl', 0);
    client.ip('addr', 'add', `${DR_CLIENT}/24`, 'dev', 'eth0');
    const director = attach('dir', 1);
    director.ip('addr', 'add', `${DR_DIRECTOR}/24`, 'dev', 'eth0');
    director.ip('addr', 'add', `${DR_VIP}/32`, 'dev', 'eth0');
    const realServers = [];
    for (let i = 0; i < count; i++) {
      const name = `rs${i + 1}`;
      const ns = attach(name, i + 2);
      const address = realServerAddress(i);
      ns.ip('addr', 'add', `${address}/24`, 'dev', 'eth0');
      ns.ip('addr', 'add', `${DR_VIP}/32`, 'dev', 'lo');
      for (const conf of ['all', 'lo', 'eth0']) {
        ns.exec('sysctl', ['-qw', `net.ipv4.conf.${conf}.arp_ignore=1`, `net.ipv4.conf.${conf}.arp_announce=2`]);
      }
      const server = ns.spawn('node', ['-e', ECHO_SERVER, name, String(options.port)]);
      processes.push(server);
      await waitForLine(server, (l) => l === 'listening', `${name}'s echo server`, 60_000);
      realServers.push({ name, address, ns });
    }
    return {
      client,
      director,
      realServers,
      close,
      async connect(port: number): Promise<LineConnection> {
        const child = spawn('ip', ['netns', 'exec', client.name, 'node', '-e', LINE_CLIENT, DR_VIP, String(port)], {
          stdio: ['pipe', 'pipe', 'pipe'],
        });
        processes.push(child);
        await waitForLine(child, (l) => l === 'connected' || l.startsWith('error'), 'the client connection', 60_000).then((l) => {
          if (l !== 'connected') throw new Error(`client could not connect to ${DR_VIP}:${port}: ${l}`);
        });
        return {
          ask(line: string, timeoutMs = 5000): Promise<string> {
            const reply = waitForLine(
              child,
              (l) => l.endsWith(`: ${line}`) || l === 'closed' || l.startsWith('error'),
              `the answer to "${line}"`,
              timeoutMs,
            );
            child.stdin.write(`${line}\n`);
            return reply;
          },
          close(): void {
            child.stdin.end();
            if (child.exitCode === null) child.kill('SIGTERM');
          },
        };
      },
    };
  } catch (err) {
    close();
    throw err;
  }
}
