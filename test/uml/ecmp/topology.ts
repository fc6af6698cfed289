// The ECMP topology inside the UML kernel: a router namespace running BIRD (BGP + BFD,
// multipath into its kernel table, L4 hashing), directors each running BIRD and the
// real failoverd in routing mode, DR real servers set up by `failoverd realserver
// setup` with a TCP echo server, and a client namespace behind the router. Every
// address lives only inside these namespaces.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Netns } from '../../helpers/netns.js';
import { run } from '../../helpers/shell.js';

export const VIP = '10.9.9.9';
export const PORT = 7000;
export const ROUTER = '10.9.1.1';
export const directorAddress = (i: number): string => `10.9.1.${11 + i}`;
export const realServerAddress = (i: number): string => `10.9.1.${21 + i}`;
// 200 ms × 5 (1 s) rather than docs/ecmp.md's 100 ms × 3: the UML kernel shares two
// cores with other tests, and a BFD session that misses 300 ms of packets under that
// load would flap every BGP session. Either is far below the BGP hold time (90 s).
const BFD = 'interface "eth0" { min rx interval 200 ms; min tx interval 200 ms; multiplier 5; };';

/** The operator's router (docs/ecmp.md): BGP from every director, BFD, ECMP into the kernel. */
export function routerBird(directors: number, log: string): string {
  const peers = Array.from(
    { length: directors },
    (_, i) => `protocol bgp d${i + 1} from directors { neighbor ${directorAddress(i)} as 65001; }`,
  ).join('\n');
  return `router id ${ROUTER};
log "${log}" all;
protocol device { scan time 10; }
protocol bfd { ${BFD} }
protocol kernel { ipv4 { import none; export all; }; merge paths on; }
template bgp directors { local ${ROUTER} as 65000; ipv4 { import all; export none; }; bfd on; graceful restart on; hold time 90; }
${peers}
`;
}

/** A director's BIRD: learns failoverd's routes from table 200 (proto 200) and announces them. */
export function directorBird(i: number, log: string): string {
  return `router id ${directorAddress(i)};
log "${log}" all;
protocol device { scan time 10; }
protocol bfd { ${BFD} }
protocol kernel failoverd { ipv4 { import where krt_source = 200; export none; }; kernel table 200; learn; scan time 10; }
protocol bgp uplink { local ${directorAddress(i)} as 65001; neighbor ${ROUTER} as 65000; ipv4 { import none; export all; next hop self; }; bfd on; graceful restart on; hold time 90; }
`;
}

const ECHO_SERVER = `
const name = process.argv[1], port = Number(process.argv[2]);
require('net').createServer((s) => {
  s.setNoDelay(true);
  let buf = '';
  s.on('data', (d) => { buf += d; let i; while ((i = buf.indexOf('\\n')) >= 0) { s.write(name + ': ' + buf.slice(0, i) + '\\n'); buf = buf.slice(i + 1); } });
  s.on('error', () => {});
}).listen(port, () => console.log('listening'));
`;

/**
 * Long-lived connections, each asking every 200 ms, and new short connections at a
 * steady rate. On "s" it prints one JSON line of counts; a reset (ECONNRESET) and any
 * other end of a long connection are counted apart.
 */
const TRAFFIC_CLIENT = `
const net = require('net');
const [vip, port, longCount, newPerSec] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3]), Number(process.argv[4])];
const long = [];
let newOk = 0, newFail = 0, newRefused = 0;
for (let i = 0; i < longCount; i++) {
  const c = { answers: 0, rs: '', reset: false, ended: false, error: '' };
  long.push(c);
  const s = net.connect({ host: vip, port });
  s.setNoDelay(true);
  let buf = '';
  s.on('data', (d) => { buf += d; let j; while ((j = buf.indexOf('\\n')) >= 0) { c.answers++; c.rs = buf.slice(0, j).split(':')[0]; buf = buf.slice(j + 1); } });
  s.on('error', (e) => { c.error = e.code || e.message; if (e.code === 'ECONNRESET') c.reset = true; });
  s.on('close', () => { c.ended = true; });
  setInterval(() => { if (!c.ended) s.write('p\\n'); }, 200);
}
if (newPerSec > 0) setInterval(() => {
  const s = net.connect({ host: vip, port });
  let done = false;
  const finish = (ok, refused) => { if (done) return; done = true; if (ok) newOk++; else { newFail++; if (refused) newRefused++; } s.destroy(); };
  s.setTimeout(3000, () => finish(false, false));
  s.on('connect', () => s.write('n\\n'));
  s.on('data', () => finish(true, false));
  s.on('error', (e) => finish(false, e.code === 'ECONNREFUSED' || e.code === 'ECONNRESET'));
}, 1000 / newPerSec);
process.stdin.on('data', () => {
  console.log(JSON.stringify({ long: long.map((c) => ({ a: c.answers, rs: c.rs, reset: c.reset, ended: c.ended, error: c.error })), newOk, newFail, newRefused }));
});
`;

export interface ConnCount {
  a: number;
  rs: string;
  reset: boolean;
  ended: boolean;
  error: string;
}
export interface TrafficStats {
  long: ConnCount[];
  newOk: number;
  newFail: number;
  newRefused: number;
}

export interface Traffic {
  stats(): Promise<TrafficStats>;
  stop(): void;
}

export function lines(child: ChildProcess, into: string[]): void {
  createInterface({ input: child.stdout! }).on('line', (l) => into.push(l));
  createInterface({ input: child.stderr! }).on('line', (l) => into.push(l));
}

export function waitLine(child: ChildProcess, predicate: (line: string) => boolean, what: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    const timer = setTimeout(() => {
      rl.close();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
    }, timeoutMs);
    rl.on('line', (line) => {
      if (!predicate(line)) return;
      clearTimeout(timer);
      rl.close();
      resolve(line);
    });
  });
}

export interface Director {
  index: number;
  name: string;
  ns: Netns;
  birdConf: string;
  birdSock: string;
  birdPid: string;
  configPath: string;
  apiSocket: string;
  maintenanceFile: string;
  agent?: { proc: ChildProcess; logs: string[]; exited: Promise<number | null> };
}

export interface EcmpTopology {
  router: Netns;
  client: Netns;
  directors: Director[];
  realServers: Netns[];
  routerSock: string;
  startBird(d: Director, restart?: boolean): void;
  startAgent(d: Director): Director['agent'];
  writeConfig(d: Director, service: string, extra?: string): void;
  /** The router's next hops for the VIP (from `ip -j route`), sorted. */
  nextHops(): string[];
  startTraffic(longCount: number, newPerSec: number): Promise<Traffic>;
  close(): void;
}

export async function createEcmpTopology(options: {
  work: string;
  cli: string;
  directors: number;
  realServers: number;
}): Promise<EcmpTopology> {
  const { work, cli } = options;
  const bridge = `ebr${process.pid % 100000}`.slice(0, 15);
  const namespaces: Netns[] = [];
  const processes: ChildProcess[] = [];
  const pidFiles: string[] = [];
  const close = (): void => {
    for (const p of processes) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    for (const f of pidFiles) {
      try {
        run('sh', ['-c', `[ -f ${f} ] && kill -9 $(cat ${f}) 2>/dev/null; true`]);
      } catch {
        /* gone */
      }
    }
    for (const ns of namespaces) ns.delete();
    try {
      run('ip', ['link', 'delete', bridge]);
    } catch {
      /* gone */
    }
  };
  let ports = 0;
  const attach = (tag: string, address: string): Netns => {
    const ns = Netns.create(`ecmp-${tag}`);
    namespaces.push(ns);
    const hostEnd = `ev${process.pid % 10000}x${ports++}`.slice(0, 15);
    run('ip', ['link', 'add', hostEnd, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns.name]);
    run('ip', ['link', 'set', hostEnd, 'master', bridge, 'up']);
    ns.ip('link', 'set', 'eth0', 'up');
    ns.ip('addr', 'add', `${address}/24`, 'dev', 'eth0');
    return ns;
  };
  try {
    run('ip', ['link', 'add', bridge, 'type', 'bridge']);
    run('ip', ['link', 'set', bridge, 'up']);
    const router = attach('rt', ROUTER);
    router.exec('sysctl', ['-qw', 'net.ipv4.ip_forward=1', 'net.ipv4.fib_multipath_hash_policy=1']);
    const client = Netns.create('ecmp-cl');
    namespaces.push(client);
    run('ip', ['link', 'add', 'rtc', 'netns', router.name, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', client.name]);
    router.ip('link', 'set', 'rtc', 'up');
    router.ip('addr', 'add', '10.9.2.1/24', 'dev', 'rtc');
    client.ip('link', 'set', 'eth0', 'up');
    client.ip('addr', 'add', '10.9.2.2/24', 'dev', 'eth0');
    client.ip('route', 'add', 'default', 'via', '10.9.2.1');

    const realServers: Netns[] = [];
    for (let i = 0; i < options.realServers; i++) {
      const ns = attach(`rs${i + 1}`, realServerAddress(i));
      ns.ip('route', 'add', 'default', 'via', ROUTER);
      ns.exec(process.execPath, [cli, 'realserver', 'setup', '--vip', VIP]);
      const server = ns.spawn(process.execPath, ['-e', ECHO_SERVER, `rs${i + 1}`, String(PORT)]);
      processes.push(server);
      await waitLine(server, (l) => l === 'listening', `rs${i + 1}'s echo server`, 20_000);
      realServers.push(ns);
    }

    const routerConf = join(work, 'router.conf');
    const routerSock = join(work, 'router.sock');
    writeFileSync(routerConf, routerBird(options.directors, join(work, 'router.log')));
    pidFiles.push(join(work, 'router.pid'));
    router.exec('bird', ['-c', routerConf, '-s', routerSock, '-P', join(work, 'router.pid')]);

    const directors: Director[] = [];
    for (let i = 0; i < options.directors; i++) {
      const name = `d${i + 1}`;
      const ns = attach(name, directorAddress(i));
      const d: Director = {
        index: i,
        name,
        ns,
        birdConf: join(work, `${name}.bird.conf`),
        birdSock: join(work, `${name}.bird.sock`),
        birdPid: join(work, `${name}.bird.pid`),
        configPath: join(work, `${name}.yaml`),
        apiSocket: join(work, `${name}.api.sock`),
        maintenanceFile: join(work, `${name}.maintenance`),
      };
      writeFileSync(d.birdConf, directorBird(i, join(work, `${name}.bird.log`)));
      pidFiles.push(d.birdPid);
      directors.push(d);
    }

    const topology: EcmpTopology = {
      router,
      client,
      directors,
      realServers,
      routerSock,
      close,
      startBird(d, restart = false) {
        d.ns.exec('bird', [...(restart ? ['-R'] : []), '-c', d.birdConf, '-s', d.birdSock, '-P', d.birdPid]);
      },
      writeConfig(d, service, extra = '') {
        writeFileSync(
          d.configPath,
          `node: { name: ${d.name} }
services:
  - name: echo
    vip: ${VIP}
    port: ${PORT}
${service}
    forwarding: dr
    check: { type: tcp, interval: 1s, timeout: 500ms, rise: 1, fall: 2 }
    real_servers:
${Array.from({ length: options.realServers }, (_, i) => `      - { address: ${realServerAddress(i)} }`).join('\n')}
routing:
  maintenance_file: ${d.maintenanceFile}
${extra}  announce:
    - { name: echo, vips: [${VIP}], converge: 10s }
api: { listen: ${d.apiSocket}, metrics: false }
health: { checks_thread: main }
logging: { format: json }
`,
        );
      },
      startAgent(d) {
        const proc = spawn('ip', ['netns', 'exec', d.ns.name, process.execPath, cli, 'run', '--config', d.configPath], {
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        processes.push(proc);
        const logs: string[] = [];
        createInterface({ input: proc.stderr }).on('line', (l) => logs.push(l));
        d.agent = { proc, logs, exited: new Promise((r) => proc.on('exit', (code) => r(code))) };
        return d.agent;
      },
      nextHops() {
        const routes = router.ipJson<Array<{ dst: string; gateway?: string; nexthops?: Array<{ gateway: string }> }>>(
          'route',
          'show',
          `${VIP}/32`,
        );
        const r = routes[0];
        if (!r) return [];
        return (r.nexthops ? r.nexthops.map((n) => n.gateway) : r.gateway ? [r.gateway] : []).sort();
      },
      async startTraffic(longCount, newPerSec) {
        const child = spawn(
          'ip',
          ['netns', 'exec', client.name, process.execPath, '-e', TRAFFIC_CLIENT, VIP, String(PORT), String(longCount), String(newPerSec)],
          { stdio: ['pipe', 'pipe', 'pipe'] },
        );
        processes.push(child);
        return {
          async stats() {
            const line = waitLine(child, (l) => l.startsWith('{'), 'traffic stats', 10_000);
            child.stdin.write('s\n');
            return JSON.parse(await line) as TrafficStats;
          },
          stop() {
            if (child.exitCode === null) child.kill('SIGKILL');
          },
        };
      },
    };
    return topology;
  } catch (err) {
    close();
    throw err;
  }
}
